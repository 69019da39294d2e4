"""Silver stocks_daily: raw and split/dividend-adjusted bars per security, with Alpha158 features.

A month partition is built from its own bronze month plus LOOKBACK_MONTHS earlier ones (enough for the
60-session windows and the one-session Ref of Alpha158), and from the validated event multipliers of the
whole lake (`silver/corporate_actions/multipliers.parquet`): back-adjustment needs the events after the
month too. Rows are keyed by `security` (the latest symbol of a security, so a ticker change keeps its
history) and `date`; `ticker` keeps the symbol the bar traded under.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import polars as pl

from quantmini import adjust, calendar
from quantmini.bronze import write_parquet

log = logging.getLogger("quantmini.silver")

LOOKBACK_MONTHS = 4  # >= 61 sessions before the month's first session
RAW = ["open", "high", "low", "close", "volume", "vwap"]
ADJ = ["adj_open", "adj_high", "adj_low", "adj_close", "adj_volume", "adj_vwap"]


def lookback_months(year: int, month: int, n: int = LOOKBACK_MONTHS) -> list[tuple[int, int]]:
    """The n months before (year, month), oldest first."""
    out = []
    y, m = year, month
    for _ in range(n):
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
        out.append((y, m))
    return out[::-1]


def calendar_aligned(bars: pl.DataFrame, sessions: list[dt.date]) -> pl.DataFrame:
    """One row per security and session from its first to its last bar (missing sessions as nulls)."""
    cal = pl.DataFrame({"date": sessions}, schema={"date": pl.Date}).with_row_index("_k")
    spans = (bars.join(cal, on="date").group_by("security")
             .agg(pl.col("_k").min().alias("k0"), pl.col("_k").max().alias("k1")))
    grid = (spans.with_columns(pl.int_ranges("k0", pl.col("k1") + 1).alias("_k")).explode("_k")
            .join(cal, on="_k").select("security", "date"))
    return grid.join(bars, on=["security", "date"], how="left").sort("security", "date")


def build_month(
    bronze_files: list[Path], year: int, month: int, multipliers: pl.DataFrame, symbols: pl.DataFrame,
    out: Path, *, features: bool = True,
) -> dict:
    """Write the silver partition of (year, month); return a small summary."""
    frames = [pl.read_parquet(f) for f in bronze_files if Path(f).exists()]
    bars = pl.concat(frames) if frames else pl.DataFrame()
    if bars.is_empty():
        raise ValueError(f"no bronze stocks_daily rows for {year:04d}-{month:02d}")
    bars = adjust.assign_security(bars, symbols)
    dups = bars.filter(pl.struct("security", "date").is_duplicated())
    if dups.height:
        raise ValueError(f"two tickers map to one security on the same session: {dups.head(3).rows()}")
    sessions = calendar.sessions(bars["date"].min(), bars["date"].max())
    bars = calendar_aligned(bars, sessions)
    bars = adjust.apply(bars, adjust.factors(bars.filter(pl.col("close").is_not_null()), multipliers))
    bars = bars.with_columns(
        pl.when(pl.col("close").is_null()).then(None).otherwise(pl.col("factor")).alias("factor"),
        (pl.col("adj_close") / pl.col("adj_close").shift(1).over("security") - 1.0).alias("change"),
    )
    out_cols = ["security", "ticker", "date", *RAW, "transactions", "factor", *ADJ, "change"]
    result = bars.select(out_cols)
    if features:
        from quantmini import alpha158

        feats = alpha158.compute(
            bars.select("security", "date", *[pl.col(a).alias(r) for a, r in zip(ADJ, RAW)]),
            symbol_col="security", date_col="date",
        )
        result = result.join(feats, on=["security", "date"], how="left")
    first = dt.date(year, month, 1)
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    result = result.filter((pl.col("date") >= first) & (pl.col("date") < nxt)
                           & pl.col("close").is_not_null()).sort("security", "date")
    write_parquet(result, out)
    return {"rows": result.height, "securities": result["security"].n_unique()}


def read_silver(files: list[Path], columns: list[str] | None = None) -> pl.DataFrame:
    return pl.concat([pl.read_parquet(f, columns=columns) for f in files]).sort("security", "date")


def _with_security(events: pl.DataFrame, date_col: str, symbols: pl.DataFrame) -> pl.DataFrame:
    """Key vendor events (by ticker at the event date) to the security that held the ticker then."""
    return adjust.assign_security(events.with_columns(pl.col(date_col).alias("date")), symbols).drop("date")


def build_corporate_actions(
    bars_files: list[Path], split_files: list[Path], dividend_files: list[Path],
    change_files: list[Path], out_multipliers: Path, out_symbols: Path, out_quarantine: Path,
) -> dict:
    """Validate the vendor's splits and dividends against the raw bars; write the event multipliers.

    Doubtful events (duplicates, absurd ratios, splits the bars do not show, ...) are quarantined with
    their reason by `event_validation.validate_events` and never applied.
    """
    from quantmini import event_validation

    def read(files, schema):
        frames = [pl.read_parquet(f) for f in files if Path(f).exists()]
        return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame(schema=schema)

    changes = read(change_files, {"composite_figi": pl.Utf8, "date": pl.Date, "old_ticker": pl.Utf8,
                                  "new_ticker": pl.Utf8}).unique()
    symbols = adjust.symbol_map(changes)
    bars = adjust.assign_security(read(bars_files, {}), symbols)
    splits = _with_security(read(split_files, {"id": pl.Utf8, "ticker": pl.Utf8, "execution_date": pl.Date,
                                               "split_from": pl.Float64, "split_to": pl.Float64}),
                            "execution_date", symbols)
    dividends = _with_security(read(dividend_files, {"id": pl.Utf8, "ticker": pl.Utf8,
                                                     "ex_dividend_date": pl.Date, "cash_amount": pl.Float64}),
                               "ex_dividend_date", symbols)
    splits_ok, dividends_ok, quarantine, report = event_validation.validate_events(bars, splits, dividends)
    multipliers = adjust.event_multipliers(bars, splits_ok, dividends_ok)
    write_parquet(multipliers, out_multipliers)
    write_parquet(symbols, out_symbols)
    write_parquet(quarantine, out_quarantine)
    return report
