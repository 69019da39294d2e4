"""pandera model of the bronze ticker-details snapshot (see quantmini.ticker_details)."""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa
import polars as pl


class TickerDetailsBronze(pa.DataFrameModel):
    """One ticker's details as of its last session of the month (`as_of`) in the month's snapshot."""

    ticker: str = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": 16})
    snapshot_date: dt.date = pa.Field(nullable=False)
    as_of: dt.date = pa.Field(nullable=False)
    type: str = pa.Field(nullable=False, str_length={"min_value": 1})
    market_cap: float = pa.Field(nullable=True, ge=0)
    share_class_shares_outstanding: float = pa.Field(nullable=True, ge=0)
    weighted_shares_outstanding: float = pa.Field(nullable=True, ge=0)

    @pa.dataframe_check(name="unique(ticker)")
    def unique_ticker(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.col("ticker").is_duplicated())

    @pa.dataframe_check(name="as_of on or before the snapshot date")
    def as_of_in_month(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select((pl.col("as_of") <= pl.col("snapshot_date")).fill_null(False))

    class Config:
        strict = False
        coerce = False
