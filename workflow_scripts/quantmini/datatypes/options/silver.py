"""Silver options_daily: each bronze bar with its underlying and its BSM implied vol and greeks.

Per bar (contract with strike K, expiring on `expiration`; session `date`; close price V):
    underlying_close S  = the underlying's RAW close that session (bronze stocks_daily: options are never
                          split-adjusted, so neither is S); null when the underlying has no bar
    moneyness           = S / K
    days_to_expiry      = expiration - date in calendar days;  T = days_to_expiry / 365
    dividend_yield q    = (cash dividends of the underlying with ex-date in (date - 365 days, date]) / S,
                          used as a continuous yield (bronze dividends; only those inside the lake's range)
    rate r              = the configured options.rate (continuous)
    iv                  = the BSM vol that prices V (bsm.implied_vol; NaN where none fits)
    delta, gamma, vega, theta at iv (bsm units: vega per 1.00 vol, theta per year)

The underlying is a security, not a symbol. A contract keeps the root it was listed under when its
underlying changes ticker (FB -> META): `underlying` stays that root, as the vendor lists it, while the
stock trades, and pays dividends, under the new symbol from the rename on. So each (underlying, date) is
resolved through the bronze ticker changes (adjust.symbol_map over the renames up to the end of the
month): the security is the one that held the root symbol most recently on or before `date`; S is that
security's bar on `date`, whatever symbol it trades under that day, and q counts its dividends under any
of its symbols (a contract listed after the rename has the new root: the dividends paid under the old
one count). An underlying without a rename is its own symbol: its rows are exactly as without ticker
changes. Limits: only renames inside the lake's range are known (`ticker_changes` in data_types; without
it every root is its own symbol), the new symbol's bars must be in bronze (a `universe` list must name
it), and a root symbol taken over by another security while the old contracts still trade resolves to
the new holder from then on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from quantmini import adjust
from quantmini.adjust import CHANGE_SCHEMA
from quantmini.datatypes.options import bsm
from quantmini.parquet_io import read_many, write_parquet

YEAR_DAYS = 365.0


def resolve_underlying(pairs: pl.DataFrame, symbols: pl.DataFrame) -> pl.DataFrame:
    """underlying, date -> underlying, date, security: the latest symbol of the security that held the
    root symbol `underlying` most recently on or before `date` (the span of that symbol starting last on or
    before the date, even if it has ended: a renamed root); the root itself when no rename involves it.
    `symbols`: adjust.symbol_map."""
    if symbols.is_empty():
        return pairs.with_columns(pl.col("underlying").alias("security"))
    spans = (symbols.select(pl.col("ticker").alias("underlying"),
                            pl.col("valid_from").fill_null(pl.date(1, 1, 1)), "security")
             .sort("underlying", "valid_from"))
    hits = pairs.sort("underlying", "date").join_asof(
        spans, left_on="date", right_on="valid_from", by="underlying", strategy="backward", check_sortedness=False)
    return hits.select("underlying", "date", pl.col("security").fill_null(pl.col("underlying")))


def trailing_dividends(pairs: pl.DataFrame, dividends: pl.DataFrame) -> pl.DataFrame:
    """security, date, div_12m: the cash dividends with ex-date in (date - 365 days, date].

    `pairs`: security, date; `dividends`: security (of the ticker they were paid under, on the ex-date),
    ex_dividend_date, cash_amount.
    """
    if dividends.is_empty():
        return pairs.with_columns(pl.lit(0.0).alias("div_12m"))
    joined = (pairs.join(dividends, on="security", how="inner")
              .filter((pl.col("ex_dividend_date") <= pl.col("date"))
                      & (pl.col("ex_dividend_date") > pl.col("date") - pl.duration(days=365)))
              # a join's row order varies between runs: sum in a fixed order, so a rebuild is bit-identical
              .sort("security", "date", "ex_dividend_date", "cash_amount")
              .group_by("security", "date", maintain_order=True).agg(pl.col("cash_amount").sum().alias("div_12m")))
    return pairs.join(joined, on=["security", "date"], how="left").with_columns(pl.col("div_12m").fill_null(0.0))


def enrich(bars: pl.DataFrame, closes: pl.DataFrame, dividends: pl.DataFrame, rate: float,
           changes: pl.DataFrame | None = None) -> pl.DataFrame:
    """Bronze bars -> silver rows (module docstring). `closes`: ticker, date, close; `dividends`: ticker,
    ex_dividend_date, cash_amount; `changes`: bronze ticker changes (adjust.CHANGE_SCHEMA), None = none."""
    symbols = adjust.symbol_map(changes if changes is not None else pl.DataFrame())
    # a bar under a security's latest symbol from before that symbol was its own (not in the renames: an
    # unrelated security, or the vendor early) is keyed by that symbol too; the security's own bar, under
    # the symbol it held that day (ticker != security), wins. Only renamed securities can collide.
    under = (adjust.assign_security(closes, symbols)
             .sort(pl.col("ticker") == pl.col("security"))
             .unique(["security", "date"], keep="first")
             .select("security", "date", pl.col("close").alias("underlying_close")))
    divs = adjust.assign_security(dividends, symbols, date_col="ex_dividend_date").drop("ticker")
    pairs = resolve_underlying(bars.select("underlying", "date").unique(), symbols)
    df = (bars.join(pairs, on=["underlying", "date"], how="left")
          .join(under, on=["security", "date"], how="left")
          .join(trailing_dividends(pairs.drop("underlying").unique(), divs), on=["security", "date"], how="left")
          .drop("security")
          .with_columns((pl.col("expiration") - pl.col("date")).dt.total_days().alias("days_to_expiry"))
          .with_columns(
              (pl.col("underlying_close") / pl.col("strike")).alias("moneyness"),
              (pl.col("days_to_expiry") / YEAR_DAYS).alias("T"),
              pl.lit(rate, pl.Float64).alias("rate"),
              (pl.col("div_12m") / pl.col("underlying_close")).alias("dividend_yield"),
          ))
    S = df["underlying_close"].to_numpy().astype(np.float64)
    K, T = df["strike"].to_numpy(), df["T"].to_numpy().astype(np.float64)
    q = df["dividend_yield"].to_numpy().astype(np.float64)
    V = df["close"].to_numpy()
    call = (df["contract_type"] == "call").to_numpy()
    iv = bsm.implied_vol(V, S, K, T, rate, q, call)
    g = bsm.greeks(S, K, T, rate, q, iv, call)
    return df.drop("div_12m", "T").with_columns(
        pl.Series("iv", iv),
        *[pl.Series(k, g[k]) for k in ("delta", "gamma", "vega", "theta")],
    )


def build_silver_month(options: Path, stocks: Path, dividends: list[Path], rate: float, out: Path,
                       changes: list[Path] = ()) -> dict:
    """Write one month's silver. `changes`: the bronze ticker_changes months up to this one."""
    bars = pl.read_parquet(options)
    closes = pl.read_parquet(stocks, columns=["ticker", "date", "close"])
    frames = [pl.read_parquet(p, columns=["id", "ticker", "ex_dividend_date", "cash_amount"]) for p in dividends]
    divs = (pl.concat(frames).unique("id").filter(pl.col("cash_amount") > 0) if frames
            else pl.DataFrame(schema={"id": pl.Utf8, "ticker": pl.Utf8, "ex_dividend_date": pl.Date,
                                      "cash_amount": pl.Float64}))
    renames = read_many(changes, CHANGE_SCHEMA, columns=list(CHANGE_SCHEMA)).unique()
    silver = enrich(bars, closes, divs.drop("id"), rate, renames).sort("ticker", "date")
    write_parquet(silver, out)
    return {"rows": silver.height, "with_iv": int(silver["iv"].is_not_nan().sum())}
