"""pandera models of the bronze news tables (see ingest.py). Failing rows go to quarantine with the
names of the checks they fail. Helper columns: `_lo`/`_hi` (the month's publication window, [lo, hi)),
`_unparsed` (a published_utc whose text did not parse), `_article_valid` (the pair's article passed)."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from quantmini.validation import (
    TICKER_LENGTH,
    BronzeModel,
    in_window,
    row_check,
    unique,
)

SENTIMENTS = ["positive", "neutral", "negative"]


class ArticlesBronze(BronzeModel):
    """One news article, once (exact repeats were collapsed before)."""

    id: str = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": 128})
    title: str = pa.Field(nullable=False)

    parsed = row_check("published_utc is RFC 3339 UTC",
                       pl.col("_unparsed").is_null() & pl.col("published_utc").is_not_null())
    unique_id = unique("id")
    window = in_window("published_utc", closed="left")
    has_tickers = row_check("names at least one ticker", pl.col("tickers").list.len().fill_null(0) > 0)


class ArticleTickersBronze(BronzeModel):
    """A ticker an article names, with its insight's sentiment (null: no insight for it)."""

    article_id: str = pa.Field(nullable=False, str_length={"min_value": 1, "max_value": 128})
    ticker: str = pa.Field(nullable=False, str_length=TICKER_LENGTH)
    sentiment: str = pa.Field(nullable=True, isin=SENTIMENTS)

    unique_pair = unique("article_id", "ticker")
    article_valid = row_check("its article is valid", pl.col("_article_valid"))
    window = in_window("published_utc", closed="left")
