"""Measure the simulator at full size: market build time/memory, and server CPU per grouped-daily request.

    uv run python -m quantmini.sim.measure [--tickers 12000 --start 2019-01-02 --end 2024-12-31 --days 40]

Heavy (a 12,000-security market in this process and another in the server): run it by hand, rarely.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import httpx

from quantmini.sim.market import Market, MarketConfig
from quantmini.sim.server import SimProcess


def _cpu_s(pid: int) -> float:
    """utime + stime of a process, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--tickers", type=int, default=12_000)
    p.add_argument("--start", default="2019-01-02")
    p.add_argument("--end", default="2024-12-31")
    p.add_argument("--days", type=int, default=40)
    a = p.parse_args()
    out: dict = {"tickers": a.tickers}
    t0 = time.perf_counter()
    market = Market(MarketConfig(n_tickers=a.tickers, start=a.start, end=a.end))
    out["build_s"] = round(time.perf_counter() - t0, 2)
    out["sessions"] = market.N
    out["build_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    days = market.sessions[-a.days:]
    del market
    with SimProcess(tickers=a.tickers, start=a.start, end=a.end) as sim, \
            httpx.Client(base_url=sim.url, http1=False, http2=True, timeout=60) as client:
        pid = sim.info["pid"]
        for label, adjusted in (("raw_first", "false"), ("raw_cached", "false"), ("adjusted_first", "true")):
            cpu0, wall0, nbytes = _cpu_s(pid), time.perf_counter(), 0
            for d in days:
                r = client.get(f"/v2/aggs/grouped/locale/us/market/stocks/{d}", params={"adjusted": adjusted})
                r.raise_for_status()
                nbytes = len(r.content)
            out[f"server_cpu_ms_per_grouped_{label}"] = round((_cpu_s(pid) - cpu0) / len(days) * 1000, 2)
            out[f"wall_ms_per_grouped_{label}"] = round((time.perf_counter() - wall0) / len(days) * 1000, 2)
        out["grouped_body_bytes"] = nbytes
        with open(f"/proc/{pid}/status") as fh:
            out["server_rss_mb"] = next(round(int(line.split()[1]) / 1024) for line in fh if line.startswith("VmHWM"))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
