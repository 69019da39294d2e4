"""Ingest benchmark: our HTTP/2 client against the simulator (a subprocess on its own core, 50 ms latency).

Workloads
  (a) grouped daily: every session of --years years, whole market of --tickers securities, adjusted=false
  (b) range day bars: --tickers one-year windows (~250 bars each; each symbol's last year first), adjusted=false
For a sequential baseline (concurrency 1, on the first --baseline-requests requests) and for our
client at each --concurrency, prints requests/s, MB/s, client CPU ms per request (process CPU of this
process while fetching: HTTP, HTTP/2 framing, JSON check; the simulator's CPU is not in it) beside the
latency limit (concurrency / latency), then parses every body and checks that the parsed bars are
identical across runs and equal to the simulator's ground truth (`Market` rebuilt in this process
from the same seed).

    uv run python bench/ingest.py            # 2,000 tickers, 5 years (several minutes)
    uv run python bench/ingest.py --quick    # smoke run
    uv run python bench/ingest.py --profile 50 --only range   # cProfile (CPU time) of one run
    uv run python bench/ingest.py --compression on            # gzip only (default: both, side by side)

Measured on the quiet 2-core machine (load ~1), 2,000 tickers, 5 years, `--unpaced` (same run):
  range   (26 KB bodies)  seq 18.5 req/s (92% of 20); c=10 186.7 req/s = 93.3% of 200 (unpaced 165.1 =
                          82.5%); c=50 795.8 (43x seq; unpaced 761.6); c=100 975.2 (unpaced 983.0);
                          client CPU 0.9-1.3 ms/req, simulator 0.8-1.2 ms/req (h2c)
  grouped (190 KB bodies) seq 17.5 req/s; c=10 167.8 = 83.9% (unpaced 146.5 = 73.3%); c=50 313;
                          c=100 327 (62 MB/s); client 2.6-2.7 ms/req, simulator 2.3-2.4 ms/req: CPU-bound
Pacing (quantmini.client.Pacer) is what moved c=10: unpaced, the ten lanes run in step and each request
waits for the CPU of the others on both sides. A cProfile (CPU time) at c=10: httpx 14%, anyio 12%,
httpcore 12%, asyncio 11%, h2/hpack/hyperframe 19%; our code (URL building, orjson completeness check,
counters) under 5%.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import datetime as dt
import gc
import hashlib
import io
import os
import pstats
import sys
import time
from dataclasses import dataclass

import polars as pl
from quantmini.calendar import sessions
from quantmini.client import PolygonClient
from quantmini.datatypes.stocks_daily.parse import (
    BARS_SCHEMA,
    parse_grouped,
    parse_range,
)
from quantmini.sim.market import Market, MarketConfig
from quantmini.sim.server import SimProcess

GROUPED = "/v2/aggs/grouped/locale/us/market/stocks/{day}"
RANGE = "/v2/aggs/ticker/{ticker}/range/1/day/{start}/{end}"
KEY_COLS = ["ticker", "date"]
VALUE_COLS = ["open", "high", "low", "close", "volume", "vwap", "transactions"]


@dataclass
class Run:
    workload: str
    concurrency: int
    requests: int
    wall: float
    cpu: float
    server_cpu: float
    nbytes: int
    retries: int
    parse_ms: float
    fingerprint: str
    truth_ok: bool
    paced: bool = True
    gzip: bool = True
    wire: int = 0  # response body bytes on the wire (compressed when gzip)

    @property
    def rps(self) -> float:
        return self.requests / self.wall

    @property
    def limit(self) -> float:
        return self.concurrency / LATENCY_S


LATENCY_S = 0.050
SIM_PID: int | None = None
STREAMS_PER_CONNECTION: int | None = None  # None: the client's default


def proc_cpu(pid: int | None) -> float:
    """utime + stime of another process, in seconds (Linux /proc)."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def fetch_all(url: str, paths: list[tuple[str, dict]], concurrency: int, http2: bool, profile: bool,
                    pacing: bool = True, compression: bool = True):
    """Fetch every path with one client; return bodies, wall, process CPU, bytes, retries, wire bytes."""
    async with PolygonClient(url, max_concurrency=concurrency, http2=http2, timeout=60, pacing=pacing,
                             streams_per_connection=STREAMS_PER_CONNECTION, compression=compression) as client:
        await client.get_bytes("/v1/marketstatus/upcoming", allow_404=True)  # connect outside the window
        prof = cProfile.Profile(time.process_time) if profile else None  # CPU, not wall
        gc.collect()
        cpu0, scpu0, t0 = time.process_time(), proc_cpu(SIM_PID), time.perf_counter()
        wire0 = client.stats.wire_bytes
        if prof:
            prof.enable()
        bodies = await asyncio.gather(*(client.get_bytes(p, q) for p, q in paths))
        if prof:
            prof.disable()
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        server_cpu = proc_cpu(SIM_PID) - scpu0
        stats = client.stats
        if prof:
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(25)
            print(out.getvalue())
        return (bodies, wall, cpu, server_cpu, sum(len(b) for b in bodies), stats.retries,
                stats.wire_bytes - wire0)


