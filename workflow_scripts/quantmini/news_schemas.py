"""pandera models of the bronze news tables (see quantmini.news). Failing rows go to quarantine with the
names of the checks they fail. Helper columns: `_lo`/`_hi` (the month's publication window, [lo, hi)),
`_unparsed` (a published_utc whose text did not parse), `_article_valid` (the pair's article passed)."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

SENTIMENTS = ["positive", "neutral", "negative"]


def _in_window() -> pl.Expr:
    return ((pl.col("published_utc") >= pl.col("_lo")) & (pl.col("published_utc") < pl.col("_hi"))).fill_null(False)


class ArticlesBronze(pa.DataFrameModel):
    """One news article, once (exact repeats were collapsed before)."""

    id: str = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": 128})
    title: str = pa.Field(nullable=False)

    @pa.dataframe_check(name="published_utc is RFC 3339 UTC")
    def parsed(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("_unparsed").is_null() & pl.col("published_utc").is_not_null())

    @pa.dataframe_check(name="unique(id)")
    def unique_id(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.col("id").is_duplicated())

    @pa.dataframe_check(name="published_utc inside the partition's window")
    def in_window(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_in_window())

    @pa.dataframe_check(name="names at least one ticker")
    def has_tickers(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("tickers").list.len().fill_null(0) > 0)

    class Config:
        strict = False
        coerce = False


class ArticleTickersBronze(pa.DataFrameModel):
    """A ticker an article names, with its insight's sentiment (null: no insight for it)."""

    article_id: str = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": 128})
    ticker: str = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": 16})
    sentiment: str = pa.Field(nullable=True, isin=SENTIMENTS)

    @pa.dataframe_check(name="unique(article_id,ticker)")
    def unique_pair(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(~pl.struct("article_id", "ticker").is_duplicated())

    @pa.dataframe_check(name="its article is valid")
    def article_valid(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("_article_valid"))

    @pa.dataframe_check(name="published_utc inside the partition's window")
    def in_window(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_in_window())

    class Config:
        strict = False
        coerce = False
