"""Client pieces that need no server: key resolution, URL policy, Retry-After, the rate limiter's
schedule (measured on the real event loop clock), key masking in reprs and logs."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time

import pytest
from quantmini.client import (
    SECRET_FILTER,
    Pacer,
    PolygonClient,
    RateLimiter,
    _retry_after_seconds,
    resolve_api_key,
)

MARKER = "QMTESTKEY_unit_7f3a9c"


@pytest.fixture(autouse=True)
def registered_keys_restored():
    """The keys these tests register ("m", "p") would mask those letters in every later log of the same
    process (another module's test on the same worker read "e******ty" for "empty")."""
    before = set(SECRET_FILTER._secrets)
    yield
    SECRET_FILTER._secrets.clear()
    SECRET_FILTER._secrets.update(before)


def test_resolve_api_key_order():
    assert resolve_api_key({"MASSIVE_API_KEY": "m", "POLYGON_API_KEY": "p"}) == "m"
    assert resolve_api_key({"MASSIVE_API_KEY": "  ", "POLYGON_API_KEY": "p"}) == "p"
    assert resolve_api_key({"POLYGON_API_KEY": " p2 "}) == "p2"
    assert resolve_api_key({}) is None


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("/v2/aggs/grouped/locale/us/market/stocks/2024-01-02", "http://127.0.0.1:9/v2/aggs/grouped/locale/us/market/stocks/2024-01-02"),
        # next_url on another host / with :443: only path + query are used, on our own base
        ("https://api.polygon.io:443/v3/reference/tickers?cursor=YWJj", "http://127.0.0.1:9/v3/reference/tickers?cursor=YWJj"),
        ("https://api.massive.com/v2/aggs/ticker/AAPL/range/1/day/1578114000000/2020-01-10?cursor=bGlt",
         "http://127.0.0.1:9/v2/aggs/ticker/AAPL/range/1/day/1578114000000/2020-01-10?cursor=bGlt"),
        # a key smuggled into a next_url is dropped, never forwarded
        ("https://evil.example/v3/x?cursor=a&apiKey=SECRET", "http://127.0.0.1:9/v3/x?cursor=a"),
    ],
)
def test_url_policy(given, expected):
    client = PolygonClient("http://127.0.0.1:9")
    try:
        assert client.url_for(given) == expected
    finally:
        asyncio.run(client.aclose())


def test_url_params_and_prefix():
    client = PolygonClient("http://127.0.0.1:9/proxy/")
    try:
        url = client.url_for("/v3/reference/tickers", {"active": True, "ticker.gte": "A", "type": "CS,ETF", "x": None})
        assert url == "http://127.0.0.1:9/proxy/v3/reference/tickers?active=true&ticker.gte=A&type=CS,ETF"
        assert client.url_for("https://api.massive.com/v3/x?cursor=c") == "http://127.0.0.1:9/proxy/v3/x?cursor=c"
        with pytest.raises(ValueError, match="never as an apiKey query parameter"):
            client.url_for("/v3/x", {"apiKey": "k"})
    finally:
        asyncio.run(client.aclose())


def test_bad_base_url_is_one_line():
    with pytest.raises(ValueError, match="base_url must be http"):
        PolygonClient("ftp://x")


def test_retry_after_parsing():
    assert _retry_after_seconds("3") == 3.0
    assert _retry_after_seconds("0.25") == 0.25
    assert _retry_after_seconds(None) is None
    assert _retry_after_seconds("soon") is None
    assert _retry_after_seconds("-4") == 0.0
    assert _retry_after_seconds("99999") == 600.0
    http_date = email.utils.formatdate(time.time() + 5, usegmt=True)
    assert 3.5 <= _retry_after_seconds(http_date) <= 5.0


def test_rate_limiter_schedule_is_exact():
    """1200/min = one start every 50 ms: 21 starts take 1.0 s, never two closer than 50 ms."""

    async def run() -> list[float]:
        limiter = RateLimiter(1200)
        times: list[float] = []

        async def one() -> None:
            await limiter.acquire()
            times.append(time.monotonic())

        await asyncio.gather(*(one() for _ in range(21)))
        return sorted(times)

    times = asyncio.run(run())
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= 0.050 - 0.001
    assert 1.0 - 0.001 <= times[-1] - times[0] <= 1.0 + 0.3  # upper slack: a loaded 2-core machine
    # any 0.5 s window holds at most 1 + 0.5 * 20 starts
    assert max(sum(1 for t in times if s <= t < s + 0.5) for s in times) <= 11


