"""The real workflow against the live simulator: news (bronze articles, article x ticker, silver news_daily)
and ticker_details snapshots with the universe filter on (common stocks only). The reference is the
simulator's ground truth (`Market`, `News`), never our own earlier output.

One lake (14 securities: 12 common stocks, an ADR, a preferred; 2024-01-02 .. 2024-02-06, news pages of
40 so every month spans pages) is built, built again (a no-op), then extended by one session
(2024-02-07); the tests read that lake and the simulator's request log.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qsl

import exchange_calendars as xc
import numpy as np
import orjson
import pandas as pd
import polars as pl
import pytest
from quantmini.sim.market import Market, MarketConfig
from quantmini.sim.news import News
from quantmini.sim.server import SimProcess
from workflow_helpers import run_workflow, write_config

TICKERS, SEED, START, FIRST_END, END, SIM_END = 14, 42, "2024-01-02", "2024-02-06", "2024-02-07", "2024-03-28"
MONTHS = [(2024, 1), (2024, 2)]
UTC = dt.UTC


def part(y, m):
    return f"year={y:04d}/month={m:02d}"


def targets(lake: Path) -> list[str]:
    return ["bronze"] + [str(lake / "silver/news_daily" / part(y, m) / "data.parquet") for y, m in MONTHS]


def xnys_close(day: dt.date) -> dt.datetime:
    return xc.get_calendar("XNYS").session_close(pd.Timestamp(day)).to_pydatetime()


@pytest.fixture(scope="module")
def market():
    return Market(MarketConfig(seed=SEED, n_tickers=TICKERS, start=START, end=SIM_END))


@pytest.fixture(scope="module")
def truth(market):
    """Articles and pairs published after the close before the range (2023-12-29) and by END's close."""
    lo = xnys_close(dt.date(2023, 12, 29)) + dt.timedelta(seconds=1)
    hi = xnys_close(dt.date.fromisoformat(END)) + dt.timedelta(seconds=1)
    articles, pairs = News(market).truth(lo, hi)
    return SimpleNamespace(articles=articles, pairs=pairs, lo=lo, hi=hi)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("news_workflow")
    work = tmp / "work"
    work.mkdir()
    lake = work / "lake"
    out = SimpleNamespace(lake=lake, timings={})
    cfg = dict(start=START, data_types=["stocks_daily", "news", "ticker_details"],
               universe_filter={"types": ["CS"]}, news={"page_limit": 40})
    log = str(tmp / "requests.jsonl")
    with SimProcess(tickers=TICKERS, seed=SEED, start=START, end=SIM_END, request_log=log) as sim:
        write_config(work, end=FIRST_END, **cfg)
        t0 = time.monotonic()
        run_workflow(work, sim.url, *targets(lake))
        out.timings["build"] = time.monotonic() - t0
        out.first_requests = sim.requests()
        out.first_silver_feb = pl.read_parquet(lake / "silver/news_daily" / part(2024, 2) / "data.parquet")
        out.mtimes = {p: p.stat().st_mtime_ns for p in lake.rglob("*.parquet")}
        t0 = time.monotonic()
        proc = run_workflow(work, sim.url, *targets(lake))
        out.timings["no-op"] = time.monotonic() - t0
        out.noop_output = proc.stdout + proc.stderr
        out.noop_requests = sim.requests()[len(out.first_requests):]
        write_config(work, end=END, **cfg)
        t0 = time.monotonic()
        run_workflow(work, sim.url, *targets(lake))
        out.timings["next session"] = time.monotonic() - t0
        out.next_requests = sim.requests()[len(out.first_requests) + len(out.noop_requests):]
    print("timings:", {k: round(v, 1) for k, v in out.timings.items()})
    return out


def read(lake: Path, layer: str, dtype: str, name: str = "data") -> pl.DataFrame:
    files = [lake / layer / dtype / part(y, m) / f"{name}.parquet" for y, m in MONTHS]
    return pl.concat([pl.read_parquet(f) for f in files])


