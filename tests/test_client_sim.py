"""PolygonClient against the real simulator over real HTTP/2 (h2c, TLS+ALPN) and HTTP/1.1.

References are independent of the client: the simulator's ground truth (`Market` rebuilt from the same
seed), its JSON-lines request log (what the server actually saw: statuses, faults, timing, queries),
and the server's own unpaged listing.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
import traceback
from collections import Counter, defaultdict

import polars as pl
import pytest
from quantmini.client import (
    ApiError,
    NotFoundError,
    PermanentApiError,
    PolygonClient,
    RepeatedCursorError,
    RetryExhaustedError,
)
from quantmini.datatypes.stocks_daily.parse import parse_grouped, parse_range_pages
from quantmini.sim import Market, MarketConfig, SimProcess

START, END = "2024-01-02", "2024-03-28"
KEY = "QMTEST-sim-key-3b8e1d"  # the key the simulator accepts
MARKER = "QMLEAK-marker-9c2f77a1"  # a key that must never show up anywhere
GROUPED = "/v2/aggs/grouped/locale/us/market/stocks/{}"
FAULTS = "429=0.12,429ra=0.04,500=0.08,503=0.08,reset=0.08,truncate=0.08,slow=0.03,repeat_cursor=1.0"
COLS = ["ticker", "date", "open", "high", "low", "close", "volume", "vwap", "transactions"]


def run(coro):
    return asyncio.run(coro)


def log_lines(sim: SimProcess, since: int = 0) -> list[dict]:
    return sim.requests()[since:]


@pytest.fixture(scope="module")
def market() -> Market:
    return Market(MarketConfig(seed=42, n_tickers=20, start=START, end=END))


@pytest.fixture(scope="module")
def sim():
    """Key required, 100 ms latency, TLS on a second port."""
    with SimProcess(tickers=20, seed=42, start=START, end=END, api_key=KEY, latency_ms=100, tls=True) as s:
        yield s


@pytest.fixture(scope="module")
def fault_sim():
    """Every response fault at once, and every cursor page repeated once; no key required."""
    with SimProcess(tickers=20, seed=42, start=START, end=END, faults=FAULTS, fault_seed=3,
                    fault_slow_s=1.5) as s:
        yield s


def _frame(df: pl.DataFrame) -> pl.DataFrame:
    return df.select(COLS).sort("ticker", "date")


def _truth(df: pl.DataFrame) -> pl.DataFrame:
    return df.select(COLS).cast({"volume": pl.Float64, "transactions": pl.Int64}).sort("ticker", "date")


# ------------------------------------------------------------------------------------------ happy path
@pytest.mark.parametrize("mode", ["h2c", "http1", "tls-h2"])
def test_grouped_days_equal_ground_truth(sim, market, mode):
    base = sim.tls_url if mode == "tls-h2" else sim.url
    verify = sim.ca_cert if mode == "tls-h2" else True

    async def go():
        async with PolygonClient(base, api_key=KEY, max_concurrency=8, http2=mode != "http1",
                                 verify=verify) as c:
            bodies = await asyncio.gather(
                *(c.get_bytes(GROUPED.format(d.isoformat()), {"adjusted": False}) for d in market.sessions))
            return bodies, c.stats

    bodies, stats = run(go())
    assert stats.http_version == ("HTTP/1.1" if mode == "http1" else "HTTP/2")
    assert stats.requests == stats.ok == len(market.sessions) and stats.retries == 0
    got = pl.concat([parse_grouped(b) for b in bodies])
    assert _frame(got).equals(_truth(market.daily_raw()))


def test_adjusted_and_get_json(sim, market):
    day = market.sessions[-1]

    async def go():
        async with PolygonClient(sim.url, api_key=KEY) as c:
            return await c.get_bytes(GROUPED.format(day), {"adjusted": True}), await c.get_json(GROUPED.format(day))

    body, obj = run(go())
    truth = market.split_adjusted().filter(pl.col("date") == day)
    assert _frame(parse_grouped(body)).equals(_truth(truth))
    assert obj["resultsCount"] == truth.height and obj["adjusted"] is True


def test_range_pages_follow_next_url_without_refiltering(sim, market):
    sym = market.securities()["current_ticker"][0]
    path = f"/v2/aggs/ticker/{sym}/range/1/day/{START}/{END}"
    before = len(log_lines(sim))

    async def go():
        async with PolygonClient(sim.url, api_key=KEY) as c:
            return await c.get_pages(path, {"adjusted": "false", "limit": 10})

    pages = run(go())
    truth = market.daily_raw().filter(pl.col("ticker") == sym)
    assert len(pages) == -(-truth.height // 10) >= 3
    assert _frame(parse_range_pages(pages, sym)).equals(_truth(truth))
    seen = log_lines(sim, before)
    assert seen[0]["query"] == "adjusted=false&limit=10"
    assert all(line["query"].startswith("cursor=") and "&" not in line["query"] for line in seen[1:])
    assert all("apiKey" not in line["query"] for line in seen)


def test_get_all_equals_the_unpaged_listing(sim):
    async def go():
        async with PolygonClient(sim.url, api_key=KEY) as c:
            paged = await c.get_all("/v3/reference/tickers", {"limit": 3})
            whole = await c.get_json("/v3/reference/tickers", {"limit": 1000})
            return paged, whole, c.stats.requests

    paged, whole, n = run(go())
    assert paged == whole["results"] and len(paged) >= 10
    assert n == -(-len(paged) // 3) + 1


# ---------------------------------------------------------------------------------- concurrency, rate
def test_concurrency_is_bounded(sim):
    """24 requests, 100 ms server latency: at most 3 in flight on the server side (its log)."""
    paths = [f"/v3/reference/tickers/NOPE{i}" for i in range(24)]

    async def go(conc):
        async with PolygonClient(sim.url, api_key=KEY, max_concurrency=conc) as c:
            t0 = time.perf_counter()
            await asyncio.gather(*(c.get_json(p, allow_404=True) for p in paths))
            return time.perf_counter() - t0

    before = len(log_lines(sim))
    wall3 = run(go(3))
    ends = sorted(line["ts"] for line in log_lines(sim, before))
    assert len(ends) == 24
    # a request occupies the server for >= its 100 ms latency before the logged end time
    overlap = max(sum(1 for e in ends if e - 0.095 < t <= e) for t in ends)
    assert overlap <= 3
    assert wall3 >= 8 * 0.1
    assert run(go(24)) < wall3 / 2  # and concurrency really is used


def test_rate_limit_is_exact_at_the_server(sim):
    """600/min = one request per 100 ms; the server must see 11 requests spread over >= 1 s."""
    before = len(log_lines(sim))

    async def go():
        async with PolygonClient(sim.url, api_key=KEY, max_concurrency=11, rate_per_minute=600) as c:
            await asyncio.gather(*(c.get_json(f"/v3/reference/tickers/NOPE{i}", allow_404=True) for i in range(11)))

    run(go())
    ends = sorted(line["ts"] for line in log_lines(sim, before))
    gaps = [b - a for a, b in zip(ends, ends[1:])]
    assert len(ends) == 11
    # The log's time is the response's: under a loaded machine one response may be late by ~30 ms and the
    # next on time, so a single gap can shrink that far. A limiter that lets two through at once gives a
    # gap near 0, and one that runs fast a span under 1 s: both still fail.
    assert min(gaps) >= 0.1 / 2, gaps
    assert ends[-1] - ends[0] >= 1.0 - 0.02


# ------------------------------------------------------------------------------------- errors, no retry
@pytest.mark.parametrize(
    ("key", "path", "params", "status", "message"),
    [
        (None, GROUPED.format("2024-01-03"), None, 401,
         "HTTP 401 Unauthorized from GET /v2/aggs/grouped/locale/us/market/stocks/2024-01-03: API Key was not provided"),
        ("wrong", GROUPED.format("2024-01-03"), None, 401,
         "HTTP 401 Unauthorized from GET /v2/aggs/grouped/locale/us/market/stocks/2024-01-03: Unknown API Key"),
        (KEY, GROUPED.format("2024-13-03"), None, 400,
         "HTTP 400 Bad Request from GET /v2/aggs/grouped/locale/us/market/stocks/2024-13-03: Could not parse"),
        (KEY, "/v2/aggs/ticker/AAA/range/1/day/2024-02-01/2024-01-01", {"adjusted": "true"}, 400,
         "HTTP 400 Bad Request from GET /v2/aggs/ticker/AAA/range/1/day/2024-02-01/2024-01-01?adjusted=true: "
         "The parameter 'to' cannot be a time that occurs before 'from'"),
    ],
)
def test_permanent_errors_are_one_line_and_never_retried(sim, key, path, params, status, message):
    before = len(log_lines(sim))

    async def go():
        async with PolygonClient(sim.url, api_key=key, backoff_base=0.01) as c:
            await c.get_bytes(path, params)

    with pytest.raises(PermanentApiError) as info:
        run(go())
    assert str(info.value).startswith(message) and "\n" not in str(info.value)
    assert info.value.status == status
    assert [line["status"] for line in log_lines(sim, before)] == [status]


def test_404_is_none_when_allowed_else_not_found(sim):
    async def go(allow):
        async with PolygonClient(sim.url, api_key=KEY) as c:
            return await c.get_json("/v3/reference/tickers/ZZZZZZ", allow_404=allow)

    assert run(go(True)) is None
    with pytest.raises(NotFoundError, match=r"^HTTP 404 Not Found from GET /v3/reference/tickers/ZZZZZZ: Ticker not found\.$"):
        run(go(False))


# ------------------------------------------------------------------------------------------ retries
def test_every_fault_is_retried_to_the_true_data(fault_sim, market):
    before = len(log_lines(fault_sim))
    hooks = []

    async def go():
        async with PolygonClient(fault_sim.url, max_concurrency=10, backoff_base=0.02, backoff_max=0.2,
                                 timeout=0.6, on_response=lambda s: hooks.append(s.requests)) as c:
            bodies = await asyncio.gather(
                *(c.get_bytes(GROUPED.format(d.isoformat()), {"adjusted": "false"}) for d in market.sessions))
            return bodies, c.stats

    bodies, stats = run(go())
    got = pl.concat([parse_grouped(b) for b in bodies])
    assert _frame(got).equals(_truth(market.daily_raw()))

    seen = log_lines(fault_sim, before)
    faults = Counter(line["fault"] for line in seen)
    assert sum(faults[k] for k in ("429", "429ra", "500", "503", "reset", "truncate")) >= 10  # faults fired
    # the client's counters tell the same story as the server's log
    assert stats.truncated == faults["truncate"]
    assert stats.status.get(429, 0) == faults["429"] + faults["429ra"]
    assert stats.status.get(500, 0) == faults["500"] and stats.status.get(503, 0) == faults["503"]
    assert stats.transport_errors == faults["reset"] + faults["slow"]  # slow (1.5 s) > timeout (0.6 s)
    assert stats.retries == stats.requests - len(market.sessions)
    # every attempt reached the server (a timed-out slow one is logged when it finishes)
    assert stats.requests == len(seen)
    assert hooks and hooks == sorted(hooks)
    # Retry-After: 1 s is honoured before the next attempt of the same request
    by_key = defaultdict(list)
    for line in seen:
        by_key[line["path"]].append(line)
    honoured = 0
    for lines in by_key.values():
        for a, b in zip(lines, lines[1:]):
            if a["fault"] == "429ra":
                assert b["ts"] - a["ts"] >= 1.0 - 0.01
                honoured += 1
    assert honoured == faults["429ra"] >= 1


def test_retry_exhaustion_is_one_line():
    with SimProcess(tickers=5, seed=1, start=START, end="2024-01-31", faults="503=1.0",
                    fault_max_consecutive=4) as s:
        async def go(retries, day):
            async with PolygonClient(s.url, max_retries=retries, backoff_base=0.01) as c:
                return await c.get_json(GROUPED.format(day))

        with pytest.raises(RetryExhaustedError) as info:
            run(go(2, "2024-01-03"))
        assert str(info.value) == (
            "GET /v2/aggs/grouped/locale/us/market/stocks/2024-01-03: gave up after 3 attempts; last: "
            "HTTP 503 Service Unavailable from GET /v2/aggs/grouped/locale/us/market/stocks/2024-01-03: "
            "Service unavailable")
        # the server gives in after 4 consecutive faults: 8 retries get through
        assert run(go(8, "2024-01-04"))["status"] == "OK"
        assert [line["status"] for line in s.requests()] == [503] * 3 + [503] * 4 + [200]


def test_repeated_cursor_restarts_then_fails(fault_sim):
    """Every cursor page of the listing repeats once: restarts converge; too few restarts fail."""

    async def go(restarts, limit):
        async with PolygonClient(fault_sim.url, max_repeat_restarts=restarts, backoff_base=0.01,
                                 timeout=5) as c:
            rows = await c.get_all("/v3/reference/tickers", {"limit": limit})
            return rows, c.stats.cursor_restarts

    rows, restarts = run(go(10, 4))
    whole = run(go(0, 1000))[0]  # one page: no cursor
    assert rows == whole and restarts >= 2
    with pytest.raises(RepeatedCursorError) as info:
        run(go(1, 3))
    msg = str(info.value)
    assert msg.startswith("GET /v3/reference/tickers?limit=3: next_url repeated a cursor on 2 attempts")
    assert "\n" not in msg


# ---------------------------------------------------------------------------------------- key hygiene
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_api_key_never_leaks(sim, fault_sim, caplog):
    """Every error path with a marker key: messages, reprs, tracebacks (with locals), log records."""

    async def attempt(base, path, params=None, **kw):
        kw.setdefault("backoff_base", 0.01)
        async with PolygonClient(base, api_key=MARKER, **kw) as c:
            assert MARKER not in repr(c)
            if path.startswith("/v3/reference/tickers") and "limit" in (params or {}):
                return await c.get_all(path, params)
            return await c.get_bytes(path, params)

    cases = [
        (sim.url, GROUPED.format("2024-01-03"), None, {}),  # 401 Unknown API Key
        (sim.tls_url, GROUPED.format("2024-01-03"), None, {"verify": sim.ca_cert}),  # 401 over TLS
        (sim.tls_url, GROUPED.format("2024-01-03"), None, {"max_retries": 0}),  # untrusted cert
        (fault_sim.url, GROUPED.format("2024-99-03"), None, {}),  # 400
        (fault_sim.url, "/v3/reference/tickers/ZZZZZZ", None, {}),  # 404
        (fault_sim.url, "/v3/reference/tickers", {"limit": 2}, {"max_repeat_restarts": 0}),  # cursor
        (sim.url, GROUPED.format("2024-02-01"), None, {"max_retries": 0, "timeout": 0.03}),  # timeout (latency 100 ms)
        (fault_sim.url, GROUPED.format("2024-02-01"), None, {"max_retries": 0}),  # whichever fault, or none
        (f"http://127.0.0.1:{_closed_port()}", "/v1/x", None, {"max_retries": 1}),  # connection refused
    ]
    errors, successes = [], 0
    with caplog.at_level(logging.DEBUG):
        for base, path, params, kw in cases:
            try:
                run(attempt(base, path, params, **kw))
                successes += 1
            except ApiError as exc:
                errors.append(exc)
    assert len(errors) >= len(cases) - 1 and successes <= 1, [str(e) for e in errors]
    assert {type(e).__name__ for e in errors} >= {"PermanentApiError", "NotFoundError", "RepeatedCursorError",
                                                  "RetryExhaustedError"}
    for exc in errors:
        texts = [str(exc), repr(exc), repr(exc.args),
                 "".join(traceback.format_exception(exc)),
                 "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())]
        for text in texts:
            assert MARKER not in text, text
        assert "\n" not in str(exc)
    assert caplog.records, "DEBUG logging was captured"
    assert any(r.name.startswith(("httpx", "httpcore")) for r in caplog.records)
    assert MARKER not in caplog.text
    assert all(MARKER not in line["query"] for line in sim.requests() + fault_sim.requests())


def test_untrusted_certificate_is_permanent(sim):
    before = len(log_lines(sim))

    async def go():
        async with PolygonClient(sim.tls_url, api_key=KEY, backoff_base=0.01) as c:  # certifi CAs only
            await c.get_bytes(GROUPED.format("2024-01-03"))

    with pytest.raises(PermanentApiError, match=r"^TLS certificate rejected for GET /v2/aggs/grouped/.*CERTIFICATE_VERIFY_FAILED"):
        run(go())
    assert len(log_lines(sim, before)) == 0
