"""Compressed bodies (issue 18, item 4): the simulator gzips when asked, as the real API does; the client
asks; what lands is the same bytes as before compression existed.

The reference for "the same bytes" is independent of the client: the body fetched with plain httpx and
`Accept-Encoding: identity`, gzipped the way landing always has (level 6, mtime 0).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import http.server
import threading

import httpx
import pytest
from quantmini.client import PolygonClient
from quantmini.datatypes.stocks_daily.landing import GROUPED_PATH, land_month
from quantmini.lake import LakePaths
from quantmini.sim.app import accepts_gzip
from quantmini.sim.server import SimProcess

DAYS = [dt.date(2024, 2, 1), dt.date(2024, 2, 2), dt.date(2024, 2, 5)]


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    log = tmp_path_factory.mktemp("sim") / "requests.jsonl"
    with SimProcess(tickers=30, seed=7, start="2024-01-02", end="2024-02-29", request_log=str(log)) as s:
        yield s


def plain_get(url: str, encoding: str) -> httpx.Response:
    with httpx.Client(http2=False) as c:
        return c.get(url, headers={"Accept-Encoding": encoding})


@pytest.mark.parametrize("header,expected", [
    ("gzip", True), ("gzip, deflate", True), ("deflate, gzip;q=0.5", True), ("*", True),
    ("identity", False), ("", False), ("gzip;q=0", False), ("gzip; q=0.000", False), ("br", False),
])
def test_accept_encoding_is_read_like_http_says(header, expected):
    assert accepts_gzip(header) is expected


def test_simulator_gzips_only_when_asked(sim):
    url = sim.url + GROUPED_PATH.format(day="2024-02-01") + "?adjusted=false"
    gz, plain = plain_get(url, "gzip"), plain_get(url, "identity")
    assert gz.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert int(gz.headers["content-length"]) < int(plain.headers["content-length"]) / 2
    assert gz.content == plain.content  # httpx decoded it: the same JSON


@pytest.mark.parametrize("http2", [True, False])
def test_client_asks_for_gzip_and_counts_wire_bytes(sim, http2):
    async def fetch(compression):
        async with PolygonClient(sim.url, compression=compression, http2=http2) as client:
            bodies = [await client.get_bytes(GROUPED_PATH.format(day=d.isoformat()), {"adjusted": "false"})
                      for d in DAYS]
            return bodies, client.stats

    on, stats_on = asyncio.run(fetch(True))
    off, stats_off = asyncio.run(fetch(False))
    assert on == off
    assert stats_on.bytes == stats_off.bytes == stats_off.wire_bytes == sum(map(len, on))
    assert stats_on.wire_bytes < stats_on.bytes / 2
    reference = [plain_get(sim.url + GROUPED_PATH.format(day=d.isoformat()) + "?adjusted=false", "identity").content
                 for d in DAYS]
    assert on == reference
    logged = [r for r in sim.requests() if r["path"].endswith(DAYS[0].isoformat())]
    assert any(r["wire_bytes"] < r["bytes"] for r in logged) and any(r["wire_bytes"] == r["bytes"] for r in logged)


def test_landing_files_are_byte_identical_with_compression(sim, tmp_path):
    lake = LakePaths(tmp_path / "lake")
    land_month(base_url=sim.url, api_key=None, lake=lake, dtype="stocks_daily", year=2024, month=2, days=DAYS,
               manifest=tmp_path / "manifest.json", max_concurrency=3, rate_per_minute=None, retries=2)
    for d in DAYS:
        served = plain_get(sim.url + GROUPED_PATH.format(day=d.isoformat()) + "?adjusted=false", "identity")
        assert lake.landing_day("stocks_daily", d).read_bytes() == gzip.compress(served.content, 6, mtime=0)
    wire = [r for r in sim.requests() if r["path"].endswith(DAYS[-1].isoformat())]
    assert wire and wire[0]["wire_bytes"] < wire[0]["bytes"]  # the landing job's request came compressed


def test_truncated_compressed_bodies_are_retried():
    """A body cut inside its gzip stream (the real-world form of a truncated compressed response)."""
    full = b'{"status":"OK","results":[' + b",".join(b'{"T":"A%d","c":1.5}' % i for i in range(400)) + b"]}"
    packed = gzip.compress(full, mtime=0)
    served = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            served.append(self.headers.get("Accept-Encoding"))
            body = packed[: len(packed) // 2] if len(served) == 1 else packed
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        async def fetch():
            async with PolygonClient(f"http://127.0.0.1:{server.server_port}", http2=False, backoff_base=0.01) as c:
                return await c.get_bytes("/x"), c.stats

        body, stats = asyncio.run(fetch())
    finally:
        server.shutdown()
    assert body == full and stats.retries == 1 and stats.truncated == 1
    assert served == ["gzip", "gzip"]


def test_truncate_fault_under_compression_is_retried(tmp_path):
    with SimProcess(tickers=10, seed=7, start="2024-01-02", end="2024-02-29", faults="truncate=0.6",
                    request_log=str(tmp_path / "r.jsonl")) as s:
        async def fetch():
            async with PolygonClient(s.url, backoff_base=0.01) as c:
                return [await c.get_bytes(GROUPED_PATH.format(day=d.isoformat()), {"adjusted": "false"})
                        for d in DAYS], c.stats

        bodies, stats = asyncio.run(fetch())
        faults = [r["fault"] for r in s.requests()]
    with SimProcess(tickers=10, seed=7, start="2024-01-02", end="2024-02-29") as clean:
        want = [plain_get(clean.url + GROUPED_PATH.format(day=d.isoformat()) + "?adjusted=false", "identity").content
                for d in DAYS]
    assert "truncate" in faults and stats.truncated >= 1
    assert bodies == want
