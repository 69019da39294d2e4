"""news: landing bodies -> typed frames (the vendor's wire shapes and the bronze column types)."""

from __future__ import annotations

import polars as pl

UTC = pl.Datetime("us", "UTC")

# ------------------------------------------------------------------------------------------ parsing
_INSIGHT = pl.Struct({"ticker": pl.Utf8, "sentiment": pl.Utf8, "sentiment_reasoning": pl.Utf8})

_PUBLISHER = pl.Struct({"name": pl.Utf8, "homepage_url": pl.Utf8, "logo_url": pl.Utf8, "favicon_url": pl.Utf8})

ARTICLE_WIRE = pl.Struct({
    "id": pl.Utf8, "publisher": _PUBLISHER, "title": pl.Utf8, "author": pl.Utf8, "published_utc": pl.Utf8,
    "article_url": pl.Utf8, "amp_url": pl.Utf8, "image_url": pl.Utf8, "description": pl.Utf8,
    "tickers": pl.List(pl.Utf8), "keywords": pl.List(pl.Utf8), "insights": pl.List(_INSIGHT),
})

ARTICLES_SCHEMA = {
    "id": pl.Utf8, "published_utc": UTC, "title": pl.Utf8, "author": pl.Utf8, "description": pl.Utf8,
    "article_url": pl.Utf8, "amp_url": pl.Utf8, "image_url": pl.Utf8, "publisher_name": pl.Utf8,
    "publisher_homepage_url": pl.Utf8, "publisher_logo_url": pl.Utf8, "publisher_favicon_url": pl.Utf8,
    "tickers": pl.List(pl.Utf8), "keywords": pl.List(pl.Utf8),
}

ARTICLE_TICKERS_SCHEMA = {"article_id": pl.Utf8, "ticker": pl.Utf8, "sentiment": pl.Utf8,
                          "sentiment_reasoning": pl.Utf8, "published_utc": UTC}

def parse_articles(doc: bytes) -> pl.DataFrame:
    """A landing document -> one row per served article (duplicates kept), wire fields typed, with
    `insights` still nested and `_unparsed` naming a published_utc that did not parse."""
    from quantmini.landing_documents import (
        results_frame,  # the shared page-envelope checks
    )

    raw = results_frame(doc, ARTICLE_WIRE, "news")
    published = pl.col("published_utc").str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", strict=False,
                                                        time_zone="UTC", time_unit="us")
    return raw.select(
        "id", published.alias("published_utc"), "title", "author", "description", "article_url", "amp_url",
        "image_url", *[pl.col("publisher").struct.field(f).alias(f"publisher_{f}")
                       for f in ("name", "homepage_url", "logo_url", "favicon_url")],
        "tickers", "keywords", "insights",
        pl.when(pl.col("published_utc").is_not_null() & published.is_null())
        .then(pl.lit("published_utc")).alias("_unparsed"),
    )

def article_tickers(articles: pl.DataFrame) -> pl.DataFrame:
    """Every (article, ticker) the article names or has an insight for, with the insight's sentiment."""
    named = (articles.select(pl.col("id").alias("article_id"), "published_utc", pl.col("tickers").alias("ticker"))
             .explode("ticker").filter(pl.col("ticker").is_not_null()))
    insights = (articles.select(pl.col("id").alias("article_id"), "published_utc", pl.col("insights"))
                .explode("insights").filter(pl.col("insights").is_not_null()).unnest("insights"))
    pairs = named.join(insights, on=["article_id", "published_utc", "ticker"], how="full", coalesce=True,
                       nulls_equal=True)
    return pairs.select(list(ARTICLE_TICKERS_SCHEMA)).cast(ARTICLE_TICKERS_SCHEMA)
