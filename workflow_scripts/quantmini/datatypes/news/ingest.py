"""News (`/v2/reference/news`): landing by publication month, bronze articles and article x ticker, and
silver per ticker-session counts and mean sentiment.

Windows (UTC, [lo, hi), whole seconds as the vendor stamps `published_utc`): month M holds the
articles published in it; the range's first month also holds those after the close of the session
before the range (so the first session's count is complete); the range's last month stops one second
after the close of the range's last session (what is published later counts for a session not in range
yet, and may not exist yet). A month is closed when the range has passed its end.

Landing: a month's window is fetched in chunks `<lo>_<hi>.json.gz` (all pages, verbatim, in one gzip
JSON document as for corporate actions). A chunk is named after what it holds, so it is immutable:
a rerun downloads only the part of the window no chunk covers yet -- a one-session update asks for the
articles since the previous cut-off only. The year's `_manifest.json` lists each month's chain of
chunks (with sha256); bronze reads only those.

Bronze (per month): `articles` (one row per article id: the vendor lists some articles twice and
repeats articles across pages; exact duplicates are collapsed and counted, conflicting ones are
quarantined) and `article_tickers` (article_id, ticker, sentiment, sentiment_reasoning,
published_utc): every ticker the article names, with its insight's sentiment (null when the article
has no insight for it). A configured `universe` list keeps the pairs of its tickers and the articles
naming one of them.

Silver (`news_daily`, per month): one row per (ticker, date) of the month's bronze stocks_daily, with
the articles assigned to that session: an article published after the previous session's close and at
or before this session's close (16:00 ET, 13:00 on half days) counts for this session; after the close,
on a weekend or a holiday, it counts for the next session. No look-ahead: a session's figures use only
what was published by its close.
    news_count        articles naming the ticker
    positive/neutral/negative_count   insights of each sentiment
    sentiment_mean    mean of the insights' scores (positive=1, neutral=0, negative=-1); null when none
Session closes come from the rule's params (computed where the calendar is loaded), so the silver job
imports neither pandera nor exchange_calendars.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from quantmini import atomic
from quantmini.lake import LakePaths

log = logging.getLogger("quantmini.news")

PATH = "/v2/reference/news"
PAGE_LIMIT = 1000
UTC = pl.Datetime("us", "UTC")
SCORE = {"positive": 1, "neutral": 0, "negative": -1}
_FMT = "%Y-%m-%dT%H:%M:%SZ"
_NAME_FMT = "%Y%m%dT%H%M%SZ"


def _iso(ts: dt.datetime) -> str:
    return ts.astimezone(dt.UTC).strftime(_FMT)


def _parse(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, _FMT).replace(tzinfo=dt.UTC)


# ------------------------------------------------------------------------------------------ windows
@dataclass(frozen=True)
class NewsWindow:
    """Month (year, month) of publication, [lo, hi) in UTC."""

    year: int
    month: int
    lo: dt.datetime
    hi: dt.datetime

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def to_params(self) -> dict:
        return {"year": self.year, "month": self.month, "lo": _iso(self.lo), "hi": _iso(self.hi)}

    @classmethod
    def from_params(cls, p: dict) -> NewsWindow:
        return cls(int(p["year"]), int(p["month"]), _parse(p["lo"]), _parse(p["hi"]))


def _month_start(year: int, month: int) -> dt.datetime:
    return dt.datetime(year, month, 1, tzinfo=dt.UTC)


def _next_month(year: int, month: int) -> dt.datetime:
    return _month_start(year + (month == 12), month % 12 + 1)


def news_windows(months: list[tuple[int, int]], prev_close: dt.datetime, last_close: dt.datetime) -> list[NewsWindow]:
    """The publication windows of the range's months (module docstring); prev_close is the close of the
    session before the range, last_close the close of the range's last session."""
    first_lo = prev_close + dt.timedelta(seconds=1)
    cutoff = last_close + dt.timedelta(seconds=1)
    out = []
    for k, (y, m) in enumerate(sorted(months)):
        lo = first_lo if k == 0 else _month_start(y, m)
        out.append(NewsWindow(y, m, lo, min(_next_month(y, m), cutoff)))
    return out