def fingerprint(df: pl.DataFrame) -> str:
    """Order-independent digest of a bars frame (sorted rows, Arrow IPC bytes)."""
    buf = io.BytesIO()
    df.sort(KEY_COLS).write_ipc(buf, compression="uncompressed")
    return hashlib.sha256(buf.getvalue()).hexdigest()[:16]


def truth_equal(parsed: pl.DataFrame, truth: pl.DataFrame) -> bool:
    cols = KEY_COLS + VALUE_COLS
    a = parsed.select(cols).sort(KEY_COLS)
    b = truth.select(cols).cast({c: parsed.schema[c] for c in cols}).sort(KEY_COLS)
    return a.height == b.height and a.equals(b)


def run_workload(name, url, paths, parse, truth_of, concurrencies, baseline_n, http2, profile_at, unpaced=False,
                 gzip_modes=(True,)):
    runs: list[Run] = []
    plan = [(1, True, z) for z in gzip_modes] + [
        (c, p, z) for c in concurrencies for p in ((False, True) if unpaced else (True,)) for z in gzip_modes]
    for conc, paced, gz in plan:
        todo = paths[:baseline_n] if conc == 1 else paths
        bodies, wall, cpu, server_cpu, nbytes, retries, wire = asyncio.run(
            fetch_all(url, todo, conc, http2, profile=(profile_at == conc), pacing=paced, compression=gz))
        t0 = time.process_time()
        frames = [parse(b, p) for b, p in zip(bodies, todo)]
        parsed = pl.concat(frames) if frames else pl.DataFrame(schema=BARS_SCHEMA)
        parse_ms = (time.process_time() - t0) * 1000 / max(1, len(bodies))
        del bodies, frames
        ok = truth_equal(parsed, truth_of(todo))
        runs.append(Run(name, conc, len(todo), wall, cpu, server_cpu, nbytes, retries, parse_ms,
                        fingerprint(parsed), ok, paced, gz, wire))
        r = runs[-1]
        load = os.getloadavg()[0]
        print(f"  {name:8s} c={conc:<3d}{'' if paced or conc == 1 else ' unpaced'} {'gzip' if gz else 'identity':8s}"
              f" {r.requests:5d} req  wire {r.wire / r.requests / 1e3:6.1f} KB/req"
              f"  {r.rps:7.1f} req/s ({r.rps / r.limit * 100:5.1f}% of "
              f"{r.limit:5.0f})  {r.nbytes / 1e6 / r.wall:6.1f} MB/s  client CPU {r.cpu * 1000 / r.requests:5.2f} ms/req"
              f"  server CPU {r.server_cpu * 1000 / r.requests:5.2f} ms/req  parse {r.parse_ms:5.2f} ms/body  retries {r.retries}  truth {'OK' if r.truth_ok else 'MISMATCH'}"
              f"  (machine load {load:.1f})", flush=True)
    return runs


def report(runs: list[Run]) -> bool:
    base = runs[0]
    full = [r for r in runs if r.concurrency != 1]
    same = len({r.fingerprint for r in full}) == 1
    print(f"\n{base.workload}: sequential baseline {base.rps:.1f} req/s "
          f"({base.rps / base.limit * 100:.0f}% of its {base.limit:.0f} req/s limit)")
    print(f"  {'conc':>8} {'body':>8} {'req/s':>8} {'limit':>6} {'% limit':>8} {'x seq':>6} {'MB/s':>7} {'wire MB/s':>9}"
          f" {'wire KB/req':>11} {'CPU ms/req':>10} {'sim CPU ms/req':>14}")
    for r in runs:
        conc = f"{r.concurrency}{'' if r.paced or r.concurrency == 1 else ' unp'}"
        print(f"  {conc:>8} {'gzip' if r.gzip else 'identity':>8} {r.rps:8.1f} {r.limit:6.0f} {r.rps / r.limit * 100:7.1f}% "
              f"{r.rps / base.rps:6.1f} {r.nbytes / 1e6 / r.wall:7.1f} {r.wire / 1e6 / r.wall:9.1f} {r.wire / r.requests / 1e3:11.1f}"
              f" {r.cpu * 1000 / r.requests:10.2f} {r.server_cpu * 1000 / r.requests:14.2f}")
    print(f"  parsed data identical across full runs: {same} (fingerprint {full[0].fingerprint if full else '-'});"
          f" equal to ground truth in every run: {all(r.truth_ok for r in runs)}")
    return same and all(r.truth_ok for r in runs)


