"""pandera models of the bronze options tables (see options_daily); a failing row goes to quarantine with
the names of the checks it fails. Columns starting with `_` are helpers the checks read and are dropped:
`_unparsed` (fields whose text did not parse), `_first_day` (the partition month's first day),
`_session_ok` (the bar's date is a session of the partition in range)."""

from __future__ import annotations

import datetime as dt

import pandera.polars as pa
import polars as pl

from quantmini.validation import (
    BarBronze,
    BronzeModel,
    all_parsed,
    ordered,
    row_check,
    unique,
)

OCC_TICKER = r"^O:([A-Z][A-Z0-9.]{0,9})(\d{6})([CP])(\d{8})$"


def occ_ticker_expr() -> pl.Expr:
    """The OCC ticker the contract terms imply: O:<underlying><YYMMDD><C|P><strike*1000, 8 digits>."""
    return pl.concat_str(
        pl.lit("O:"), pl.col("underlying"), pl.col("expiration").dt.strftime("%y%m%d"),
        pl.when(pl.col("contract_type") == "call").then(pl.lit("C")).otherwise(pl.lit("P")),
        (pl.col("strike") * 1000).round(0).cast(pl.Int64).cast(pl.Utf8).str.zfill(8),
    )


class OptionsContractsBronze(BronzeModel):
    """One listed contract (as of the month's last session in range), with its terms."""

    ticker: str = pa.Field(nullable=False, str_matches=OCC_TICKER)
    underlying: str = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": 10})
    contract_type: str = pa.Field(nullable=False, isin=["call", "put"])
    strike: float = pa.Field(nullable=False, gt=0)
    expiration: dt.date = pa.Field(nullable=False)
    shares_per_contract: float = pa.Field(nullable=False, gt=0)

    parsed = all_parsed("dates are YYYY-MM-DD")
    occ = row_check("ticker matches the contract terms (OCC)", (occ_ticker_expr() == pl.col("ticker")).fill_null(False))
    unique_ticker = unique("ticker")
    live = row_check("expiration in or after the partition's month",
                     (pl.col("expiration") >= pl.col("_first_day")).fill_null(False))


class OptionsDailyBronze(BarBronze):
    """One daily bar per (contract, session), never split-adjusted, with the contract's terms."""

    ticker: str = pa.Field(nullable=False, str_matches=OCC_TICKER)  # narrowed; keeps its place, first

    open_inside_range = ordered("low", "open", "high", nulls_fail=True)
    close_inside_range = ordered("low", "close", "high", nulls_fail=True)
    unique_key = unique("ticker", "date")
    session_date = row_check("date is a session of the partition", pl.col("_session_ok").fill_null(False))
    terms = row_check("contract terms known (listed in the month's contracts)", pl.all_horizontal(
        pl.col(c).is_not_null() for c in ("underlying", "contract_type", "strike", "expiration",
                                          "shares_per_contract")))
    not_expired = row_check("expiration>=date", (pl.col("expiration") >= pl.col("date")).fill_null(False))
