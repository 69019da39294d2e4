"""pandera models of the bronze options tables (see options_daily); a failing row goes to quarantine with
the names of the checks it fails. Columns starting with `_` are helpers the checks read and are dropped:
`_unparsed` (fields whose text did not parse), `_first_day` (the partition month's first day),
`_session_ok` (the bar's date is a session of the partition in range)."""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa
import polars as pl

OCC_TICKER = r"^O:([A-Z][A-Z0-9.]{0,9})(\d{6})([CP])(\d{8})$"


def occ_ticker_expr() -> pl.Expr:
    """The OCC ticker the contract terms imply: O:<underlying><YYMMDD><C|P><strike*1000, 8 digits>."""
    return pl.concat_str(
        pl.lit("O:"), pl.col("underlying"), pl.col("expiration").dt.strftime("%y%m%d"),
        pl.when(pl.col("contract_type") == "call").then(pl.lit("C")).otherwise(pl.lit("P")),
        (pl.col("strike") * 1000).round(0).cast(pl.Int64).cast(pl.Utf8).str.zfill(8),
    )


class OptionsContractsBronze(pa.DataFrameModel):
    """One listed contract (as of the month's last session in range), with its terms."""

    ticker: str = pa.Field(nullable=False, str_matches=OCC_TICKER)
    underlying: str = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": 10})
    contract_type: str = pa.Field(nullable=False, isin=["call", "put"])
    strike: float = pa.Field(nullable=False, gt=0)
    expiration: dt.date = pa.Field(nullable=False)
    shares_per_contract: float = pa.Field(nullable=False, gt=0)

    @pa.dataframe_check(name="dates are YYYY-MM-DD")
    def parsed(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("_unparsed").fill_null("") == "")

    @pa.dataframe_check(name="ticker matches the contract terms (OCC)")
    def occ(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select((occ_ticker_expr() == pl.col("ticker")).fill_null(False))

    @pa.dataframe_check(name="unique(ticker)")
    def unique_ticker(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.col("ticker").is_duplicated())

    @pa.dataframe_check(name="expiration in or after the partition's month")
    def live(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select((pl.col("expiration") >= pl.col("_first_day")).fill_null(False))

    class Config:
        strict = False
        coerce = False


class OptionsDailyBronze(pa.DataFrameModel):
    """One daily bar per (contract, session), never split-adjusted, with the contract's terms."""

    ticker: str = pa.Field(nullable=False, str_matches=OCC_TICKER)
    date: dt.date = pa.Field(nullable=False)
    open: float = pa.Field(gt=0, nullable=False)
    high: float = pa.Field(gt=0, nullable=False)
    low: float = pa.Field(gt=0, nullable=False)
    close: float = pa.Field(gt=0, nullable=False)
    volume: float = pa.Field(ge=0, nullable=False)
    vwap: float = pa.Field(gt=0, nullable=True)
    transactions: int = pa.Field(ge=0, nullable=True)

    @pa.dataframe_check(name="low<=open<=high")
    def open_inside_range(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(((pl.col("low") <= pl.col("open")) & (pl.col("open") <= pl.col("high")))
                                     .fill_null(False))

    @pa.dataframe_check(name="low<=close<=high")
    def close_inside_range(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(((pl.col("low") <= pl.col("close")) & (pl.col("close") <= pl.col("high")))
                                     .fill_null(False))

    @pa.dataframe_check(name="unique(ticker,date)")
    def unique_key(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.struct("ticker", "date").is_duplicated())

    @pa.dataframe_check(name="date is a session of the partition")
    def session_date(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("_session_ok").fill_null(False))

    @pa.dataframe_check(name="contract terms known (listed in the month's contracts)")
    def terms(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.all_horizontal(
            pl.col(c).is_not_null() for c in ("underlying", "contract_type", "strike", "expiration",
                                              "shares_per_contract")))

    @pa.dataframe_check(name="expiration>=date")
    def not_expired(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select((pl.col("expiration") >= pl.col("date")).fill_null(False))

    class Config:
        strict = False
        coerce = False
