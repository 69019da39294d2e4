"""Silver stocks_daily: raw and adjusted bars per security with the Alpha158 features, point in time.

A month partition is a function of its own bronze month, LOOKBACK_MONTHS earlier ones (enough for the
60-session windows and the one-session Ref of Alpha158), and the validated corporate actions of those
same months — never of later months. So a closed month never changes when later data arrives, and a
feature at session t uses only bars and events up to the end of t's month (Alpha158 features are
ratios, so a split or dividend after t inside the same month rescales the whole window and leaves them
unchanged).

`factor` is therefore the back-adjustment factor *as of the partition's last session*: adj = raw x factor
is continuous over every window that ends in this month. The factor as of the lake's end — what research
over the whole history wants — is applied when gold is published (`gold.py`), from all events; both are
checked against the simulator's ground truth. Rows are keyed by `security`, the symbol the security holds
at the end of the month (a ticker change keeps its history); `ticker` is the symbol the bar traded under.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import polars as pl

from quantmini import adjust
from quantmini.parquet_io import write_parquet

log = logging.getLogger("quantmini.silver")

LOOKBACK_MONTHS = 4  # >= 61 sessions before the month's first session
RAW = ["open", "high", "low", "close", "volume", "vwap"]
ADJ = ["adj_open", "adj_high", "adj_low", "adj_close", "adj_volume", "adj_vwap"]
EVENT_SCHEMA = {"ticker": pl.Utf8, "date": pl.Date, "m": pl.Float64}
CHANGE_SCHEMA = {"composite_figi": pl.Utf8, "date": pl.Date, "old_ticker": pl.Utf8, "new_ticker": pl.Utf8}


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


class UnreadableFileError(RuntimeError):
    """A lake file that cannot be read back (truncated, corrupt): named, with what to do, in one line."""


def read_parquet_checked(path, columns: list[str] | None = None) -> pl.DataFrame:
    """pl.read_parquet, but a corrupt or truncated file is one line naming it and the fix: deleting it
    makes its job stale, so the next run rebuilds it (bronze from landing, silver from bronze)."""
    try:
        return pl.read_parquet(path, columns=columns)
    except Exception as exc:  # polars raises ComputeError/OSError/... with multi-line messages
        detail = " ".join(str(exc).split())[:200]
        raise UnreadableFileError(f"unreadable Parquet file {path} ({type(exc).__name__}: {detail}); "
                                  "delete it and run again to rebuild it") from None


def read_many(files, schema: dict | None = None, columns: list[str] | None = None) -> pl.DataFrame:
    """The files' rows concatenated; only `columns` are read when given (silver has ~180 columns)."""
    frames = [read_parquet_checked(f, columns) for f in files if Path(f).exists()]
    if frames:
        return pl.concat(frames, how="diagonal_relaxed")
    return pl.DataFrame(schema=schema or {})


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


SPLIT_SCHEMA = {"id": pl.Utf8, "ticker": pl.Utf8, "execution_date": pl.Date, "split_from": pl.Float64,
                "split_to": pl.Float64}
DIVIDEND_SCHEMA = {"id": pl.Utf8, "ticker": pl.Utf8, "ex_dividend_date": pl.Date, "cash_amount": pl.Float64}


def build_month(
    bronze_files: list[Path], split_files: list[Path], dividend_files: list[Path], change_files: list[Path],
    year: int, month: int, out: Path, out_events: Path, out_quarantine: Path, *, sessions: list[dt.date],
    features: bool = True,
) -> dict:
    """Write the silver partition of (year, month) and its validated events, from the window's bronze.

    Returns the month's event-validation report.
    """
    bars = read_many(bronze_files, {"ticker": pl.Utf8, "date": pl.Date, **{c: pl.Float64 for c in RAW},
                                    "transactions": pl.Int64})
    if bars.is_empty():  # e.g. every row of the window quarantined: an empty partition, not a stopped lake
        log.warning("stocks_daily silver %04d-%02d: no bronze rows in the month or its look-back window "
                    "(all quarantined?): writing an empty partition", year, month)
    lo, hi = month_bounds(year, month)
    splits = read_many(split_files, SPLIT_SCHEMA)
    dividends = read_many(dividend_files, DIVIDEND_SCHEMA)
    window = lookback_months(year, month) + [(year, month)]
    validated = {ym: month_events(bars, splits, dividends, *ym) for ym in window}
    events = pl.concat([v[0] for v in validated.values()])
    changes = read_many(change_files, CHANGE_SCHEMA).filter(pl.col("date") < hi).unique()
    first_bar = month_bounds(*window[0])[0]
    adjusted = adjusted_bars(bars.filter(pl.col("date") >= first_bar), events, adjust.symbol_map(changes),
                             [d for d in sessions if d >= first_bar])
    cols = ["security", "ticker", "date", *RAW, "transactions", "factor", *ADJ, "change"]
    result = adjusted.select(cols)
    if features:
        from quantmini.datatypes.stocks_daily import alpha158

        feats = alpha158.compute(
            adjusted.select("security", "date", *[pl.col(a).alias(r) for a, r in zip(ADJ, RAW)]),
            symbol_col="security", date_col="date",
        )
        result = result.join(feats, on=["security", "date"], how="left")
    result = result.filter((pl.col("date") >= lo) & (pl.col("date") < hi) & pl.col("close").is_not_null())
    events_m, quarantine_m, report = validated[(year, month)]
    write_parquet(result.sort("security", "date"), out)
    write_parquet(events_m, out_events)
    write_parquet(quarantine_m, out_quarantine)
    return {**report, "rows": result.height, "securities": result["security"].n_unique()}
