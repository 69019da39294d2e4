"""news: the silver join; see the package docstring."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from quantmini.datatypes.news.landing import _FMT, _parse
from quantmini.datatypes.news.parse import ARTICLE_TICKERS_SCHEMA, UTC

SCORE = {"positive": 1, "neutral": 0, "negative": -1}

NEWS_DAILY_SCHEMA = {"ticker": pl.Utf8, "date": pl.Date, "news_count": pl.UInt32, "positive_count": pl.UInt32,
                     "neutral_count": pl.UInt32, "negative_count": pl.UInt32, "sentiment_mean": pl.Float64}

# ------------------------------------------------------------------------------------------ silver
def assign_sessions(pairs: pl.DataFrame, closes: list[list[str]], prev_close: str) -> pl.DataFrame:
    """Add `date`: the session an article counts for -- the first session whose close is at or after
    its publication. Rows published at or before prev_close (counted for an earlier session) or after
    the last close (a session not in range) are dropped."""
    table = pl.DataFrame({"date": [c[0] for c in closes], "_close": [c[1] for c in closes]}).select(
        pl.col("date").str.to_date(), pl.col("_close").str.to_datetime(_FMT, time_zone="UTC").cast(UTC))
    lo = _parse(prev_close)
    pairs = pairs.filter(pl.col("published_utc") > lo).sort("published_utc")
    return (pairs.join_asof(table.sort("_close"), left_on="published_utc", right_on="_close", strategy="forward")
            .filter(pl.col("date").is_not_null()).drop("_close"))

def news_daily(pairs: pl.DataFrame, bars: pl.DataFrame, closes: list[list[str]], prev_close: str) -> pl.DataFrame:
    """One row per (ticker, date) of `bars`: the month's news figures (module docstring)."""
    counted = assign_sessions(pairs.unique(["article_id", "ticker"]), closes, prev_close)
    score = pl.col("sentiment").replace_strict(SCORE, default=None, return_dtype=pl.Float64)
    per = counted.group_by("ticker", "date").agg(
        pl.col("article_id").n_unique().cast(pl.UInt32).alias("news_count"),
        *[(pl.col("sentiment") == s).sum().cast(pl.UInt32).alias(f"{s}_count") for s in SCORE],
        score.mean().alias("sentiment_mean"),
    )
    counts = ["news_count", "positive_count", "neutral_count", "negative_count"]
    return (bars.select("ticker", "date").unique().join(per, on=["ticker", "date"], how="left")
            .with_columns(pl.col(counts).fill_null(0)).select(list(NEWS_DAILY_SCHEMA)).cast(NEWS_DAILY_SCHEMA)
            .sort("ticker", "date"))

def build_news_daily(pair_files: list[Path], bars_file: Path, closes: list[list[str]], prev_close: str,
                     out: Path) -> pl.DataFrame:
    from quantmini.parquet_io import write_parquet

    pairs = (pl.concat([pl.read_parquet(f) for f in pair_files]) if pair_files
             else pl.DataFrame(schema=ARTICLE_TICKERS_SCHEMA))
    frame = news_daily(pairs, pl.read_parquet(bars_file, columns=["ticker", "date"]), closes, prev_close)
    write_parquet(frame, out)
    return frame
