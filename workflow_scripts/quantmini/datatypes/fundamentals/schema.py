"""pandera models of the bronze fundamentals tables (see fundamentals): structural checks only.

A row that fails goes to quarantine with the names of the checks it fails. Helper columns read by the
checks: `_lo`/`_hi` (the partition's window) and `_unparsed` (the fields whose text did not parse).
"""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa
import polars as pl
from pandera.engines.polars_engine import DateTime

from quantmini.datatypes.corporate_actions.schema import DatesParsed
from quantmini.validation import TICKER_LENGTH, in_window, ordered, row_check, unique

# days from the acceptance (its New York date) to `filing_date`
_FILING_LAG = (pl.col("filing_date") - pl.col("acceptance_datetime").dt.convert_time_zone("America/New_York").dt.date()
               ).dt.total_days()


class FinancialsBronze(DatesParsed):
    """One field of one statement of one filing result (quarterly, annual or ttm), per ticker."""

    ticker: str = pa.Field(nullable=False, str_length=TICKER_LENGTH)
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

    period_order = ordered("start_date", "end_date", "filing_date", nulls_fail=True)
    accepted_then = row_check("accepted on or up to 4 days before filing_date (New York)",
                              _FILING_LAG.is_between(0, 4).fill_null(False))
    unique_key = unique("ticker", "timeframe", "fiscal_year", "fiscal_period", "end_date", "acceptance_datetime",
                        "statement", "field",
                        name="unique(ticker,timeframe,fiscal_year,fiscal_period,end_date,acceptance,statement,field)")
    window = in_window("filing_date")


class ShortInterestBronze(DatesParsed):
    """FINRA short interest of one ticker at one settlement date."""

    ticker: str = pa.Field(nullable=False, str_length=TICKER_LENGTH)
    settlement_date: dt.date = pa.Field(nullable=False)
    short_interest: int = pa.Field(nullable=False, ge=0)
    avg_daily_volume: int = pa.Field(nullable=False, ge=0)
    days_to_cover: float = pa.Field(nullable=False, ge=0)

    unique_key = unique("ticker", "settlement_date")
    window = in_window("settlement_date")


class ShortVolumeBronze(DatesParsed):
    """One session's short-sale volume of one ticker (venue breakdown as served)."""

    ticker: str = pa.Field(nullable=False, str_length=TICKER_LENGTH)
    date: dt.date = pa.Field(nullable=False)
    total_volume: int = pa.Field(nullable=False, ge=0)
    short_volume: int = pa.Field(nullable=False, ge=0)
    exempt_volume: int = pa.Field(nullable=False, ge=0)
    non_exempt_volume: int = pa.Field(nullable=False, ge=0)
    short_volume_ratio: float = pa.Field(nullable=False, ge=0, le=100)

    short_le_total = ordered("short_volume", "total_volume", nulls_fail=False)
    parts_add_up = row_check("exempt+non_exempt==short_volume",
                             pl.col("exempt_volume") + pl.col("non_exempt_volume") == pl.col("short_volume"))
    unique_key = unique("ticker", "date")
    window = in_window("date")


MODELS = {"financials": FinancialsBronze, "short_interest": ShortInterestBronze, "short_volume": ShortVolumeBronze}
SORT_BY = {"financials": ["filing_date", "ticker", "timeframe", "end_date", "statement", "field"],
           "short_interest": ["settlement_date", "ticker"], "short_volume": ["date", "ticker"]}
