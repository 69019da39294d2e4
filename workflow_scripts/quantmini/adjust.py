"""Split and dividend adjustment (CRSP-style, multiplicative, back-adjusted) and security identity.

For a security with events e (splits and cash dividends, validated first — see corporate_actions):
    m(split)    = split_from / split_to                      (a 2:1 split: 1/2)
    m(dividend) = 1 - cash_amount / raw_close[session before the ex-date]
    factor(t)   = product of m(e) over events with ex/execution date e > t     (1 after the last event)
    adjusted price = raw price * factor,   adjusted volume = raw volume / factor
so the latest prices are the traded ones and history is scaled to be continuous with them.

A ticker change (FB -> META) is one security: bars are keyed by `security`, the security's latest
symbol, so its whole history follows it.
"""

from __future__ import annotations

import polars as pl

PRICE_COLUMNS = ("open", "high", "low", "close", "vwap")
# the bronze ticker_changes columns symbol_map reads
CHANGE_SCHEMA = {"composite_figi": pl.Utf8, "date": pl.Date, "old_ticker": pl.Utf8, "new_ticker": pl.Utf8}


def symbol_map(ticker_changes: pl.DataFrame) -> pl.DataFrame:
    """ticker, valid_from, valid_to (exclusive, null = open), security (latest symbol) from rename events.

    `ticker_changes`: composite_figi, date (first session under new_ticker), old_ticker, new_ticker.
    """
    if ticker_changes.is_empty():
        return pl.DataFrame(schema={"ticker": pl.Utf8, "valid_from": pl.Date, "valid_to": pl.Date,
                                    "security": pl.Utf8})
    ch = ticker_changes.sort("composite_figi", "date")
    latest = ch.group_by("composite_figi").agg(pl.col("new_ticker").last().alias("security"))
    spans_old = ch.select(
        "composite_figi", pl.col("old_ticker").alias("ticker"),
        pl.col("date").shift(1).over("composite_figi").alias("valid_from"),
        pl.col("date").alias("valid_to"),
    )
    spans_new = ch.group_by("composite_figi").agg(
        pl.col("new_ticker").last().alias("ticker"), pl.col("date").max().alias("valid_from")
    ).with_columns(pl.lit(None, pl.Date).alias("valid_to"))
    return (pl.concat([spans_old, spans_new.select(spans_old.columns)])
            .join(latest, on="composite_figi").drop("composite_figi"))


def assign_security(bars: pl.DataFrame, symbols: pl.DataFrame, date_col: str = "date") -> pl.DataFrame:
    """Add `security` to bars: the latest symbol of the security that held `ticker` on `date_col`."""
    if symbols.is_empty():
        return bars.with_columns(pl.col("ticker").alias("security"))
    idx = bars.with_row_index("_i")
    day = pl.col(date_col)
    hits = (idx.select("_i", "ticker", date_col).join(symbols, on="ticker", how="inner")
            .filter((pl.col("valid_from").is_null() | (day >= pl.col("valid_from")))
                    & (pl.col("valid_to").is_null() | (day < pl.col("valid_to"))))
            .select("_i", "security"))
    return (idx.join(hits, on="_i", how="left")
            .with_columns(pl.col("security").fill_null(pl.col("ticker")))
            .drop("_i"))


def event_multipliers(bars: pl.DataFrame, splits: pl.DataFrame, dividends: pl.DataFrame) -> pl.DataFrame:
    """security, date (ex/execution date), m: one multiplier per security and event date.

    bars: security, date, close (raw). splits: security, execution_date, split_from, split_to.
    dividends: security, ex_dividend_date, cash_amount. The close of the session before a dividend's
    ex-date is the security's last bar strictly before it.
    """
    closes = bars.select("security", "date", "close").sort("security", "date")
    div = (dividends.select("security", pl.col("ex_dividend_date").alias("date"), "cash_amount")
           .sort("security", "date")
           .join_asof(closes.rename({"date": "prev_date"}), left_on="date", right_on="prev_date",
                      by="security", strategy="backward", allow_exact_matches=False, check_sortedness=False)
           .filter(pl.col("close").is_not_null())
           .select("security", "date", (1.0 - pl.col("cash_amount") / pl.col("close")).alias("m")))
    spl = splits.select("security", pl.col("execution_date").alias("date"),
                        (pl.col("split_from") / pl.col("split_to")).alias("m"))
    return (pl.concat([div, spl.cast(div.schema)])
            .group_by("security", "date").agg(pl.col("m").product())
            .sort("security", "date"))


def factors(bars: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """security, date, factor for every bar: product of the multipliers of events dated after it."""
    keys = bars.select("security", "date").unique().sort("security", "date")
    # an event attaches to the last bar before its date; factor(t) = prod of attached m over bars >= ... > t
    attached = (events.sort("security", "date")
                .join_asof(keys.rename({"date": "bar"}), left_on="date", right_on="bar", by="security",
                           strategy="backward", allow_exact_matches=False, check_sortedness=False)
                .filter(pl.col("bar").is_not_null())
                .group_by("security", "bar").agg(pl.col("m").product()))
    return (keys.join(attached, left_on=["security", "date"], right_on=["security", "bar"], how="left")
            .with_columns(pl.col("m").fill_null(1.0))
            .sort("security", "date", descending=[False, True])
            .with_columns(pl.col("m").cum_prod().over("security").alias("factor"))
            .sort("security", "date")
            .drop("m"))


def apply(bars: pl.DataFrame, factor_table: pl.DataFrame) -> pl.DataFrame:
    """Add factor and adj_* columns (price * factor, volume / factor) to raw bars."""
    out = bars.join(factor_table, on=["security", "date"], how="left").with_columns(
        pl.col("factor").fill_null(1.0))
    return out.with_columns(
        *[(pl.col(c) * pl.col("factor")).alias(f"adj_{c}") for c in PRICE_COLUMNS],
        (pl.col("volume") / pl.col("factor")).alias("adj_volume"),
    )