def landed(folder: Path) -> dict:
    """The first landing document of a month folder, parsed."""
    return orjson.loads(gzip.decompress(next(folder.glob("*.json.gz")).read_bytes()))


def query(r: dict) -> dict:
    return dict(parse_qsl(r["query"]))


# ------------------------------------------------------------------------------------------ bronze news
def test_bronze_articles_equal_truth_deduplicated_over_all_pages(run, truth):
    articles = read(run.lake, "bronze", "news", "articles")
    assert articles["id"].is_unique().all()
    assert truth.articles.height > 100
    got = articles.select("id", "published_utc", "title", "publisher_name", "tickers").sort("published_utc", "id")
    assert got.equals(truth.articles.sort("published_utc", "id"))
    # every month came in several pages, and the vendor repeated articles the bronze job collapsed
    pages = [r for r in run.first_requests if r["path"] == "/v2/reference/news"]
    assert sum("cursor" in query(r) for r in pages) >= 2
    reports = [json.loads((run.lake / "reports/validation/news" / f"{part(y, m)}.json").read_text()) for y, m in MONTHS]
    assert sum(r["exact_duplicates_collapsed"] for r in reports) > 0 and all(r["ok"] for r in reports)
    assert sum(r["articles_served"] for r in reports) > articles.height


def test_bronze_articles_partitioned_by_publication_month(run, truth):
    jan = pl.read_parquet(run.lake / "bronze/news" / part(2024, 1) / "articles.parquet")
    feb = pl.read_parquet(run.lake / "bronze/news" / part(2024, 2) / "articles.parquet")
    # January also holds what was published after the close before the range (2023-12-29 16:00 ET)
    assert jan["published_utc"].min() >= truth.lo and jan["published_utc"].max() < dt.datetime(2024, 2, 1, tzinfo=UTC)
    assert feb["published_utc"].min() >= dt.datetime(2024, 2, 1, tzinfo=UTC) and feb["published_utc"].max() < truth.hi


def test_bronze_article_tickers_equal_truth(run, truth):
    pairs = read(run.lake, "bronze", "news", "article_tickers")
    assert pairs.columns == ["article_id", "ticker", "sentiment", "sentiment_reasoning", "published_utc"]
    key = ["article_id", "ticker"]
    assert pairs.sort(key).equals(truth.pairs.sort(key))
    assert pairs["sentiment"].null_count() > 0
    assert set(pairs["sentiment"].drop_nulls()) == {"positive", "neutral", "negative"}
    assert (pairs.group_by("article_id").len()["len"] > 1).any(), "no article about several tickers"


# ------------------------------------------------------------------------------------------ silver
def expected_news_daily(market, truth) -> pl.DataFrame:
    """The rule written out plainly: an article counts for the first session whose close is at or after
    its publication; one row per bar of a common stock in range."""
    days = [d.date() for d in xc.get_calendar("XNYS").sessions_in_range("2024-01-02", END)]
    closes = [(d, xnys_close(d)) for d in days]

    def session_of(ts):
        for d, close in closes:
            if ts <= close:
                return d
        return None

    score = {"positive": 1, "neutral": 0, "negative": -1, None: None}
    acc: dict[tuple[str, dt.date], list] = {}
    for article_id, ticker, sentiment, _, published in truth.pairs.iter_rows():
        acc.setdefault((ticker, session_of(published)), []).append((article_id, score[sentiment]))
    cs = market.securities().filter(pl.col("type") == "CS")["security_id"]
    bars = market.daily_raw().filter(pl.col("security_id").is_in(cs.to_list())
                                     & pl.col("date").is_between(days[0], days[-1]))
    rows = []
    for ticker, day in bars.select("ticker", "date").iter_rows():
        items = acc.get((ticker, day), [])
        scores = [s for _, s in items if s is not None]
        rows.append((ticker, day, len({a for a, _ in items}), scores.count(1), scores.count(0), scores.count(-1),
                     sum(scores) / len(scores) if scores else None))
    return pl.DataFrame(rows, orient="row", schema=["ticker", "date", "news_count", "positive_count", "neutral_count",
                                                     "negative_count", "sentiment_mean"]).sort("ticker", "date")


