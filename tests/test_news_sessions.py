"""Unit tests of the news maths and parsing: session assignment (hand-worked cases, a half day, a holiday,
a weekend), news_daily figures, publication windows, landing chunk chains, and the parser on the
vendor's OpenAPI example. No workflow, no server."""

from __future__ import annotations

import datetime as dt
import json

import orjson
import polars as pl
import pytest
from quantmini.datatypes.news import landing as news_landing
from quantmini.datatypes.news import parse as news_parse
from quantmini.datatypes.news import silver as news_silver
from quantmini.sim.market import Market, MarketConfig
from quantmini.sim.news import News

UTC = dt.UTC


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


# Thanksgiving week 2024: Wed 27 a full session (close 16:00 ET = 21:00 UTC), Thu 28 a holiday,
# Fri 29 a half day (close 13:00 ET = 18:00 UTC), Sat/Sun, Mon Dec 2 a full session.
SESSIONS = [dt.date(2024, 11, 26), dt.date(2024, 11, 27), dt.date(2024, 11, 29), dt.date(2024, 12, 2)]
CASES = [  # published (UTC), the session it counts for (None: not in the months' sessions)
    ("2024-11-26T21:00:00Z", None),                    # at the close of the session before: counted there
    ("2024-11-26T21:00:01Z", dt.date(2024, 11, 27)),   # after that close: the next session
    ("2024-11-27T20:59:59Z", dt.date(2024, 11, 27)),   # 15:59:59 ET
    ("2024-11-27T21:00:00Z", dt.date(2024, 11, 27)),   # exactly at the close: still this session
    ("2024-11-27T21:00:01Z", dt.date(2024, 11, 29)),   # after the close, the holiday skipped
    ("2024-11-28T15:00:00Z", dt.date(2024, 11, 29)),   # on Thanksgiving
    ("2024-11-29T17:59:59Z", dt.date(2024, 11, 29)),   # 12:59:59 ET on the half day
    ("2024-11-29T18:00:00Z", dt.date(2024, 11, 29)),   # the half day's 13:00 ET close
    ("2024-11-29T18:00:01Z", dt.date(2024, 12, 2)),    # after the half-day close: over the weekend
    ("2024-11-30T12:00:00Z", dt.date(2024, 12, 2)),    # Saturday
    ("2024-12-02T04:59:59Z", dt.date(2024, 12, 2)),    # Sunday 23:59:59 ET
    ("2024-12-02T21:00:00Z", dt.date(2024, 12, 2)),    # Monday's close
    ("2024-12-02T21:00:01Z", None),                    # after the last close: a session not in range
]


def test_session_closes_come_from_the_exchange_calendar():
    closes = news_landing.session_closes(SESSIONS)
    assert closes == [["2024-11-26", "2024-11-26T21:00:00Z"], ["2024-11-27", "2024-11-27T21:00:00Z"],
                      ["2024-11-29", "2024-11-29T18:00:00Z"], ["2024-12-02", "2024-12-02T21:00:00Z"]]
    assert news_landing.previous_session(dt.date(2024, 11, 29)) == dt.date(2024, 11, 27)


def test_assign_sessions_hand_worked_cases():
    closes = news_landing.session_closes(SESSIONS[1:])
    prev_close = news_landing.session_closes(SESSIONS[:1])[0][1]
    pairs = pl.DataFrame({"article_id": [f"a{k}" for k in range(len(CASES))], "ticker": ["X"] * len(CASES),
                          "published_utc": [ts(p) for p, _ in CASES]}).cast({"published_utc": news_parse.UTC})
    got = news_silver.assign_sessions(pairs, closes, prev_close)
    expected = {f"a{k}": day for k, (_, day) in enumerate(CASES) if day is not None}
    assert dict(got.select("article_id", "date").iter_rows()) == expected


