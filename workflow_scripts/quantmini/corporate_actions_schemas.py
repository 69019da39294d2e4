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


def _in_window(column: str) -> pl.Expr:
    return pl.col(column).is_between(pl.col("_lo"), pl.col("_hi")).fill_null(False)


def _all_parsed(cls, data: pa.PolarsData) -> pl.LazyFrame:
    return data.lazyframe.select(pl.col("_unparsed").fill_null("") == "")


# The check's name is the function's: pandera pops `name=` from an inherited check's kwargs when the first
# subclass builds its schema, so later subclasses would report the bare method name instead.
_all_parsed.__name__ = "dates are YYYY-MM-DD (UTC times ISO 8601)"


class _Parsed(pa.DataFrameModel):
    """Every date/time text of the row parsed (`_unparsed` lists the fields that did not)."""

    parsed = pa.dataframe_check(_all_parsed)


class SplitsBronze(_Parsed):
    """A vendor split as served (plausibility against the bars: event_validation)."""

    id: str = pa.Field(nullable=False, str_length={"min_value": 1})
    ticker: str = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": 16})
    execution_date: dt.date = pa.Field(nullable=False)
    split_from: float = pa.Field(nullable=False)
    split_to: float = pa.Field(nullable=False)

    @pa.dataframe_check(name="unique(id)")
    def unique_id(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.col("id").is_duplicated())

    @pa.dataframe_check(name="execution_date inside the partition's window")
    def in_window(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_in_window("execution_date"))

    class Config:
        strict = False
        coerce = False


class DividendsBronze(_Parsed):
    """A vendor cash dividend as served (plausibility against the bars: event_validation)."""

    id: str = pa.Field(nullable=False, str_length={"min_value": 1})
    ticker: str = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": 16})
    cash_amount: float = pa.Field(nullable=False)
    currency: str = pa.Field(nullable=True, str_length={"min_value": 3, "max_value": 3})
    declaration_date: dt.date = pa.Field(nullable=True)
    ex_dividend_date: dt.date = pa.Field(nullable=False)
    record_date: dt.date = pa.Field(nullable=True)
    pay_date: dt.date = pa.Field(nullable=True)
    frequency: int = pa.Field(nullable=True, isin=[0, 1, 2, 4, 12, 24, 52])
    dividend_type: str = pa.Field(nullable=False, isin=["CD", "SC", "LT", "ST"])

    @pa.dataframe_check(name="unique(id)")
    def unique_id(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.col("id").is_duplicated())

    @pa.dataframe_check(name="ex_dividend_date inside the partition's window")
    def in_window(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_in_window("ex_dividend_date"))

    class Config:
        strict = False
        coerce = False


class TickersBronze(_Parsed):
    """One row of the point-in-time ticker reference (active or not)."""

    ticker: str = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": 16})
    name: str = pa.Field(nullable=True)
    market: str = pa.Field(nullable=False)
    type: str = pa.Field(nullable=True)
    active: bool = pa.Field(nullable=False)
    primary_exchange: str = pa.Field(nullable=True)
    composite_figi: str = pa.Field(nullable=True, str_matches=r"^BBG[0-9A-Z]{9}$")
    cik: str = pa.Field(nullable=True, str_matches=r"^[0-9]{10}$")
    delisted_utc: DateTime = pa.Field(nullable=True, dtype_kwargs={"time_unit": "us", "time_zone": "UTC"})
    snapshot_date: dt.date = pa.Field(nullable=False)

    @pa.dataframe_check(name="unique(ticker) among active tickers")
    def unique_active(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~(pl.col("active") & pl.struct("ticker", "active").is_duplicated()))

    class Config:
        strict = False
        coerce = False


class TickerChangesBronze(_Parsed):
    """A rename of one security (composite FIGI): new_ticker trades from `date` on."""

    composite_figi: str = pa.Field(nullable=False, str_matches=r"^BBG[0-9A-Z]{9}$")
    date: dt.date = pa.Field(nullable=False)
    old_ticker: str = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": 16})
    new_ticker: str = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": 16})

    @pa.dataframe_check(name="unique(composite_figi,date)")
    def unique_key(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.struct("composite_figi", "date").is_duplicated())

    @pa.dataframe_check(name="date inside the partition's window")
    def in_window(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_in_window("date"))

    class Config:
        strict = False
        coerce = False


SCHEMAS = {"splits": SplitsBronze, "dividends": DividendsBronze, "tickers": TickersBronze,
           "ticker_changes": TickerChangesBronze}
SORT_BY = {"splits": ["execution_date", "ticker"], "dividends": ["ex_dividend_date", "ticker"],
           "tickers": ["ticker", "active"], "ticker_changes": ["date", "composite_figi"]}