def test_silver_news_daily_equals_counts_from_truth(run, market, truth):
    silver = read(run.lake, "silver", "news_daily").sort("ticker", "date")
    expected = expected_news_daily(market, truth)
    assert silver.select("ticker", "date").equals(expected.select("ticker", "date"))
    for col in ("news_count", "positive_count", "neutral_count", "negative_count"):
        assert silver[col].cast(pl.Int64).to_list() == expected[col].to_list(), col
    assert silver["sentiment_mean"].is_null().to_list() == expected["sentiment_mean"].is_null().to_list()
    diff = (silver["sentiment_mean"] - expected["sentiment_mean"]).abs().drop_nulls()
    assert diff.max() < 1e-12
    assert (silver["news_count"] == 0).any() and (silver["news_count"] > 1).any()


def test_no_look_ahead(run, truth):
    """An article at a session's close counts for it, one second later for the next session; and the
    session that arrived later did not change a single figure of the sessions before it."""
    ny = xc.get_calendar("XNYS").tz
    days = [d.date() for d in xc.get_calendar("XNYS").sessions_in_range("2024-01-02", END)]
    closes = {d: xnys_close(d) for d in days}
    following = dict(zip(days, days[1:]))
    silver = read(run.lake, "silver", "news_daily").select("ticker", "date", "news_count")
    counts = {(t, d): n for t, d, n in silver.iter_rows()}
    seen = 0
    for ticker, published in truth.pairs.select("ticker", "published_utc").iter_rows():
        d = published.astimezone(ny).date()
        if d not in closes:
            continue
        if published == closes[d] and (ticker, d) in counts:
            assert counts[(ticker, d)] >= 1
            seen += 1
        elif published == closes[d] + dt.timedelta(seconds=1) and (ticker, following.get(d)) in counts:
            assert counts[(ticker, following[d])] >= 1
            seen += 1
    assert seen > 0, "the simulator served no close-edge article in range"
    final = pl.read_parquet(run.lake / "silver/news_daily" / part(2024, 2) / "data.parquet")
    before = final.filter(pl.col("date") <= dt.date.fromisoformat(FIRST_END)).sort("ticker", "date")
    assert before.height and before.equals(run.first_silver_feb.sort("ticker", "date"))


# ------------------------------------------------------------------------------------------ ticker details
def traded(market, y, m, last: dt.date) -> pl.DataFrame:
    first = dt.date(y, m, 1)
    return (market.daily_raw().filter(pl.col("date").is_between(first, last))
            .group_by("ticker", "security_id").agg(pl.col("date").max().alias("as_of")))


def test_ticker_details_snapshots_equal_truth(run, market):
    secs = market.securities().select("security_id", "type", "composite_figi")
    for (y, m), last in zip(MONTHS, (dt.date(2024, 1, 31), dt.date.fromisoformat(END)), strict=True):
        snap = pl.read_parquet(run.lake / "bronze/ticker_details" / part(y, m) / "data.parquet").sort("ticker")
        want = traded(market, y, m, last).join(secs, on="security_id").sort("ticker")
        assert snap["ticker"].to_list() == want["ticker"].to_list()
        assert snap["type"].to_list() == want["type"].to_list()
        assert snap["composite_figi"].to_list() == want["composite_figi"].to_list()
        assert snap["as_of"].to_list() == want["as_of"].to_list() and set(snap["snapshot_date"]) == {last}
        for row, sid in zip(snap.iter_rows(named=True), want["security_id"], strict=True):
            j = int(np.flatnonzero(market.security_id == sid)[0])
            i = market.session_index(row["as_of"])
            shares = market.shares_outstanding(j, i)
            assert row["share_class_shares_outstanding"] == int(shares)
            assert row["market_cap"] == pytest.approx(shares * market.c[i, j] / 1e4, rel=1e-9)
        assert {"ADRC", "PFD"} <= set(snap["type"]), "the filter has nothing to drop"


