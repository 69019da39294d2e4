"""pandera models of the bronze corporate-actions and reference tables (see corporate_actions).

Structural checks only; a row that fails goes to quarantine with the names of the checks it fails.
Columns starting with `_` are helpers the checks read: `_lo`/`_hi` (the partition's date window) and
`_unparsed` (the date fields whose text did not parse).
"""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa
import polars as pl
from pandera.engines.polars_engine import DateTime

from quantmini.validation import (
    TICKER_LENGTH,
    BronzeModel,
    all_parsed,
    in_window,
    row_check,
    unique,
)


class DatesParsed(BronzeModel):
    """Every date/time text of the row parsed (`_unparsed` lists the fields that did not)."""

    parsed = all_parsed("dates are YYYY-MM-DD (UTC times ISO 8601)")


class SplitsBronze(DatesParsed):
    """A vendor split as served (plausibility against the bars: event_validation)."""

    id: str = pa.Field(nullable=False, str_length={"min_value": 1})
    ticker: str = pa.Field(nullable=False, str_length=TICKER_LENGTH)
    execution_date: dt.date = pa.Field(nullable=False)
    split_from: float = pa.Field(nullable=False)
    split_to: float = pa.Field(nullable=False)

    unique_id = unique("id")
    window = in_window("execution_date")


class DividendsBronze(DatesParsed):
    """A vendor cash dividend as served (plausibility against the bars: event_validation)."""

    id: str = pa.Field(nullable=False, str_length={"min_value": 1})
    ticker: str = pa.Field(nullable=False, str_length=TICKER_LENGTH)
    cash_amount: float = pa.Field(nullable=False)
    currency: str = pa.Field(nullable=True, str_length={"min_value": 3, "max_value": 3})
    declaration_date: dt.date = pa.Field(nullable=True)
    ex_dividend_date: dt.date = pa.Field(nullable=False)
    record_date: dt.date = pa.Field(nullable=True)
    pay_date: dt.date = pa.Field(nullable=True)
    frequency: int = pa.Field(nullable=True, isin=[0, 1, 2, 4, 12, 24, 52])
    dividend_type: str = pa.Field(nullable=False, isin=["CD", "SC", "LT", "ST"])

    unique_id = unique("id")
    window = in_window("ex_dividend_date")


class TickersBronze(DatesParsed):
    """One row of the point-in-time ticker reference (active or not)."""

    ticker: str = pa.Field(nullable=False, str_length=TICKER_LENGTH)
    name: str = pa.Field(nullable=True)
    market: str = pa.Field(nullable=False)
    type: str = pa.Field(nullable=True)
    active: bool = pa.Field(nullable=False)
    primary_exchange: str = pa.Field(nullable=True)
    composite_figi: str = pa.Field(nullable=True, str_matches=r"^BBG[0-9A-Z]{9}$")
    cik: str = pa.Field(nullable=True, str_matches=r"^[0-9]{10}$")
    delisted_utc: DateTime = pa.Field(nullable=True, dtype_kwargs={"time_unit": "us", "time_zone": "UTC"})
    snapshot_date: dt.date = pa.Field(nullable=False)

    unique_active = row_check("unique(ticker) among active tickers",
                              ~(pl.col("active") & pl.struct("ticker", "active").is_duplicated()))


class TickerChangesBronze(DatesParsed):
    """A rename of one security (composite FIGI): new_ticker trades from `date` on."""

    composite_figi: str = pa.Field(nullable=False, str_matches=r"^BBG[0-9A-Z]{9}$")
    date: dt.date = pa.Field(nullable=False)
    old_ticker: str = pa.Field(nullable=False, str_length=TICKER_LENGTH)
    new_ticker: str = pa.Field(nullable=False, str_length=TICKER_LENGTH)

    unique_key = unique("composite_figi", "date")
    window = in_window("date")


SCHEMAS = {"splits": SplitsBronze, "dividends": DividendsBronze, "tickers": TickersBronze,
           "ticker_changes": TickerChangesBronze}
SORT_BY = {"splits": ["execution_date", "ticker"], "dividends": ["ex_dividend_date", "ticker"],
           "tickers": ["ticker", "active"], "ticker_changes": ["date", "composite_figi"]}
