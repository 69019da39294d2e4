"""Silver fundamentals_daily: fundamentals joined point in time onto the month's daily bars.

One row per bronze stocks_daily row (ticker, date) of the month; it joins silver stocks_daily on
(ticker, date). Every value is as of what was PUBLIC at that session's close:
- a filing counts from its `acceptance_datetime` (EDGAR), never its period end nor its filing date: a
  filing accepted at or before the session's close (16:00 New York, 13:00 on half days) is usable that
  session; one accepted after the close is first usable the next session.
- short interest settled at session s is published by FINRA about seven business days later (after the
  close): it is usable from the 8th session after s (SHORT_INTEREST_LAG_SESSIONS).
- short volume of session t is the day's own (published that evening, like the bar itself).

Columns and formulas (quarterly filings only; the 10-K's annual result repeats its Q4):
    shares_outstanding = basic_average_shares of the latest usable filing (the share count as of its
                         filing date, splits up to then included) x the validated splits executed after
                         its filing date and up to t: prod(split_to / split_from)
    market_cap         = close (raw, unadjusted) x shares_outstanding — both on the same share basis
    book_equity        = balance_sheet.equity of the latest usable filing
    book_to_market     = book_equity / market_cap
    net_income_ttm     = sum of income_statement.net_income_loss over the latest four usable quarters
                         (null unless they are four consecutive quarters: the oldest ends 9 months earlier)
    earnings_yield     = net_income_ttm / market_cap
    short_interest, days_to_cover, short_interest_settlement: the latest published settlement
    short_volume, total_volume (FINRA's), short_volume_ratio (vendor's percent, short/total x 100)
    filing_accepted, period_end: which filing the row uses (for audit; filing_accepted <= the close).

Filings, splits and short interest are matched to the bars by security, not ticker: with `ticker_changes`
in data_types, a record under a ticker the security held then (acceptance day, execution date, settlement
date) is keyed by the security's latest symbol (adjust.symbol_map), so a rename carries its filings over;
without it, by ticker. Splits come from bronze splits minus those silver's event validation quarantined
(quarantine/corporate_actions); without `splits` in data_types no split adjustment is made.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from quantmini import adjust

FILINGS_LOOKBACK_MONTHS = 15  # four quarters back + the longest filing lag
SHORT_INTEREST_LOOKBACK_MONTHS = 1  # the latest published settlement is at most ~5 weeks old
SHORT_INTEREST_LAG_SESSIONS = 8  # usable from the 8th session after settlement
FIELDS = {"equity": "book_equity", "net_income_loss": "net_income", "basic_average_shares": "shares"}
OUT_SCHEMA = {
    "ticker": pl.Utf8, "date": pl.Date, "close": pl.Float64, "shares_outstanding": pl.Float64,
    "market_cap": pl.Float64, "book_equity": pl.Float64, "book_to_market": pl.Float64,
    "net_income_ttm": pl.Float64, "earnings_yield": pl.Float64, "filing_accepted": pl.Datetime("us", "UTC"),
    "period_end": pl.Date, "short_interest": pl.Int64, "days_to_cover": pl.Float64,
    "short_interest_settlement": pl.Date, "short_volume": pl.Int64, "total_volume": pl.Int64,
    "short_volume_ratio": pl.Float64,
}


def _read(files: list[Path], columns: list[str] | None = None) -> pl.DataFrame | None:
    frames = [pl.read_parquet(f, columns=columns) for f in files]
    return pl.concat(frames) if frames else None


def _assign(df: pl.DataFrame, symbols: pl.DataFrame, day: pl.Expr) -> pl.DataFrame:
    """Add `security` (the latest symbol of the security whose ticker it was on `day`; adjust.symbol_map)."""
    tmp = df.with_columns(day.alias("_sec_day"))
    return adjust.assign_security(tmp, symbols, date_col="_sec_day").drop("_sec_day")


def quarterly_filings(fin: pl.DataFrame, symbols: pl.DataFrame | None = None) -> pl.DataFrame:
    """Long bronze financials -> one row per quarterly result: security, acceptance, period, shares, equity,
    net income, and net_income_ttm (its own and the three previous quarters' of the same security)."""
    wide = (fin.filter((pl.col("timeframe") == "quarterly") & pl.col("field").is_in(list(FIELDS)))
            .group_by("ticker", "acceptance_datetime", "end_date", "filing_date")
            .agg(*[pl.col("value").filter(pl.col("field") == f).first().alias(a) for f, a in FIELDS.items()]))
    accepted_day = pl.col("acceptance_datetime").dt.convert_time_zone("America/New_York").dt.date()
    wide = _assign(wide, _symbols(symbols), accepted_day).sort("security", "acceptance_datetime", "end_date")
    four = pl.col("end_date").shift(3).over("security")
    span = (pl.col("end_date") - four).dt.total_days()
    return wide.with_columns(
        pl.when(span.is_between(260, 290))  # four consecutive quarters: the oldest ends 9 months earlier
        .then(pl.col("net_income").rolling_sum(4).over("security")).alias("net_income_ttm"))


def _symbols(symbols: pl.DataFrame | None) -> pl.DataFrame:
    return symbols if symbols is not None else adjust.symbol_map(pl.DataFrame())


def split_multipliers(splits: pl.DataFrame | None, rejected: pl.DataFrame | None,
                      symbols: pl.DataFrame | None = None) -> pl.DataFrame:
    """security, execution_date, cum: the product of split_to/split_from of the security's validated
    splits up to and including that date."""
    schema = {"security": pl.Utf8, "execution_date": pl.Date, "cum": pl.Float64}
    if splits is None or splits.is_empty():
        return pl.DataFrame(schema=schema)
    if rejected is not None and not rejected.is_empty():
        splits = splits.join(rejected.filter(pl.col("event") == "split").select("id"), on="id", how="anti")
    splits = _assign(splits.unique("id"), _symbols(symbols), pl.col("execution_date"))
    return (splits.group_by("security", "execution_date")
            .agg((pl.col("split_to") / pl.col("split_from")).product().alias("m"))
            .sort("security", "execution_date")
            .select("security", "execution_date", pl.col("m").cum_prod().over("security").alias("cum")))


def _cum_at(frame: pl.DataFrame, on: str, cums: pl.DataFrame, name: str) -> pl.DataFrame:
    """The split product as of `on` (1 before the first split)."""
    joined = frame.sort(on).join_asof(cums.rename({"execution_date": "_ex", "cum": name}).sort("_ex"),
                                      left_on=on, right_on="_ex", by="security", strategy="backward",
                                      check_sortedness=False)  # sorted above
    return joined.drop("_ex").with_columns(pl.col(name).fill_null(1.0))


def build(bars: pl.DataFrame, fin: pl.DataFrame, short_interest: pl.DataFrame, short_volume: pl.DataFrame,
          splits: pl.DataFrame | None, rejected: pl.DataFrame | None,
          sessions: list[tuple[dt.date, dt.datetime]], changes: pl.DataFrame | None = None) -> pl.DataFrame:
    """The month's fundamentals_daily rows (OUT_SCHEMA), one per bar; see the module docstring."""
    cal = pl.DataFrame({"date": [d for d, _ in sessions], "_close_utc": [c for _, c in sessions]},
                       schema={"date": pl.Date, "_close_utc": pl.Datetime("us", "UTC")}).with_row_index("_k")
    symbols = adjust.symbol_map(changes if changes is not None else pl.DataFrame())
    rows = adjust.assign_security(bars.select("ticker", "date", "close"), symbols).join(cal, on="date", how="left")
    if rows["_close_utc"].null_count():
        bad = rows.filter(pl.col("_close_utc").is_null())["date"][0]
        raise ValueError(f"bar dated {bad} is not a session of the month")
    filings = (quarterly_filings(fin, symbols).drop("ticker")
               .rename({"end_date": "period_end", "acceptance_datetime": "filing_accepted"}))
    rows = rows.sort("_close_utc").join_asof(filings.sort("filing_accepted"), left_on="_close_utc",
                                             right_on="filing_accepted", by="security", strategy="backward",
                                             check_sortedness=False)
    cums = split_multipliers(splits, rejected, symbols)
    rows = _cum_at(_cum_at(rows, "date", cums, "_cum_t"), "filing_date", cums, "_cum_f")
    shares = pl.col("shares") * pl.col("_cum_t") / pl.col("_cum_f")
    cap = pl.col("close") * pl.col("shares_outstanding")
    rows = rows.with_columns(shares.alias("shares_outstanding")).with_columns(cap.alias("market_cap"))
    rows = rows.with_columns((pl.col("book_equity") / pl.col("market_cap")).alias("book_to_market"),
                             (pl.col("net_income_ttm") / pl.col("market_cap")).alias("earnings_yield"))
    si = (_assign(short_interest, symbols, pl.col("settlement_date"))
          .join(cal.select(pl.col("date").alias("settlement_date"), "_k"), on="settlement_date")
          .with_columns((pl.col("_k") + SHORT_INTEREST_LAG_SESSIONS).alias("_k"))
          .select("security", "_k", "short_interest", "days_to_cover",
                  pl.col("settlement_date").alias("short_interest_settlement")).sort("_k"))
    rows = rows.sort("_k").join_asof(si, on="_k", by="security", strategy="backward", check_sortedness=False)
    rows = rows.join(short_volume.select("ticker", "date", "short_volume", "total_volume", "short_volume_ratio"),
                     on=["ticker", "date"], how="left")
    return rows.select(list(OUT_SCHEMA)).cast(OUT_SCHEMA).sort("ticker", "date")


def build_month(bars_file: Path, fin_files: list[Path], si_files: list[Path], sv_files: list[Path],
                split_files: list[Path], rejected_files: list[Path], sessions: list[list[str]], out: Path,
                change_files: list[Path] = ()) -> int:
    """Read the month's inputs, build, write atomically; return the row count."""
    from quantmini.parquet_io import write_parquet

    bars = pl.read_parquet(bars_file, columns=["ticker", "date", "close"])
    fin = _read(fin_files, ["ticker", "field", "value", "timeframe", "end_date", "filing_date",
                            "acceptance_datetime"])
    si = _read(si_files)
    sv = _read(sv_files)
    if fin is None or si is None or sv is None:
        raise ValueError("missing fundamentals bronze inputs (financials, short_interest, short_volume)")
    splits = _read(split_files)
    rejected = _read(rejected_files, ["event", "id"])
    days = [(dt.date.fromisoformat(d), dt.datetime.fromisoformat(c)) for d, c in sessions]
    changes = _read(list(change_files), ["composite_figi", "date", "old_ticker", "new_ticker"])
    result = build(bars, fin, si, sv, splits, rejected, days, changes.unique() if changes is not None else None)
    write_parquet(result, out)
    return result.height
