"""Bronze stocks_daily schema: one unadjusted daily bar per (ticker, session), and the month validation
that also knows which session each bar was requested for."""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa
import polars as pl

from quantmini import calendar, symbols
from quantmini.validation import BarBronze, check_reasons, ordered, row_check, unique


class StocksDailyBronze(BarBronze):
    """One unadjusted daily bar per (ticker, session), as served with adjusted=false."""

    open_inside_range = ordered("low", "open", "high", nulls_fail=False)
    close_inside_range = ordered("low", "close", "high", nulls_fail=False)
    unique_key = unique("ticker", "date")
    # `_expected_session` is added by validate_partition (the session the file was requested for)
    session_date = row_check("date is an expected XNYS session", pl.col("date") == pl.col("_expected_session"))
    # a symbol gold could not publish is stopped here, with its rows, instead of stopping the whole publish
    safe_symbol = row_check(symbols.UNSAFE, symbols.safe_expr())
    one_symbol_per_name = row_check(symbols.COLLIDES, symbols.first_of_its_case_expr())


NOT_A_SESSION = "date is not an XNYS session"
WRONG_SESSION = "date is not the session requested"


def _misdated(bars: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(rows whose date is not the session they were requested for, with `reason`; the other rows)."""
    off = pl.col("date") != pl.col("_expected_session")
    wrong = bars.filter(off)
    if wrong.is_empty():
        return wrong.with_columns(pl.lit(None, pl.Utf8).alias("reason")), bars
    session = pl.Series([calendar.is_session(d) for d in wrong["date"].to_list()], dtype=pl.Boolean)
    wrong = wrong.with_columns(pl.when(session).then(pl.lit(WRONG_SESSION)).otherwise(pl.lit(NOT_A_SESSION))
                               .alias("reason"))
    return wrong, bars.filter(~off)


def _wire_errors(bars: pl.DataFrame) -> pl.DataFrame:
    """The rows parse.py flagged with `_wire_error`, with that text as their `reason` (empty if none)."""
    if "_wire_error" not in bars.columns:
        return bars.head(0).with_columns(pl.lit(None, pl.Utf8).alias("reason"))
    return bars.filter(pl.col("_wire_error").is_not_null()).rename({"_wire_error": "reason"})


def validate_partition(
    bars: pl.DataFrame, sessions: list[dt.date], *, schema: type[pa.DataFrameModel] = StocksDailyBronze
) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """Split a month of bars into (clean, quarantined, report).

    `bars` carries `_expected_session` (the session each row was requested for). Exact duplicate rows
    (the same bar twice, e.g. across pages) are collapsed and counted; conflicting duplicates are both
    quarantined; rows on a non-session or on another session than requested are quarantined.
    """
    rows_in = bars.height
    # rows the parser could not type (a value of the wrong JSON type) go to quarantine with its reason
    wire_bad = _wire_errors(bars)
    if "_wire_error" in bars.columns:
        bars = bars.filter(pl.col("_wire_error").is_null()).drop("_wire_error")
    deduped = bars.unique(maintain_order=True)
    exact_dupes = rows_in - wire_bad.height - deduped.height
    # A bar stamped on another day than the session it was served for (a non-session, or the wrong
    # session) is quarantined first and apart, so it cannot make the real bar of that day a duplicate.
    misdated, deduped = _misdated(deduped)
    indexed = deduped.with_row_index("_row")
    reasons = check_reasons(deduped, schema)
    bad = pl.concat([indexed.join(reasons, on="_row", how="inner"), misdated.with_columns(
        pl.lit(0, pl.UInt32).alias("_row")).select(indexed.columns + ["reason"]),
        wire_bad.with_columns(pl.lit(0, pl.UInt32).alias("_row")).select(indexed.columns + ["reason"])])
    good = indexed.join(reasons, on="_row", how="anti")
    clean = good.drop("_row", "_expected_session").sort("ticker", "date")
    quarantine = bad.drop("_row").sort("ticker", "date", "reason")

    schema.validate(clean.with_columns(pl.col("date").alias("_expected_session")))  # must now pass

    non_sessions = [d.isoformat() for d in clean["date"].unique().to_list() if not calendar.is_session(d)]
    seen = set(clean["date"].unique().to_list())
    report = {
        "rows_in": rows_in,
        "rows_valid": clean.height,
        "rows_quarantined": quarantine.height,
        "exact_duplicates_collapsed": exact_dupes,
        "quarantined_by_reason": dict(
            quarantine.group_by("reason").len().sort("reason").iter_rows()
        ) if quarantine.height else {},
        "sessions_expected": len(sessions),
        "sessions_without_bars": [d.isoformat() for d in sessions if d not in seen],
        "non_session_dates": non_sessions,
        "tickers": clean["ticker"].n_unique(),
    }
    report["ok"] = not report["sessions_without_bars"] and not non_sessions
    return clean, quarantine, report
