"""pandera model of the bronze ticker-details snapshot (see ingest.py)."""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa
import polars as pl

from quantmini.validation import TICKER_LENGTH, BronzeModel, row_check, unique


class TickerDetailsBronze(BronzeModel):
    """One ticker's details as of its last session of the month (`as_of`) in the month's snapshot."""

    ticker: str = pa.Field(nullable=False, str_length=TICKER_LENGTH)
    snapshot_date: dt.date = pa.Field(nullable=False)
    as_of: dt.date = pa.Field(nullable=False)
    type: str = pa.Field(nullable=False, str_length={"min_value": 1})
    market_cap: float = pa.Field(nullable=True, ge=0)
    share_class_shares_outstanding: float = pa.Field(nullable=True, ge=0)
    weighted_shares_outstanding: float = pa.Field(nullable=True, ge=0)

    unique_ticker = unique("ticker")
    as_of_in_month = row_check("as_of on or before the snapshot date",
                               (pl.col("as_of") <= pl.col("snapshot_date")).fill_null(False))
