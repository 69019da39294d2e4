"""Minute bars: the simulator's generator and endpoint (paging against a live SimProcess over HTTP/2),
and the pure functions of quantmini.datatypes.minute (parsing, session flags, selection)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import numpy as np
import orjson
import polars as pl
import pytest
from conftest import VENDOR_FIXTURES
from quantmini import calendar
from quantmini.client import PolygonClient
from quantmini.datatypes.minute import bronze as minute_bronze
from quantmini.datatypes.minute import landing as minute_landing
from quantmini.datatypes.minute import parse as minute_parse
from quantmini.landing_documents import landing_document
from quantmini.sim.market import TICK, Market, MarketConfig
from quantmini.sim.minute import MinuteMarket, intraday, session_window
from quantmini.sim.options import OptionsMarket
from quantmini.sim.server import SimProcess

SEED, N, START, END = 11, 12, "2024-06-03", "2024-07-31"
DAYS = [dt.date(2024, 7, 2), dt.date(2024, 7, 3), dt.date(2024, 7, 5)]  # 07-03 is a half day


@pytest.fixture(scope="module")
def market():
    return Market(MarketConfig(seed=SEED, n_tickers=N, start=START, end=END))


@pytest.fixture(scope="module")
def sim():
    with SimProcess(tickers=N, seed=SEED, start=START, end=END) as s:
        yield s


def fetch(url: str, path: str, params: dict) -> list[bytes]:
    async def run():
        async with PolygonClient(url, api_key=None, max_concurrency=4) as client:
            return await client.get_pages(path, params)

    return asyncio.run(run())


def rows(pages: list[bytes]) -> list[dict]:
    return [r for p in pages for r in (orjson.loads(p).get("results") or [])]


# ---------------------------------------------------------------------------------------------- generator
@pytest.mark.parametrize("k", [1, 7, 210, 390])
def test_intraday_aggregates_exactly_to_the_daily_bar(k):
    g = np.random.default_rng(k)
    for _ in range(50):
        lo = int(g.integers(5_000, 2_000_000))
        hi = lo + int(g.integers(2, 50_000))
        o, c = (int(x) for x in g.integers(lo, hi + 1, 2))
        v = int(g.integers(k, 10**8))
        b = intraday(g, o, hi, lo, c, v, int(g.integers(1, 10**5)), k)
        assert b["o"].size == k and b["o"][0] == o and b["c"][-1] == c
        assert b["h"].max() == hi and b["l"].min() == lo and b["v"].sum() == v and (b["v"] >= 1).all()
        assert (b["o"][1:] == b["c"][:-1]).all()
        assert ((b["l"] <= np.minimum(b["o"], b["c"])) & (np.maximum(b["o"], b["c"]) <= b["h"])).all()
        assert ((b["l"] <= b["vw"]) & (b["vw"] <= b["h"])).all() and (b["n"] >= 1).all()


def test_a_day_with_fewer_shares_than_minutes_trades_in_fewer_minutes():
    b = intraday(np.random.default_rng(0), 10_000, 10_500, 9_800, 10_100, 100, 3, 390)
    assert b["o"].size == 100 and b["v"].sum() == 100


def test_deterministic_and_prefix_stable(market):
    short = Market(MarketConfig(seed=SEED, n_tickers=N, start=START, end="2024-07-08"))
    a, b = MinuteMarket(market), MinuteMarket(short)
    tickers = sorted(market.symbol_spans)[:4]
    ta = a.truth(tickers, DAYS)
    assert ta.height > 0 and ta.equals(b.truth(tickers, DAYS))
    assert ta.equals(MinuteMarket(Market(MarketConfig(seed=SEED, n_tickers=N, start=START, end=END))).truth(tickers, DAYS))
    other = MinuteMarket(Market(MarketConfig(seed=SEED + 1, n_tickers=N, start=START, end=END)))
    assert not ta.equals(other.truth(sorted(other.m.symbol_spans)[:4], DAYS))


def test_half_day_window():
    pre, open_, close, post = session_window(dt.date(2024, 7, 3))
    assert (close - open_) // 60_000 == 210 and (post - close) == 4 * 3600 * 1000
    assert (open_ - pre) // 60_000 == 330


def test_vendor_gap_rate_and_served_bars(market):
    mm = MinuteMarket(market)
    gaps = [(j, i) for j in range(N) for i in range(market.N) if mm.vendor_gap(j, i)]
    assert 0 < len(gaps) < 0.05 * N * market.N
    j, i = next((j, i) for j, i in gaps if market.first_idx[j] <= i <= market.last_idx[j])
    g0, g1 = mm.vendor_gap(j, i)
    served, true = mm.served_bars(j, i), mm.true_bars(j, i)
    assert true["t"].size - served["t"].size == g1 - g0
    assert not MinuteMarket(Market(MarketConfig(seed=SEED, n_tickers=N, start=START, end=END,
                                                vendor_errors=False))).vendor_gap(j, i)


# ---------------------------------------------------------------------------------------------- endpoint
def test_small_limit_pages_through_next_url_asc_and_desc(sim, market):
    mm = MinuteMarket(market)
    ticker = full_span(market)
    path = f"/v2/aggs/ticker/{ticker}/range/1/minute/2024-07-02/2024-07-05"
    truth = mm.truth([ticker], DAYS, served=True)
    pages = fetch(sim.url, path, {"adjusted": "false", "limit": 173})
    assert len(pages) == -(-truth.height // 173) > 3
    got = rows(pages)
    assert [r["t"] for r in got] == truth["timestamp"].dt.epoch("ms").to_list()
    assert [r["c"] for r in got] == truth["close"].to_list()
    assert [r["v"] for r in got] == truth["volume"].cast(pl.Int64).to_list()
    first = orjson.loads(pages[0])
    assert first["next_url"].split("?")[0].endswith(f"/range/1/minute/{got[173]['t']}/2024-07-05")
    assert "apiKey" not in first["next_url"] and first["resultsCount"] == 173
    desc = rows(fetch(sim.url, path, {"adjusted": "false", "limit": 500, "sort": "desc"}))
    assert [r["t"] for r in desc] == [r["t"] for r in got][::-1]


def full_span(market) -> str:
    return sorted(s for s, (j, f, last) in market.symbol_spans.items() if f == 0 and last == market.N - 1)[0]


def test_epoch_ms_bounds_are_inclusive_and_a_holiday_is_empty(sim, market):
    ticker = full_span(market)
    _, open_, close, _ = session_window(DAYS[0])
    got = rows(fetch(sim.url, f"/v2/aggs/ticker/{ticker}/range/1/minute/{open_}/{close - 60_000}", {"adjusted": "false"}))
    assert len(got) == 390 and got[0]["t"] == open_ and got[-1]["t"] == close - 60_000
    body = orjson.loads(fetch(sim.url, f"/v2/aggs/ticker/{ticker}/range/1/minute/2024-07-04/2024-07-04", {})[0])
    assert body["resultsCount"] == 0 and "results" not in body and body["status"] == "OK"


def test_adjusted_minutes_are_split_adjusted(sim, market):
    mm = MinuteMarket(market)
    j = int(market.spl.sec[0])  # a security that splits within the range: earlier bars get a factor
    i = int(market.spl.idx[0]) - 1
    ticker, day = market.symbol_at(j, i), market.sessions[i]
    path = f"/v2/aggs/ticker/{ticker}/range/1/minute/{day}/{day}"
    adj = rows(fetch(sim.url, path, {"adjusted": "true"}))
    raw = mm.served_bars(j, i)
    f = float(market.split_factor(np.array([i]), np.array([j]))[0])
    assert f != 1.0 and len(adj) == raw["t"].size
    assert [r["c"] for r in adj] == (np.rint(raw["c"] * f) / TICK).tolist()


def test_options_minutes_aggregate_to_the_options_daily_bar(sim, market):
    om = OptionsMarket.of(market)
    ticker = om.contracts["ticker"][0]
    daily = om.daily_bars(ticker)
    assert daily["session"].size > 0
    got = pl.DataFrame(rows(fetch(sim.url, f"/v2/aggs/ticker/{ticker}/range/1/minute/{START}/{END}", {})))
    got = got.with_columns(pl.from_epoch("t", "ms").dt.convert_time_zone("America/New_York").dt.date().alias("d"))
    agg = got.group_by("d").agg(pl.col("o").first(), pl.col("h").max(), pl.col("l").min(), pl.col("c").last(),
                                pl.col("v").sum(), pl.len().alias("k")).sort("d")
    assert agg["d"].to_list() == [market.sessions[i] for i in daily["session"]]
    for col in ("o", "h", "l", "c", "v"):
        assert np.allclose(agg[col].to_numpy(), daily[col], rtol=0, atol=1e-9), col
    assert agg["k"].max() <= 25


# ---------------------------------------------------------------------------------------------- pipeline
def test_parse_landing_reads_the_openapi_example():
    example = (VENDOR_FIXTURES / "openapi_examples/v2/aggs/ticker/_stocksTicker_/range"
               / "_multiplier_/_timespan_/_from_/_to_.json").read_bytes()
    day = dt.date(2020, 1, 2)
    doc = landing_document("stocks_minute", [day.isoformat()] * 2, [("/p", {})], [[example]])
    df = minute_parse.parse_landing(doc, "AAPL", day)
    ex = json.loads(example)["results"]
    assert df.height == len(ex) and df["close"].to_list() == [r["c"] for r in ex]
    assert df["timestamp"].dt.epoch("ms").to_list() == [r["t"] for r in ex]
    assert df["volume"].to_list() == [float(r["v"]) for r in ex] and df["ticker"].unique().to_list() == ["AAPL"]
    empty = (VENDOR_FIXTURES / "errors/200_aggs_empty_no_results_key.json").read_bytes()
    assert minute_parse.parse_landing(landing_document("x", ["a", "a"], [("/p", {})], [[empty]]), "AAPL", day).height == 0


def test_flag_sessions_on_a_half_day():
    day = dt.date(2024, 7, 3)
    ny = lambda h, m: dt.datetime(2024, 7, 3, h, m, tzinfo=calendar.NY)
    stamps = [ny(3, 59), ny(4, 0), ny(9, 29), ny(9, 30), ny(12, 59), ny(13, 0), ny(16, 59), ny(17, 0)]
    bars = pl.DataFrame({"timestamp": pl.Series(stamps).dt.convert_time_zone("UTC").dt.cast_time_unit("ms"),
                         "_expected_session": [day] * len(stamps)})
    flags = minute_bronze.flag_sessions(bars, minute_bronze.session_windows([day]))["session"].to_list()
    assert flags == ["outside", "pre", "pre", "regular", "regular", "post", "post", "outside"]


def test_select_stocks_and_options():
    d1, d2 = dt.date(2024, 7, 2), dt.date(2024, 7, 3)
    daily = pl.DataFrame({"date": [d1, d1, d1, d2, d2], "ticker": ["C", "A", "B", "B", "C"],
                          "close": [10.0, 20.0, 30.0, 31.0, 11.0]})
    assert minute_landing.select_stocks(daily, 2).rows() == [(d1, "A"), (d1, "B"), (d2, "B"), (d2, "C")]
    assert minute_landing.select_stocks(daily, ["C", "Z"]).rows() == [(d1, "C"), (d2, "C")]
    opts = pl.DataFrame({"date": [d1] * 4 + [d2], "ticker": ["O:C1", "O:C2", "O:C3", "O:A1", "O:C1"],
                         "underlying": ["C", "C", "C", "A", "C"], "strike": [5.0, 10.5, 12.0, 20.0, 5.0]})
    assert minute_landing.select_options(opts, daily, 2).rows() == [(d1, "O:A1"), (d1, "O:C2"), (d1, "O:C3"), (d2, "O:C1")]


def test_landing_file_names_are_safe_for_option_tickers(tmp_path):
    from quantmini.lake import LakePaths

    f = minute_landing.landing_file(LakePaths(tmp_path), "options_minute", dt.date(2024, 7, 3), "O:ABC240719C00100000")
    assert f.relative_to(tmp_path).as_posix() == (
        "landing/options_minute/year=2024/month=07/date=2024-07-03/O_ABC240719C00100000.json.gz")