def range_windows(market: Market, count: int) -> list[tuple[str, dt.date, dt.date]]:
    """`count` (symbol, first, last) one-year windows: each symbol's last year of bars first, then
    earlier years of the same symbols until `count` is reached (windows of >= 200 sessions only,
    or 3/4 of a shorter market)."""
    days = market.sessions
    min_len = min(200, len(days) * 3 // 4)
    out: list[tuple[str, dt.date, dt.date]] = []
    for back in range(0, len(days), 252):
        for sym, (_j, first, last) in sorted(market.symbol_spans.items()):
            hi = last - back
            lo = max(first, hi - 251)
            if hi - lo + 1 >= min_len:
                out.append((sym, days[lo], days[hi]))
                if len(out) == count:
                    return out
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tickers", type=int, default=2000)
    p.add_argument("--years", type=float, default=5.0)
    p.add_argument("--concurrency", default="10,50,100", help="comma list (the baseline at 1 always runs)")
    p.add_argument("--baseline-requests", type=int, default=300,
                   help="requests in the sequential baseline (it runs at ~20 req/s)")
    p.add_argument("--latency-ms", type=float, default=50.0)
    p.add_argument("--only", choices=("grouped", "range"), default=None)
    p.add_argument("--http1", action="store_true", help="HTTP/1.1 instead of h2c")
    p.add_argument("--streams-per-connection", type=int, default=None,
                   help="HTTP/2 streams per connection (default: the client's)")
    p.add_argument("--unpaced", action="store_true",
                   help="also run each concurrency with the client's pacing off (the old behaviour), for comparison")
    p.add_argument("--compression", choices=("on", "off", "both"), default="both",
                   help="gzip bodies (the client's default, as the real API), identity, or each run both ways")
    p.add_argument("--gzip-level", type=int, default=1, help="the simulator's gzip level (its default: 1)")
    p.add_argument("--profile", type=int, default=None, metavar="CONC", help="cProfile the run at this concurrency")
    p.add_argument("--quick", action="store_true", help="small sizes: 200 tickers, 0.5 year, 60 baseline requests")
    args = p.parse_args(argv)
    if args.quick:
        args.tickers, args.years, args.baseline_requests = 200, 0.5, 60
    global LATENCY_S, STREAMS_PER_CONNECTION
    LATENCY_S = args.latency_ms / 1000.0
    STREAMS_PER_CONNECTION = args.streams_per_connection
    concurrencies = [int(c) for c in args.concurrency.split(",") if c.strip()]
    gzip_modes = {"on": (True,), "off": (False,), "both": (True, False)}[args.compression]

    end = dt.date(2024, 12, 31)
    start = sessions(end - dt.timedelta(days=int(args.years * 365.25)) + dt.timedelta(days=1), end)[0]
    t0 = time.perf_counter()
    market = Market(MarketConfig(seed=42, n_tickers=args.tickers, start=start, end=end))
    raw = market.daily_raw()
    print(f"ground truth: {args.tickers} securities, {market.N} sessions {start}..{end}, {raw.height:,} bars "
          f"({time.perf_counter() - t0:.1f} s)", flush=True)

    ok = True
    with SimProcess(tickers=args.tickers, seed=42, start=start.isoformat(), end=end.isoformat(),
                    latency_ms=args.latency_ms, gzip_level=args.gzip_level) as sim:
        global SIM_PID
        SIM_PID = sim.proc.pid
        print(f"simulator {sim.url} (pid {sim.proc.pid}), latency {args.latency_ms:.0f} ms, "
              f"{'HTTP/1.1' if args.http1 else 'h2c'}", flush=True)
        if args.only in (None, "grouped"):
            days = market.sessions
            paths = [(GROUPED.format(day=d.isoformat()), {"adjusted": "false"}) for d in days]
            by_day = raw.partition_by("date", as_dict=True)

            def grouped_truth(todo):
                want = [dt.date.fromisoformat(p.rsplit("/", 1)[1]) for p, _ in todo]
                return pl.concat([by_day[(d,)] for d in want if (d,) in by_day])

            runs = run_workload("grouped", sim.url, paths, lambda b, _p: parse_grouped(b), grouped_truth,
                                concurrencies, args.baseline_requests, not args.http1, args.profile, args.unpaced,
                                gzip_modes)
            ok &= report(runs)
        if args.only in (None, "range"):
            windows = range_windows(market, args.tickers)
            paths = [(RANGE.format(ticker=t, start=a.isoformat(), end=b.isoformat()), {"adjusted": "false"})
                     for t, a, b in windows]
            print(f"range: {len(windows)} requests over {len({t for t, _, _ in windows})} symbols", flush=True)

            def range_truth(todo):
                want = pl.DataFrame([[p.split("/")[i] for i in (4, 8, 9)] for p, _ in todo],
                                    schema=["ticker", "start", "end"], orient="row").with_columns(
                    pl.col("start", "end").str.to_date(), pl.int_range(pl.len()).alias("k"))
                return (raw.join(want, on="ticker").filter(pl.col("date").is_between("start", "end"))
                        .drop("start", "end", "k"))

            runs = run_workload("range", sim.url, paths, lambda b, p: parse_range(b, p[0].split("/")[4]),
                                range_truth, concurrencies, args.baseline_requests, not args.http1, args.profile, args.unpaced,
                                gzip_modes)
            ok &= report(runs)
    print("\nRESULT:", "data identical across runs and equal to ground truth" if ok else "DATA MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
