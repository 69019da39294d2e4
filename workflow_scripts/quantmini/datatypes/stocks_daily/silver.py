"""Silver stocks_daily: raw bars per security with cumulative factors and the Alpha158 features, point in time.

A month partition is a function of its own bronze month, LOOKBACK_MONTHS earlier ones (enough for the
60-session windows and the one-session Ref of Alpha158), and the validated corporate actions and renames
of every month up to it (one running file of each, `write_to_date`) — never of later months. So a closed
month never changes when later data arrives, and a feature at session t uses only bars and events up to
the end of t's month (Alpha158 features are ratios, so a split or dividend after t inside the same month
rescales the whole window and leaves them unchanged).

Rows are keyed by `security_id` (a FIGI, or an id we assign: see identity.py), which a rename does not
change; `ticker` is the symbol the bar traded under. `cum_factor` F(t) (product of the security's event
multipliers up to t over the whole lake) never changes once written: raw(t) x F(T) / F(t) is the series
adjusted as of any T, continuous across partitions (the views in quantmini/adjusted_views.py).
`factor`/adj_* are the month-local adjustment as of the partition's last session, on which the features
are computed; gold applies the lake-end factor (`gold.py`). All are checked against the simulator's truth.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import polars as pl

from quantmini import adjust
from quantmini.adjust import CHANGE_SCHEMA
from quantmini.datatypes.stocks_daily import identity
from quantmini.parquet_io import read_many, write_parquet

log = logging.getLogger("quantmini.silver")

LOOKBACK_MONTHS = 4  # >= 61 sessions before the month's first session
RAW = ["open", "high", "low", "close", "volume", "vwap"]
ADJ = ["adj_open", "adj_high", "adj_low", "adj_close", "adj_volume", "adj_vwap"]
EVENT_SCHEMA = {"ticker": pl.Utf8, "date": pl.Date, "m": pl.Float64}


def lookback_months(year: int, month: int, n: int = LOOKBACK_MONTHS) -> list[tuple[int, int]]:
    """The n months before (year, month), oldest first."""
    out = []
    y, m = year, month
    for _ in range(n):
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
        out.append((y, m))
    return out[::-1]


def month_bounds(year: int, month: int) -> tuple[dt.date, dt.date]:
    """[first day, first day of the next month)."""
    return dt.date(year, month, 1), dt.date(year + (month == 12), month % 12 + 1, 1)


def calendar_aligned(bars: pl.DataFrame, sessions: list[dt.date]) -> pl.DataFrame:
    """One row per security and session from its first to its last bar (missing sessions as nulls)."""
    cal = pl.DataFrame({"date": sessions}, schema={"date": pl.Date}).with_row_index("_k")
    spans = (bars.join(cal, on="date").group_by("security")
             .agg(pl.col("_k").min().alias("k0"), pl.col("_k").max().alias("k1")))
    grid = (spans.with_columns(pl.int_ranges("k0", pl.col("k1") + 1).alias("_k")).explode("_k")
            .join(cal, on="_k").select("security", "date"))
    return grid.join(bars, on=["security", "date"], how="left").sort("security", "date")


def adjusted_bars(bars: pl.DataFrame, events: pl.DataFrame, symbols: pl.DataFrame,
                  sessions: list[dt.date]) -> pl.DataFrame:
    """Raw bars (ticker, date, ...) -> calendar-aligned per security, with factor, adj_* and change.

    `events`: ticker (at the event date), date, m (validated multipliers, see event_validation).
    `sessions`: the XNYS sessions the bars span (passed in: jobs need not load the exchange calendar).
    """
    bars = adjust.assign_security(bars, symbols)
    dups = bars.filter(pl.struct("security", "date").is_duplicated())
    if dups.height:
        raise ValueError(f"two tickers map to one security on one session: {dups.head(3).rows()}")
    ev = adjust.assign_security(events, symbols).group_by("security", "date").agg(pl.col("m").product())
    factor_table = adjust.factors(bars, ev)
    out = adjust.apply(calendar_aligned(bars, sessions), factor_table)
    return out.with_columns(
        pl.when(pl.col("close").is_null()).then(None).otherwise(pl.col("factor")).alias("factor"),
        (pl.col("adj_close") / pl.col("adj_close").shift(1).over("security") - 1.0).alias("change"),
    )


def month_events(bars: pl.DataFrame, splits: pl.DataFrame, dividends: pl.DataFrame, year: int, month: int
                 ) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """Validate one month of vendor splits and dividends against the raw bars; return their multipliers.

    Doubtful events (duplicates, absurd ratios, splits the bars do not show, ...) are quarantined with
    their reason by `event_validation.validate_events` and never applied. Events are keyed by the ticker
    they were announced under, and judged on the bars of their month and the one before (the close
    before an ex-date may be last month's) — the same inputs whichever silver job validates them.
    """
    from quantmini.datatypes.corporate_actions import event_validation

    lo, hi = month_bounds(year, month)
    prev_lo = month_bounds(*lookback_months(year, month, 1)[0])[0]
    b = bars.filter((pl.col("date") >= prev_lo) & (pl.col("date") < hi)).with_columns(
        pl.col("ticker").alias("security"))
    s = splits.filter((pl.col("execution_date") >= lo) & (pl.col("execution_date") < hi))
    d = dividends.filter((pl.col("ex_dividend_date") >= lo) & (pl.col("ex_dividend_date") < hi))
    s = s.with_columns(pl.col("ticker").alias("security"))
    d = d.with_columns(pl.col("ticker").alias("security"))
    splits_ok, dividends_ok, quarantine, report = event_validation.validate_events(b, s, d)
    events = adjust.event_multipliers(b, splits_ok, dividends_ok).rename({"security": "ticker"})
    events = events.filter((pl.col("date") >= lo) & (pl.col("date") < hi)).select(list(EVENT_SCHEMA))
    return events, quarantine, {"partition": f"{year:04d}-{month:02d}", **report}


# typed even when every file is empty (a month whose every row was quarantined)
BRONZE_SCHEMA = {"ticker": pl.Utf8, "date": pl.Date, **{c: pl.Float64 for c in RAW}, "transactions": pl.Int64}
SPLIT_SCHEMA = {"id": pl.Utf8, "ticker": pl.Utf8, "execution_date": pl.Date, "split_from": pl.Float64,
                "split_to": pl.Float64}
DIVIDEND_SCHEMA = {"id": pl.Utf8, "ticker": pl.Utf8, "ex_dividend_date": pl.Date, "cash_amount": pl.Float64}


def validate_month(bronze_files: list[Path], split_files: list[Path], dividend_files: list[Path], year: int,
                   month: int, out_events: Path, out_quarantine: Path) -> dict:
    """Write the validated events of (year, month) and their quarantine, from bronze alone.

    Its own job (rule silver_corporate_actions), reading the month's and the previous month's bars and
    the month's vendor events, then the running files of every month's events and renames
    (`write_to_date`, chained from the previous month's job): silver months read all earlier months'
    events (for their cumulative factors) without any silver month waiting for another.
    """
    bars = read_many(bronze_files, BRONZE_SCHEMA)
    splits = read_many(split_files, SPLIT_SCHEMA)
    dividends = read_many(dividend_files, DIVIDEND_SCHEMA)
    if bars.is_empty():
        bars = pl.DataFrame(schema={"ticker": pl.Utf8, "date": pl.Date, "open": pl.Float64, "close": pl.Float64})
    events, quarantine, report = month_events(bars, splits, dividends, year, month)
    write_parquet(events, out_events)
    write_parquet(quarantine, out_quarantine)
    lo, hi = month_bounds(year, month)
    if bars.filter((pl.col("date") >= lo) & (pl.col("date") < hi)).is_empty():  # the month's report says why
        report["warning"] = (f"no bronze stocks_daily rows for {year:04d}-{month:02d} (every row quarantined "
                             "or none served): empty silver partition")
        log.warning("silver corporate_actions %04d-%02d: %s", year, month, report["warning"])
    return report


def write_to_date(previous: list[Path], month: list[Path], schema: dict, out: Path) -> int:
    """Write the rows of every month up to this one: the previous month's running file, then this month's.

    A silver month's cumulative factors need every earlier month's events and renames. Declared one file
    per earlier month, a lake of N months gave Snakemake ~N^2/2 inputs to check on every run (most of a
    full-market no-op's DAG); the running file makes it one per month. Rows keep month order, as reading
    the month files did, so silver is unchanged byte for byte.
    """
    rows = read_many([*previous, *month], schema).select(list(schema)).cast(schema)
    write_parquet(rows, out)
    return rows.height


def build_month(
    bronze_files: list[Path], event_files: list[Path], change_files: list[Path], ticker_files: list[Path],
    year: int, month: int, out: Path, out_securities: Path, *, sessions: list[dt.date], features: bool = True,
) -> dict:
    """Write the silver partition of (year, month) and its record of security ids.

    `event_files`: the validated events of every month of the lake up to this one (small; the rule passes
    the month's running file, `write_to_date`); the window's bars are adjusted with those of the window,
    `cum_factor` takes them all. `change_files`: the bronze ticker_changes of every month up to this one
    (likewise); `ticker_files`: the window's tickers snapshots (FIGIs).
    """
    bars = read_many(bronze_files, BRONZE_SCHEMA)  # may be empty: every row quarantined (see the warning below)
    lo, hi = month_bounds(year, month)
    window = lookback_months(year, month) + [(year, month)]
    first_bar = month_bounds(*window[0])[0]
    events = read_many(event_files, EVENT_SCHEMA).select(list(EVENT_SCHEMA)).filter(pl.col("date") < hi)
    changes = read_many(change_files, CHANGE_SCHEMA).select(list(CHANGE_SCHEMA)).filter(pl.col("date") < hi).unique()
    symbols = adjust.symbol_map(changes)
    bars = bars.filter(pl.col("date") >= first_bar)
    adjusted = adjusted_bars(bars, events.filter(pl.col("date") >= first_bar), symbols,
                             [d for d in sessions if d >= first_bar])
    result = adjusted.filter((pl.col("date") >= lo) & (pl.col("date") < hi) & pl.col("close").is_not_null())
    ids = identity.security_ids(result.select("security", "ticker", "date"), changes,
                                read_many(ticker_files))
    cum = identity.cumulative_factors(result.select("security", "date"),
                                      identity.event_securities(events, changes))
    result = result.join(ids.select("security", "security_id"), on="security").join(
        cum, on=["security", "date"])
    cols = ["security_id", "security", "ticker", "date", *RAW, "transactions", "cum_factor", "factor", *ADJ, "change"]
    if features:
        from quantmini.datatypes.stocks_daily import alpha158

        feats = alpha158.compute(
            adjusted.select("security", "date", *[pl.col(a).alias(r) for a, r in zip(ADJ, RAW)]),
            symbol_col="security", date_col="date",
        )
        result = result.select(cols).join(feats, on=["security", "date"], how="left")
    else:
        result = result.select(cols)
    securities = identity.securities_table(result, ids)
    result = result.drop("security")
    write_parquet(result.sort("security_id", "date"), out)
    write_parquet(securities, out_securities)
    out_report = {"partition": f"{year:04d}-{month:02d}", "rows": result.height,
                  "securities": result["security_id"].n_unique(),
                  "assigned_ids": int((securities["id_source"] == "assigned").sum())}
    if result.is_empty():  # an empty partition keeps the lake whole; the report says why it is empty
        out_report["warning"] = (f"no bronze stocks_daily rows for {year:04d}-{month:02d} (every row quarantined "
                                 "or none served): empty silver partition")
        log.warning("silver stocks_daily %04d-%02d: %s", year, month, out_report["warning"])
    return out_report
