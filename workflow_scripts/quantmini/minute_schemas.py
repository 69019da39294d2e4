"""pandera models of the bronze minute tables (stocks_minute, options_minute).

Row checks only: whether a session's set of bars is complete (390 regular minutes, 210 on a half day)
is a property of the partition, counted in `quantmini.minute.session_report` and flagged there.
"""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa
from pandera.engines.polars_engine import DateTime
import polars as pl

SESSION_FLAGS = ("pre", "regular", "post")


class MinuteBronze(pa.DataFrameModel):
    """One minute bar per (ticker, timestamp) of the session it was requested for (raw, unadjusted).

    `_expected_session` (a helper, dropped before writing) is the session the landing file was requested
    for; `session` is computed from the exchange calendar ('outside' = beyond 04:00-20:00 ET, or beyond
    the extended window of a half day); `session` is that flag, so a bar outside is quarantined.
    """

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

    @pa.dataframe_check(name="low<=open<=high")
    def open_inside_range(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select((pl.col("low") <= pl.col("open")) & (pl.col("open") <= pl.col("high")))

    @pa.dataframe_check(name="low<=close<=high")
    def close_inside_range(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select((pl.col("low") <= pl.col("close")) & (pl.col("close") <= pl.col("high")))

    @pa.dataframe_check(name="timestamp on a whole minute")
    def whole_minute(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("timestamp").dt.epoch("ms") % 60_000 == 0)

    @pa.dataframe_check(name="bar inside the session's extended window")
    def inside_window(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("session").is_in(list(SESSION_FLAGS)))

    @pa.dataframe_check(name="date is the requested session")
    def session_date(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("date") == pl.col("_expected_session"))

    @pa.dataframe_check(name="unique(ticker,timestamp)")
    def unique_key(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.struct("ticker", "timestamp").is_duplicated())

    class Config:
        strict = False
        coerce = False