def test_news_daily_counts_sentiment_and_zero_rows():
    closes = news_landing.session_closes(SESSIONS[1:])
    prev_close = news_landing.session_closes(SESSIONS[:1])[0][1]
    pairs = pl.DataFrame(
        [("a1", "AAA", "positive", "2024-11-27T15:00:00Z"), ("a2", "AAA", "negative", "2024-11-27T21:00:00Z"),
         ("a2", "BBB", None, "2024-11-27T21:00:00Z"), ("a3", "AAA", "positive", "2024-11-28T10:00:00Z"),
         ("a4", "AAA", "neutral", "2024-11-30T10:00:00Z"), ("a5", "BBB", None, "2024-11-29T18:00:01Z"),
         ("a5", "BBB", None, "2024-11-29T18:00:01Z")],  # the same pair twice counts once
        orient="row", schema=["article_id", "ticker", "sentiment", "published_utc"],
    ).with_columns(pl.col("published_utc").str.to_datetime(time_zone="UTC").cast(news_parse.UTC),
                   pl.lit(None, pl.Utf8).alias("sentiment_reasoning"))
    bars = pl.DataFrame({"ticker": ["AAA", "AAA", "AAA", "BBB", "BBB", "CCC"],
                         "date": [SESSIONS[1], SESSIONS[2], SESSIONS[3], SESSIONS[1], SESSIONS[3], SESSIONS[1]]})
    got = news_silver.news_daily(pairs, bars, closes, prev_close)
    rows = {(t, d): r for t, d, *r in got.iter_rows()}
    assert rows[("AAA", SESSIONS[1])] == [2, 1, 0, 1, 0.0]      # a1 positive, a2 negative (at the close)
    assert rows[("AAA", SESSIONS[2])] == [1, 1, 0, 0, 1.0]      # a3 on the holiday -> the half day
    assert rows[("AAA", SESSIONS[3])] == [1, 0, 1, 0, 0.0]      # a4 on Saturday -> Monday
    assert rows[("BBB", SESSIONS[1])] == [1, 0, 0, 0, None]     # named without an insight: no sentiment
    assert rows[("BBB", SESSIONS[3])] == [1, 0, 0, 0, None]     # after the half-day close -> Monday
    assert rows[("CCC", SESSIONS[1])] == [0, 0, 0, 0, None]     # a bar without news: zeros
    assert got.height == bars.height and got.schema == pl.Schema(news_silver.NEWS_DAILY_SCHEMA)


def test_news_windows():
    windows = news_landing.news_windows([(2024, 1), (2024, 2)], ts("2023-12-29T21:00:00Z"), ts("2024-02-07T21:00:00Z"))
    assert [(w.key, w.lo, w.hi) for w in windows] == [
        ("2024-01", ts("2023-12-29T21:00:01Z"), ts("2024-02-01T00:00:00Z")),
        ("2024-02", ts("2024-02-01T00:00:00Z"), ts("2024-02-07T21:00:01Z")),
    ]
    assert news_landing.NewsWindow.from_params(windows[0].to_params()) == windows[0]


def test_landed_chain_covers_back_to_back_and_ignores_what_overshoots(tmp_path):
    w = news_landing.NewsWindow(2024, 2, ts("2024-02-01T00:00:00Z"), ts("2024-02-09T21:00:01Z"))
    for lo, hi in [("2024-02-01T00:00:00Z", "2024-02-06T21:00:01Z"), ("2024-02-06T21:00:01Z", "2024-02-07T21:00:01Z"),
                   ("2024-02-07T21:00:01Z", "2024-02-12T21:00:01Z"), ("2024-02-03T00:00:00Z", "2024-02-08T00:00:00Z")]:
        (tmp_path / news_landing.chunk_name(ts(lo), ts(hi))).write_bytes(b"")
    chain, cur = news_landing.landed_chain(tmp_path, w)
    assert [p.name for p in chain] == ["20240201T000000Z_20240206T210001Z.json.gz",
                                       "20240206T210001Z_20240207T210001Z.json.gz"]
    assert cur == ts("2024-02-07T21:00:01Z")  # the chunk to 02-12 lies beyond the window: fetched anew


