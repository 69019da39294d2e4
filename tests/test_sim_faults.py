"""Simulator faults (rates, determinism, convergence, repeat cursors), auth bodies, key hygiene,
latency, and the SimProcess lifecycle -- all over real HTTP/2 against running servers."""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from pathlib import Path

import httpx
import polars as pl
import pytest
from conftest import VENDOR_FIXTURES
from quantmini.sim import Market, MarketConfig, SimProcess

START, END = "2024-01-02", "2024-03-28"
RATES = {"429": 0.15, "429ra": 0.10, "500": 0.10, "503": 0.05, "reset": 0.05, "slow": 0.03, "truncate": 0.05}
SPEC = ",".join(f"{k}={v}" for k, v in RATES.items())
KEY = "sim-test-key-6f1d0c"
FIXTURES = VENDOR_FIXTURES


def error_fixture(name: str) -> dict:
    return json.loads((FIXTURES / "errors" / name).read_text())


@pytest.fixture(scope="module")
def market() -> Market:
    return Market(MarketConfig(seed=42, n_tickers=20, start=START, end=END))


def urls(market: Market, count: int) -> list[str]:
    """Distinct cheap requests: one-week ranges of every ticker over sliding windows."""
    syms = market.securities()["current_ticker"].to_list()
    days = market.sessions
    out = []
    k = 0
    while len(out) < count:
        sym, d0 = syms[k % len(syms)], days[(k // len(syms)) % (len(days) - 5)]
        out.append(f"/v2/aggs/ticker/{sym}/range/1/day/{d0}/{days[days.index(d0) + 4]}?adjusted=false")
        k += 1
    return out


def classify(client: httpx.Client, url: str) -> tuple[str, bytes]:
    """What a client sees: ok, 429, 429ra, 500, 503, reset or truncate (+ the body when complete)."""
    try:
        r = client.get(url)
    except httpx.RemoteProtocolError:
        return "reset", b""
    if r.status_code == 429:
        assert r.json()["error"].startswith("You've exceeded the maximum requests per minute")
        return ("429ra" if "retry-after" in r.headers else "429"), r.content
    if r.status_code != 200:
        return str(r.status_code), r.content
    assert int(r.headers["content-length"]) == len(r.content)
    try:
        json.loads(r.content)
    except ValueError:
        return "truncate", r.content
    return "ok", r.content


@pytest.fixture(scope="module")
def fault_runs(market):
    """The same 600 requests against two servers with the same seeds and fault spec."""
    runs = []
    for _ in range(2):
        with SimProcess(tickers=20, seed=42, start=START, end=END, faults=SPEC, fault_seed=7,
                        fault_slow_s=0.05) as sim, httpx.Client(base_url=sim.url, http1=False, http2=True,
                                                                timeout=10,
                                                                # the wire as sent: a cut body shows as cut
                                                                headers={"Accept-Encoding": "identity"}) as c:
            seen = [classify(c, u) for u in urls(market, 600)]
            # convergence: every request gets through within max_consecutive (2) retries
            tries = []
            for u in urls(market, 600)[:150]:
                kind, body, n = "x", b"", 0
                while kind != "ok":
                    kind, body = classify(c, u)
                    n += 1
                    assert n <= 3, f"{u} still faulted after {n} attempts"
                tries.append((u, n, body))
            runs.append({"seen": seen, "tries": tries, "log": sim.requests()})
    return runs


def test_faults_fire_at_configured_rates(fault_runs):
    seen = fault_runs[0]["seen"]
    counts = Counter(kind for kind, _ in seen)
    n = len(seen)
    for kind, rate in RATES.items():
        if kind == "slow":
            continue  # a slow answer is a normal 200: counted from the log below
        sd = math.sqrt(n * rate * (1 - rate))
        assert abs(counts[kind] - n * rate) <= 4 * sd, (kind, counts[kind], n * rate)
    log = fault_runs[0]["log"][:n]
    log_counts = Counter(line["fault"] for line in log)
    for kind in ("429", "429ra", "500", "503", "reset", "truncate"):
        assert log_counts[kind] == counts[kind], kind  # the log tells the same story as the client
    sd = math.sqrt(n * RATES["slow"] * (1 - RATES["slow"]))
    assert abs(log_counts["slow"] - n * RATES["slow"]) <= 4 * sd
    assert counts["ok"] == n - sum(counts[k] for k in RATES if k != "slow")
    assert all(line["status"] is None for line in log if line["fault"] == "reset")


def test_faults_converge_to_the_true_data(fault_runs, market):
    raw = market.daily_raw()
    checked = 0
    for url, n, body in fault_runs[0]["tries"][:60]:
        parts = url.split("?")[0].split("/")
        sym, first, last = parts[4], parts[8], parts[9]
        got = json.loads(body).get("results", [])
        truth = raw.filter((pl.col("ticker") == sym) & pl.col("date").is_between(
            pl.lit(first).str.to_date(), pl.lit(last).str.to_date())).sort("date")
        assert [r["c"] for r in got] == truth["close"].to_list()
        checked += bool(got)
    assert checked >= 30
    assert max(n for _, n, _ in fault_runs[0]["tries"]) >= 2  # some really needed retries


def test_same_seeds_give_identical_bodies_and_faults(fault_runs):
    a, b = fault_runs
    assert [k for k, _ in a["seen"]] == [k for k, _ in b["seen"]]
    assert [body for k, body in a["seen"] if k == "ok"] == [body for k, body in b["seen"] if k == "ok"]
    assert [body for _, _, body in a["tries"]] == [body for _, _, body in b["tries"]]


def test_repeat_cursor_points_back_once_then_pages_resume(market):
    with SimProcess(tickers=20, seed=42, start=START, end=END, faults="repeat_cursor=1.0") as sim, \
            httpx.Client(base_url=sim.url, http1=False, http2=True) as c:
        rows, url, seen, repeats = [], "/v3/reference/tickers?limit=4", set(), 0
        while url:
            body = c.get(url).json()
            nxt = body.get("next_url")
            if nxt and nxt in seen | {str(c.base_url.join(url))}:
                repeats += 1  # a client must detect this; here we ask the same page again
                body = c.get(url).json()
                nxt = body.get("next_url")
                assert nxt not in seen
            seen.add(str(c.base_url.join(url)))
            rows += body["results"]
            url = nxt
        tickers = [r["ticker"] for r in rows]
        assert repeats >= 2 and len(tickers) == len(set(tickers))
        assert sorted(set(tickers)) == sorted(
            market.securities().filter(pl.col("delist_date").is_null())["current_ticker"].to_list())
        faults = Counter(line["fault"] for line in sim.requests())
        assert faults["repeat_cursor"] == repeats


def test_auth_bodies_key_hygiene_and_latency(tmp_path):
    log = tmp_path / "requests.jsonl"
    with SimProcess(tickers=5, seed=1, start=START, end="2024-01-31", api_key=KEY, latency_ms=40,
                    request_log=str(log)) as sim, httpx.Client(base_url=sim.url, http1=False, http2=True) as c:
        missing = c.get("/v3/reference/tickers")
        ref = error_fixture("401_missing_api_key.json")
        assert missing.status_code == 401 and set(missing.json()) == set(ref)
        assert missing.json()["error"] == ref["error"] and missing.json()["status"] == "ERROR"
        wrong = c.get("/v3/reference/tickers", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["error"] == error_fixture("401_unknown_api_key.json")["error"]
        t0 = time.perf_counter()
        ok = c.get("/v3/reference/tickers", params={"limit": 2}, headers={"Authorization": f"Bearer {KEY}"})
        assert time.perf_counter() - t0 >= 0.04  # --latency-ms
        assert ok.status_code == 200 and "apiKey" not in ok.json()["next_url"]
        via_query = c.get("/v3/reference/tickers", params={"limit": 2, "apiKey": KEY})
        assert via_query.status_code == 200
        assert KEY not in via_query.json()["next_url"] and KEY not in via_query.text
        page2 = c.get(via_query.json()["next_url"], params={"apiKey": KEY})
        assert page2.status_code == 200 and page2.json()["results"]
        stderr = Path(sim._stderr_path).read_text()
        assert KEY not in stderr
    text = log.read_text()
    assert KEY not in text and "apiKey=***" in text
    assert [json.loads(line)["status"] for line in text.splitlines()][:2] == [401, 401]
    assert sim.returncode == 0, "SIGTERM must stop the server cleanly"


def test_simprocess_reports_child_failure_with_its_stderr():
    with pytest.raises(RuntimeError, match="no XNYS session"):
        SimProcess(tickers=5, start="2024-01-06", end="2024-01-07").start()