def test_rate_limiter_burst():
    async def run() -> list[float]:
        limiter = RateLimiter(600, burst=3)  # 10/s, 3 at once
        t0 = time.monotonic()
        out = []
        for _ in range(5):
            await limiter.acquire()
            out.append(time.monotonic() - t0)
        return out

    t = asyncio.run(run())
    assert t[2] < 0.05  # the burst goes at once
    # then no more than 3 starts in any 0.3 s window
    assert t[3] - t[0] >= 0.3 - 0.001 and t[4] - t[1] >= 0.3 - 0.001
    assert t[4] < 0.3 + 0.3


def test_pacer_gap_follows_the_fastest_recent_round_trip():
    """gap = share * min(recent rtt) / concurrency; slow outliers do not widen it; sub-ms gaps are off."""
    p = Pacer(10, share=0.5)
    assert p.gap == 0.0  # nothing measured: no pacing
    p.observe(0.050)
    assert p.gap == pytest.approx(0.5 * 0.050 / 10)
    p.observe(5.0)  # a slow response (or an injected fault)
    assert p.gap == pytest.approx(0.0025)
    p.observe(0.040)
    assert p.gap == pytest.approx(0.002)
    fast = Pacer(100, share=0.5)
    fast.observe(0.050)  # 0.25 ms: below timer resolution, not kept
    assert fast.gap == 0.0
    window = Pacer(10, share=0.5, window=4)
    window.observe(0.020)
    for _ in range(4):
        window.observe(0.060)
    assert window.gap == pytest.approx(0.003)  # the 20 ms sample left the window


def test_pacer_spaces_simultaneous_starts():
    """Ten requests released at once start one gap apart (booked slots: a late wake-up of one start may
    shorten the next gap, never the schedule)."""

    async def run() -> list[float]:
        p = Pacer(10, share=0.5)
        p.observe(0.060)  # gap 3 ms
        times: list[float] = []

        async def one() -> None:
            await p.wait()
            times.append(time.monotonic())

        await asyncio.gather(*(one() for _ in range(10)))
        return times

    times = asyncio.run(run())
    gaps = sorted(b - a for a, b in zip(times, times[1:]))
    assert times[-1] - times[0] >= 9 * 0.003 - 0.0002
    assert gaps[len(gaps) // 2] >= 0.003 - 0.0002
    assert times[-1] - times[0] <= 9 * 0.003 + 0.3  # upper slack: a loaded 2-core machine


def test_key_never_in_repr_or_logs(caplog):
    client = PolygonClient("http://127.0.0.1:9", api_key=MARKER)
    try:
        assert MARKER not in repr(client)
        assert MARKER not in repr(vars(client)) if hasattr(client, "__dict__") else True
        assert MARKER not in repr(client._lanes[0].headers)
        with caplog.at_level(logging.DEBUG):
            logging.getLogger("quantmini.client").warning("oops %s", MARKER)
            logging.getLogger("quantmini").error("header Bearer " + MARKER)
            logging.getLogger("httpx").warning("url ?k=%s", MARKER)
        assert caplog.records, "records were emitted"
        assert all(MARKER not in r.getMessage() for r in caplog.records)
        assert "***" in caplog.text and MARKER not in caplog.text
        assert SECRET_FILTER.mask(f"x{MARKER}y") == "x***y"
    finally:
        asyncio.run(client.aclose())


def test_backoff_is_full_jitter_capped():
    client = PolygonClient("http://127.0.0.1:9", backoff_base=0.5, backoff_max=4.0)
    try:
        for attempt, cap in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (7, 4.0)]:
            draws = [client._backoff(attempt) for _ in range(400)]
            assert 0.0 <= min(draws) and max(draws) <= cap
            assert max(draws) > 0.8 * cap and min(draws) < 0.2 * cap  # spread over the whole range
    finally:
        asyncio.run(client.aclose())
