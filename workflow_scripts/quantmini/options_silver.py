"""Silver options_daily: each bronze bar with its underlying and its BSM implied vol and greeks.

Per bar (contract with strike K, expiring on `expiration`; session `date`; close price V):
    underlying_close S  = the underlying's RAW close that session (bronze stocks_daily: options are never
                          split-adjusted, so neither is S); null when the underlying has no bar
    moneyness           = S / K
    days_to_expiry      = expiration - date in calendar days;  T = days_to_expiry / 365
    dividend_yield q    = (cash dividends of the underlying with ex-date in (date - 365 days, date]) / S,
                          used as a continuous yield (bronze dividends; only those inside the lake's range)
    rate r              = the configured options.rate (continuous)
    iv                  = the BSM vol that prices V (quantmini.bsm.implied_vol; NaN where none fits)
    delta, gamma, vega, theta at iv (quantmini.bsm units: vega per 1.00 vol, theta per year)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from quantmini import bsm
from quantmini.parquet_io import write_parquet

YEAR_DAYS = 365.0


def trailing_dividends(pairs: pl.DataFrame, dividends: pl.DataFrame) -> pl.DataFrame:
    """underlying, date, div_12m: the cash dividends with ex-date in (date - 365 days, date]."""
    if dividends.is_empty():
        return pairs.with_columns(pl.lit(0.0).alias("div_12m"))
    joined = (pairs.join(dividends, left_on="underlying", right_on="ticker", how="inner")
              .filter((pl.col("ex_dividend_date") <= pl.col("date"))
                      & (pl.col("ex_dividend_date") > pl.col("date") - pl.duration(days=365)))
              .group_by("underlying", "date").agg(pl.col("cash_amount").sum().alias("div_12m")))
    return pairs.join(joined, on=["underlying", "date"], how="left").with_columns(pl.col("div_12m").fill_null(0.0))


def enrich(bars: pl.DataFrame, closes: pl.DataFrame, dividends: pl.DataFrame, rate: float) -> pl.DataFrame:
    """Bronze bars -> silver rows (module docstring). `closes`: ticker, date, close; `dividends`: ticker,
    ex_dividend_date, cash_amount."""
    under = closes.select(pl.col("ticker").alias("underlying"), "date", pl.col("close").alias("underlying_close"))
    pairs = bars.select("underlying", "date").unique()
    df = (bars.join(under, on=["underlying", "date"], how="left")
          .join(trailing_dividends(pairs, dividends), on=["underlying", "date"], how="left")
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


def build_silver_month(options: Path, stocks: Path, dividends: list[Path], rate: float, out: Path) -> dict:
    bars = pl.read_parquet(options)
    closes = pl.read_parquet(stocks, columns=["ticker", "date", "close"])
    frames = [pl.read_parquet(p, columns=["id", "ticker", "ex_dividend_date", "cash_amount"]) for p in dividends]
    divs = (pl.concat(frames).unique("id").filter(pl.col("cash_amount") > 0) if frames
            else pl.DataFrame(schema={"id": pl.Utf8, "ticker": pl.Utf8, "ex_dividend_date": pl.Date,
                                      "cash_amount": pl.Float64}))
    silver = enrich(bars, closes, divs.drop("id"), rate).sort("ticker", "date")
    write_parquet(silver, out)
    return {"rows": silver.height, "with_iv": int(silver["iv"].is_not_nan().sum())}
