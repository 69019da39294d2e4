"""news: landed files (checked against their manifest) -> validated bronze partitions, quarantine, reports."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import polars as pl

from quantmini import atomic
from quantmini.datatypes.news.landing import NewsWindow, _iso
from quantmini.datatypes.news.parse import (
    ARTICLE_TICKERS_SCHEMA,
    ARTICLES_SCHEMA,
    UTC,
    article_tickers,
    parse_articles,
)

log = logging.getLogger("quantmini.news")



def in_universe(articles: pl.DataFrame, pairs: pl.DataFrame, universe) -> tuple[pl.DataFrame, pl.DataFrame]:
    """With a universe list: its tickers' pairs, and the articles naming at least one of them."""
    if universe == "all":
        return articles, pairs
    pairs = pairs.filter(pl.col("ticker").is_in(list(universe)))
    return articles.filter(pl.col("id").is_in(pairs["article_id"].unique())), pairs

# ------------------------------------------------------------------------------------------ bronze
def _landed(manifest: Path, month: str) -> list[bytes]:
    from quantmini.bronze import read_listed_landing

    doc = json.loads(manifest.read_text())
    return [read_listed_landing(manifest.parent / e["file"], e["sha256"]) for e in doc["files"] if e["month"] == month]

def build_news_year(year: int, windows: list[NewsWindow], universe, manifest: Path,
                    outputs: list[dict[str, Path]]) -> list[dict]:
    """Landing -> the year's validated month partitions. outputs: per month {articles, article_tickers,
    quarantine_articles, quarantine_article_tickers, report}. Every month is validated before the first
    file is written, each file atomically."""
    from quantmini.bronze import CorruptLandingError
    from quantmini.datatypes.news.schema import ArticlesBronze, ArticleTickersBronze
    from quantmini.parquet_io import write_parquet
    from quantmini.validation import validate_rows

    listed = [NewsWindow.from_params(p) for p in json.loads(manifest.read_text()).get("windows", [])]
    if listed != windows:
        raise CorruptLandingError(f"{manifest} is for other month windows than this job's (rerun the landing rule)")
    if len(outputs) != len(windows):
        raise ValueError(f"{year:04d}: {len(outputs)} output month(s) for {len(windows)} window(s)")
    built = []
    for w in windows:
        docs = _landed(manifest, w.key)
        served = pl.concat([parse_articles(d) for d in docs]) if docs else parse_articles(b'{"requests":[]}')
        served_rows = served.height
        # exact duplicates (the vendor's repeats) collapse here; conflicting ones fail unique(id) below
        served = served.unique(maintain_order=True)
        pairs = article_tickers(served)
        articles, pairs = in_universe(served.drop("insights"), pairs, universe)
        window = [pl.lit(w.lo, UTC).alias("_lo"), pl.lit(w.hi, UTC).alias("_hi")]
        a_clean, a_bad, a_rep = validate_rows(articles.with_columns(*window), ArticlesBronze,
                                              sort_by=["published_utc", "id"])
        pairs = pairs.with_columns(*window, pl.col("article_id").is_in(a_clean["id"]).alias("_article_valid"))
        t_clean, t_bad, t_rep = validate_rows(pairs, ArticleTickersBronze,
                                              sort_by=["published_utc", "article_id", "ticker"])
        report = {"dtype": "news", "partition": w.key, "window": [_iso(w.lo), _iso(w.hi)],
                  "articles_served": served_rows, **a_rep,
                  "article_tickers": t_rep, "ok": a_rep["ok"] and t_rep["ok"]}
        report["exact_duplicates_collapsed"] = served_rows - served.height
        report["rows_in"] = served_rows
        built.append((a_clean.select(list(ARTICLES_SCHEMA)), a_bad, t_clean.select(list(ARTICLE_TICKERS_SCHEMA)),
                      t_bad, report))
    for (a, a_bad, t, t_bad, report), out in zip(built, outputs, strict=True):
        write_parquet(a, out["articles"])
        write_parquet(t, out["article_tickers"])
        write_parquet(a_bad, out["quarantine_articles"])
        write_parquet(t_bad, out["quarantine_article_tickers"])
        atomic.write_text(out["report"], json.dumps(report, indent=1, sort_keys=True, default=str) + "\n")
        if a_bad.height or t_bad.height:
            log.warning("news %s: %d article(s), %d pair(s) quarantined", report["partition"], a_bad.height,
                        t_bad.height)
    return [b[-1] for b in built]
