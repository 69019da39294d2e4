"""DuckDB views of silver stocks_daily adjusted continuously, by security, as of the lake's end or any date.

Silver rows carry `cum_factor` F(t), fixed once written (identity.py), so the series adjusted as of T is
raw(t) * F(T) / F(t) for t <= T, F(T) being the security's F on its last session <= T:
  silver_stocks_daily_adjusted            as of the lake's end (what gold's $close holds; `factor` = gold's
                                          $factor, adj_* = raw * factor, volume / factor)
  silver_stocks_daily_as_of(DATE)         as of that date: only rows up to it, what a lake built up to it shows
  silver_security(SYMBOL)                 the whole adjusted history of the security(ies) that traded as SYMBOL
                                          (renames included), for `quantmini query`
The month-local `factor`/adj_* stored in the table are replaced in these views by the continuous ones;
Alpha158 columns are ratios and need no change.
"""

from __future__ import annotations

PRICES = ("open", "high", "low", "close", "vwap")


def _adjusted_select(cut: str | None) -> str:
    """SELECT of the silver rows (up to `cut`, an SQL date expression) adjusted as of `cut` / the end."""
    ratio = "(f._f_end / s.cum_factor)"
    replaced = ", ".join([f"s.{c} * {ratio} AS adj_{c}" for c in PRICES]
                         + [f"s.volume / {ratio} AS adj_volume", f"{ratio} AS factor"])
    where_f = where_s = ""
    if cut is not None:
        months = "({p}year < year({c}) OR ({p}year = year({c}) AND {p}month <= month({c})))"  # prunes files
        where_f = f" WHERE {months.format(p='', c=cut)} AND date <= {cut}"
        where_s = f" WHERE {months.format(p='s.', c=cut)} AND s.date <= {cut}"
    return (f"WITH f AS (SELECT security_id, arg_max(cum_factor, date) AS _f_end FROM silver_stocks_daily{where_f} "
            f"GROUP BY security_id) SELECT s.* REPLACE ({replaced}) FROM silver_stocks_daily s "
            f"JOIN f ON s.security_id = f.security_id{where_s}")


def adjusted_view_sql(views) -> list[str]:
    """CREATE statements of the adjusted views and macros (none if the lake has no silver stocks_daily
    or it predates cum_factor)."""
    if "silver_stocks_daily" not in views:
        return []
    return [
        f"CREATE OR REPLACE VIEW silver_stocks_daily_adjusted AS {_adjusted_select(None)}",
        f"CREATE OR REPLACE MACRO silver_stocks_daily_as_of(as_of) AS TABLE {_adjusted_select('as_of::DATE')}",
        "CREATE OR REPLACE MACRO silver_security(symbol) AS TABLE SELECT * FROM silver_stocks_daily_adjusted "
        "WHERE security_id IN (SELECT security_id FROM silver_stocks_daily WHERE ticker = symbol "
        "OR security_id = symbol) ORDER BY security_id, date",
    ]
