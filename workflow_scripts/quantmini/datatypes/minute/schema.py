"""pandera models of the bronze minute tables (stocks_minute, options_minute).

Row checks only: whether a session's set of bars is complete (390 regular minutes, 210 on a half day)
is a property of the partition, counted in `ingest.session_report` and flagged there.
"""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa
import polars as pl
from pandera.engines.polars_engine import DateTime

from quantmini.validation import BronzeModel, ordered, row_check, unique

SESSION_FLAGS = ("pre", "regular", "post")


class MinuteBronze(BronzeModel):
    """One minute bar per (ticker, timestamp) of the session it was requested for (raw, unadjusted).

    `_expected_session` (a helper, dropped before writing) is the session the landing file was requested
    for; `session` is computed from the exchange calendar ('outside' = beyond 04:00-20:00 ET, or beyond
    the extended window of a half day); `session` is that flag, so a bar outside is quarantined.
    """

    # The columns are declared here, not inherited from validation.BarBronze: inherited columns come first,
    # which would move `timestamp` behind `transactions` (the order a failed non-lazy validation names them).
    ticker: str = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": 32})
    timestamp: DateTime(time_unit="ms", time_zone="UTC") = pa.Field(nullable=False)
    date: dt.date = pa.Field(nullable=False)
    open: float = pa.Field(gt=0, nullable=False)
    high: float = pa.Field(gt=0, nullable=False)
    low: float = pa.Field(gt=0, nullable=False)
    close: float = pa.Field(gt=0, nullable=False)
    volume: float = pa.Field(gt=0, nullable=False)
    vwap: float = pa.Field(gt=0, nullable=True)
    transactions: int = pa.Field(ge=0, nullable=True)
    session: str = pa.Field(nullable=False)

    open_inside_range = ordered("low", "open", "high", nulls_fail=False)
    close_inside_range = ordered("low", "close", "high", nulls_fail=False)
    whole_minute = row_check("timestamp on a whole minute", pl.col("timestamp").dt.epoch("ms") % 60_000 == 0)
    inside_window = row_check("bar inside the session's extended window", pl.col("session").is_in(list(SESSION_FLAGS)))
    session_date = row_check("date is the requested session", pl.col("date") == pl.col("_expected_session"))
    unique_key = unique("ticker", "timestamp")