def landing_doc(pages: list[dict]) -> bytes:
    return orjson.dumps({"dtype": "news", "window": ["x", "y"],
                         "requests": [{"path": news_landing.PATH, "params": {}, "pages": pages}]})


def test_parser_reads_the_openapi_example(fixtures_dir):
    example = json.loads((fixtures_dir / "openapi_examples/v2/reference/news.json").read_text())
    articles = news_parse.parse_articles(landing_doc([example]))
    assert articles.height == 1
    row = articles.row(0, named=True)
    assert row["id"] == "8ec638777ca03b553ae516761c2a22ba2fdd2f37befae3ab6fdab74e9e5193eb"
    assert row["published_utc"] == ts("2024-06-24T18:33:53Z") and row["_unparsed"] is None
    assert row["publisher_name"] == "Investing.com" and row["tickers"] == ["UBS"]
    pairs = news_parse.article_tickers(articles)
    assert pairs.rows() == [(row["id"], "UBS", "positive", example["results"][0]["insights"][0]["sentiment_reasoning"],
                             ts("2024-06-24T18:33:53Z"))]


def test_parser_fails_on_an_error_page():
    from quantmini.bronze import CorruptLandingError

    with pytest.raises(CorruptLandingError, match="status ERROR"):
        news_parse.parse_articles(landing_doc([{"status": "ERROR", "error": "Internal server error"}]))


def test_sim_news_is_deterministic_and_prefix_stable():
    short = News(Market(MarketConfig(seed=5, n_tickers=8, start="2024-01-02", end="2024-01-31")))
    long = News(Market(MarketConfig(seed=5, n_tickers=8, start="2024-01-02", end="2024-03-28")))
    again = News(Market(MarketConfig(seed=5, n_tickers=8, start="2024-01-02", end="2024-03-28")))
    cut = ts("2024-01-31T21:00:01Z")
    a_short, p_short = short.truth(None, cut)
    a_long, p_long = long.truth(None, cut)
    assert a_short.height > 20 and a_short.equals(a_long) and p_short.equals(p_long)
    assert long.truth()[0].equals(again.truth()[0]) and long.truth()[1].equals(again.truth()[1])
    assert a_long["id"].is_unique().all()


def test_first_session_of_a_month_asks_the_previous_months_tail_and_the_new_month(tmp_path):
    from quantmini.lake import LakePaths

    lake = LakePaths(tmp_path)
    before = news_landing.news_windows([(2024, 1)], ts("2023-12-29T21:00:00Z"), ts("2024-01-31T21:00:00Z"))
    todo, _ = news_landing.plan_chunks(lake, before)
    assert [t[2] for t in todo] == [["2023-12-29T21:00:01Z", "2024-01-31T21:00:01Z"]]
    for path, *_ in todo:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"landed")
    after = news_landing.news_windows([(2024, 1), (2024, 2)], ts("2023-12-29T21:00:00Z"), ts("2024-02-01T21:00:00Z"))
    todo, chains = news_landing.plan_chunks(lake, after, limit=1000)
    assert [t[3][0][1] for t in todo] == [
        {"published_utc.gte": "2024-01-31T21:00:01Z", "published_utc.lt": "2024-02-01T00:00:00Z", "order": "asc",
         "sort": "published_utc", "limit": "1000"},
        {"published_utc.gte": "2024-02-01T00:00:00Z", "published_utc.lt": "2024-02-01T21:00:01Z", "order": "asc",
         "sort": "published_utc", "limit": "1000"},
    ]
    assert [p.name for p in chains["2024-01"]] == ["20231229T210001Z_20240131T210001Z.json.gz",
                                                  "20240131T210001Z_20240201T000000Z.json.gz"]
    assert news_landing.plan_chunks(lake, before)[0] == []  # a rerun of the earlier range downloads nothing
