"""pandera models of the bronze fundamentals tables (see fundamentals): structural checks only.

A row that fails goes to quarantine with the names of the checks it fails. Helper columns read by the
checks: `_lo`/`_hi` (the partition's window) and `_unparsed` (the fields whose text did not parse).
"""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa
import polars as pl
from pandera.engines.polars_engine import DateTime

from quantmini.corporate_actions_schemas import _in_window, _Parsed

_TICKER = {"min_value": 1, "max_value": 16}


class FinancialsBronze(_Parsed):
    """One field of one statement of one filing result (quarterly, annual or ttm), per ticker."""

    ticker: str = pa.Field(nullable=False, str_length=_TICKER)
    cik: str = pa.Field(nullable=False, str_matches=r"^[0-9]{10}$")
    statement: str = pa.Field(nullable=False, isin=["balance_sheet", "income_statement", "cash_flow_statement",
                                                    "comprehensive_income"])
    field: str = pa.Field(nullable=False, str_length={"min_value": 1})
    value: float = pa.Field(nullable=False)
    unit: str = pa.Field(nullable=False)
    label: str = pa.Field(nullable=True)
    fiscal_period: str = pa.Field(nullable=False, isin=["Q1", "Q2", "Q3", "Q4", "FY", "TTM"])
    fiscal_year: pl.Int32 = pa.Field(nullable=False, ge=1990, le=2100)
    timeframe: str = pa.Field(nullable=False, isin=["quarterly", "annual", "ttm"])
    start_date: dt.date = pa.Field(nullable=False)
    end_date: dt.date = pa.Field(nullable=False)
    filing_date: dt.date = pa.Field(nullable=False)
    acceptance_datetime: DateTime = pa.Field(nullable=False, dtype_kwargs={"time_unit": "us", "time_zone": "UTC"})

    @pa.dataframe_check(name="start_date<=end_date<=filing_date")
    def period_order(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(((pl.col("start_date") <= pl.col("end_date"))
                                      & (pl.col("end_date") <= pl.col("filing_date"))).fill_null(False))

    @pa.dataframe_check(name="accepted on or up to 4 days before filing_date (New York)")
    def accepted_then(cls, data: pa.PolarsData) -> pl.LazyFrame:
        day = pl.col("acceptance_datetime").dt.convert_time_zone("America/New_York").dt.date()
        lag = (pl.col("filing_date") - day).dt.total_days()
        return data.lazyframe.select(lag.is_between(0, 4).fill_null(False))

    @pa.dataframe_check(name="unique(ticker,timeframe,fiscal_year,fiscal_period,end_date,acceptance,statement,field)")
    def unique_key(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.struct("ticker", "timeframe", "fiscal_year", "fiscal_period", "end_date",
                                                "acceptance_datetime", "statement", "field").is_duplicated())

    @pa.dataframe_check(name="filing_date inside the partition's window")
    def in_window(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_in_window("filing_date"))

    class Config:
        strict = False
        coerce = False


class ShortInterestBronze(_Parsed):
    """FINRA short interest of one ticker at one settlement date."""

    ticker: str = pa.Field(nullable=False, str_length=_TICKER)
    settlement_date: dt.date = pa.Field(nullable=False)
    short_interest: int = pa.Field(nullable=False, ge=0)
    avg_daily_volume: int = pa.Field(nullable=False, ge=0)
    days_to_cover: float = pa.Field(nullable=False, ge=0)

    @pa.dataframe_check(name="unique(ticker,settlement_date)")
    def unique_key(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.struct("ticker", "settlement_date").is_duplicated())

    @pa.dataframe_check(name="settlement_date inside the partition's window")
    def in_window(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_in_window("settlement_date"))

    class Config:
        strict = False
        coerce = False


class ShortVolumeBronze(_Parsed):
    """One session's short-sale volume of one ticker (venue breakdown as served)."""

    ticker: str = pa.Field(nullable=False, str_length=_TICKER)
    date: dt.date = pa.Field(nullable=False)
    total_volume: int = pa.Field(nullable=False, ge=0)
    short_volume: int = pa.Field(nullable=False, ge=0)
    exempt_volume: int = pa.Field(nullable=False, ge=0)
    non_exempt_volume: int = pa.Field(nullable=False, ge=0)
    short_volume_ratio: float = pa.Field(nullable=False, ge=0, le=100)

    @pa.dataframe_check(name="short_volume<=total_volume")
    def short_le_total(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("short_volume") <= pl.col("total_volume"))

    @pa.dataframe_check(name="exempt+non_exempt==short_volume")
    def parts_add_up(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("exempt_volume") + pl.col("non_exempt_volume") == pl.col("short_volume"))

    @pa.dataframe_check(name="unique(ticker,date)")
    def unique_key(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.struct("ticker", "date").is_duplicated())

    @pa.dataframe_check(name="date inside the partition's window")
    def in_window(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_in_window("date"))

    class Config:
        strict = False
        coerce = False


MODELS = {"financials": FinancialsBronze, "short_interest": ShortInterestBronze, "short_volume": ShortVolumeBronze}
SORT_BY = {"financials": ["filing_date", "ticker", "timeframe", "end_date", "statement", "field"],
           "short_interest": ["settlement_date", "ticker"], "short_volume": ["date", "ticker"]}