def test_universe_filter_keeps_exactly_the_common_stocks(run, market):
    bars = read(run.lake, "bronze", "stocks_daily").sort("ticker", "date")
    cs = market.securities().filter(pl.col("type") == "CS")["security_id"]
    want = (market.daily_raw().filter(pl.col("security_id").is_in(cs.to_list())
                                       & pl.col("date").is_between(dt.date(2024, 1, 2), dt.date.fromisoformat(END)))
            .select("ticker", "date", "close").sort("ticker", "date"))
    assert bars.select("ticker", "date", "close").equals(want)
    dropped = market.securities().filter(pl.col("type") != "CS")["current_ticker"]
    assert dropped.len() >= 2 and not set(bars["ticker"]) & set(dropped)


# ------------------------------------------------------------------------------------------ incremental
def test_second_run_does_nothing(run):
    assert "Nothing to be done" in run.noop_output
    assert run.noop_requests == []


def test_one_session_update_requests_only_what_is_new(run, market):
    news = [r for r in run.next_requests if r["path"] == "/v2/reference/news"]
    assert [(query(r)["published_utc.gte"], query(r)["published_utc.lt"]) for r in news] == [
        ("2024-02-06T21:00:01Z", "2024-02-07T21:00:01Z")]
    details = [r for r in run.next_requests if r["path"].startswith("/v3/reference/tickers/")]
    want = traded(market, 2024, 2, dt.date.fromisoformat(END))
    asked = {(r["path"].rsplit("/", 1)[1], query(r)["date"]) for r in details}
    assert asked == {(t, d.isoformat()) for t, d in want.select("ticker", "as_of").iter_rows()}
    assert len(details) == want.height  # the February snapshot only, once per ticker
    other = [r for r in run.next_requests if r not in news and r not in details]
    assert {r["path"] for r in other} == {"/v2/aggs/grouped/locale/us/market/stocks/2024-02-07"}
    print("one-session update requests:", {"news": len(news), "ticker_details": len(details)})


def test_closed_month_never_rebuilds(run):
    for path in (run.lake / "silver/news_daily" / part(2024, 1) / "data.parquet",
                 run.lake / "bronze/stocks_daily" / part(2024, 1) / "data.parquet"):
        assert path.stat().st_mtime_ns == run.mtimes[path], f"{path} was rebuilt"
    landing = sorted((run.lake / "landing/news" / part(2024, 2)).glob("*.json.gz"))
    assert [p.name for p in landing] == ["20240201T000000Z_20240206T210001Z.json.gz",
                                         "20240206T210001Z_20240207T210001Z.json.gz"]


# ------------------------------------------------------------------------------------------ shapes
def test_served_shapes_match_the_openapi_examples(run, fixtures_dir):
    example = json.loads((fixtures_dir / "openapi_examples/v2/reference/news.json").read_text())["results"][0]
    doc = landed(run.lake / "landing/news" / part(2024, 1))
    served = [a for r in doc["requests"] for p in r["pages"] for a in p["results"]]
    required = {"id", "publisher", "title", "author", "published_utc", "article_url", "tickers"}
    for a in served:
        assert required <= set(a) <= set(example)
        assert set(a["publisher"]) == set(example["publisher"])
        for i in a.get("insights", []):
            assert set(i) == set(example["insights"][0])
    assert any("insights" in a for a in served) and any("amp_url" in a for a in served)
    details_example = json.loads((fixtures_dir / "openapi_examples/v3/reference/tickers/_ticker_.json").read_text())
    doc = landed(run.lake / "landing/ticker_details" / part(2024, 1))
    results = [p["results"] for r in doc["requests"] for p in r["pages"]]
    assert results and all(set(r) >= set(details_example["results"]) for r in results)
    assert all(set(r) - set(details_example["results"]) <= {"delisted_utc", "last_updated_utc"} for r in results)