def session_closes(sessions: list[dt.date]) -> list[list[str]]:
    """[[session, close UTC], ...] for the rule's params (exchange_calendars: 13:00 ET on half days)."""
    from quantmini import calendar

    return [[d.isoformat(), _iso(calendar.session_bounds_utc(d)[1])] for d in sessions]


def previous_session(day: dt.date) -> dt.date:
    from quantmini import calendar

    return calendar.sessions(day - dt.timedelta(days=20), day - dt.timedelta(days=1))[-1]


# ------------------------------------------------------------------------------------------ landing
def chunk_name(lo: dt.datetime, hi: dt.datetime) -> str:
    return f"{lo.strftime(_NAME_FMT)}_{hi.strftime(_NAME_FMT)}.json.gz"


def _chunk_bounds(name: str) -> tuple[dt.datetime, dt.datetime] | None:
    try:
        lo, hi = name.removesuffix(".json.gz").split("_")
        return (dt.datetime.strptime(lo, _NAME_FMT).replace(tzinfo=dt.UTC),
                dt.datetime.strptime(hi, _NAME_FMT).replace(tzinfo=dt.UTC))
    except ValueError:
        return None


def landed_chain(folder: Path, w: NewsWindow) -> tuple[list[Path], dt.datetime]:
    """The landed chunks covering [w.lo, x) back to back (each step the longest that fits), and x."""
    spans: dict[dt.datetime, list[tuple[dt.datetime, Path]]] = {}
    for f in folder.glob("*.json.gz") if folder.is_dir() else []:
        b = _chunk_bounds(f.name)
        if b and b[1] <= w.hi:
            spans.setdefault(b[0], []).append((b[1], f))
    chain, cur = [], w.lo
    while cur in spans:
        hi, f = max(spans[cur])
        chain.append(f)
        cur = hi
    return chain, cur


def chunk_request(lo: dt.datetime, hi: dt.datetime, limit: int) -> tuple[str, dict[str, str]]:
    return PATH, {"published_utc.gte": _iso(lo), "published_utc.lt": _iso(hi), "order": "asc",
                  "sort": "published_utc", "limit": str(limit)}


def plan_chunks(lake: LakePaths, windows: list[NewsWindow], limit: int = PAGE_LIMIT) -> tuple[list, dict]:
    """(chunks to download: (file, dtype, window, requests); per month, its chain of chunk files)."""
    todo, chains = [], {}
    for w in windows:
        folder = lake.landing_dir("news", w.year, w.month)
        chain, cur = landed_chain(folder, w)
        if cur < w.hi:
            path = folder / chunk_name(cur, w.hi)
            todo.append((path, "news", [_iso(cur), _iso(w.hi)], [chunk_request(cur, w.hi, limit)]))
            chain.append(path)
        chains[w.key] = chain
    return todo, chains


def land_news_year(lake: LakePaths, year: int, windows: list[NewsWindow], manifest: Path, opts,
                   limit: int = PAGE_LIMIT) -> int:
    """Land the year's month windows: fetch only what no landed chunk covers; write the manifest;
    return the number of chunks downloaded now."""
    from quantmini.landing_documents import land_files  # the shared "one client, write each file" loop

    todo, chains = plan_chunks(lake, windows, limit)
    land_files(opts, todo, listing=True)
    entries = []
    for w in windows:
        for f in chains[w.key]:
            data = f.read_bytes()
            entries.append({"month": w.key, "file": str(f.relative_to(manifest.parent)), "bytes": len(data),
                            "sha256": hashlib.sha256(data).hexdigest()})
    doc = {"dtype": "news", "year": year, "windows": [w.to_params() for w in windows], "files": entries}
    atomic.write_text(manifest, json.dumps(doc, indent=1) + "\n")
    return len(todo)


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
NEWS_DAILY_SCHEMA = {"ticker": pl.Utf8, "date": pl.Date, "news_count": pl.UInt32, "positive_count": pl.UInt32,
                     "neutral_count": pl.UInt32, "negative_count": pl.UInt32, "sentiment_mean": pl.Float64}


def parse_articles(doc: bytes) -> pl.DataFrame:
    """A landing document -> one row per served article (duplicates kept), wire fields typed, with
    `insights` still nested and `_unparsed` naming a published_utc that did not parse."""
    from quantmini.landing_documents import results_frame  # the shared page-envelope checks

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
