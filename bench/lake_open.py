"""What `Lake()` costs to open (it lists every table's files and reads each footer), against the number of
files: a synthesized lake with every catalog table (bronze, silver, quarantine) at month grain and the
minute tables at session grain, and one with 10x fewer files; plus, per lake, a query that touches one
table and the temp-file sweep every run does (quantmini.runstate.sweep_temp_files).

    uv run python bench/lake_open.py [--tickers 2000] [--months 24] [--minute-sessions 63] [--out DIR]

Rows are synthesized with the real column counts that matter for a footer (bronze bars: 9 columns, silver
stocks_daily: 9 + the 158 Alpha158 features); the small lake has a tenth of the months and minute
sessions. Prints files, open seconds (median of --repeat), per-file cost and the ratio; figures go to
bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow_scripts"))

from quantmini.lake_db import LAYERS, Lake, _catalog_tables  # noqa: E402
from quantmini.parquet_io import write_parquet  # noqa: E402
from quantmini.runstate import sweep_temp_files  # noqa: E402


def frame(tickers: int, day: dt.date, wide: bool, rng) -> pl.DataFrame:
    n = tickers
    cols = {"ticker": [f"T{i:05d}" for i in range(n)], "date": [day] * n}
    for c in ("open", "high", "low", "close", "vwap"):
        cols[c] = rng.random(n).astype(np.float32)
    cols["volume"] = rng.integers(0, 10**7, n)
    cols["transactions"] = rng.integers(0, 10**5, n)
    if wide:
        for k in range(158):
            cols[f"f{k:03d}"] = rng.random(n).astype(np.float32)
    return pl.DataFrame(cols)


def synthesize(root: Path, tickers: int, months: int, sessions: int) -> int:
    """Every catalog table: a file per month (a month's first day's rows x 21 sessions' worth of tickers),
    minute tables a file per session. Returns the number of files."""
    rng = np.random.default_rng(0)
    month_list = [(2025 - (k // 12), 12 - k % 12) for k in range(months)]
    narrow = frame(tickers * 21, dt.date(2025, 1, 2), False, rng)
    wide = frame(tickers * 21, dt.date(2025, 1, 2), True, rng)
    minute = frame(5 * 390, dt.date(2025, 1, 2), False, rng)
    files = 0
    for layer in LAYERS:
        for _, folder, pattern in _catalog_tables(layer):
            if layer == "silver" and folder in ("news_daily", "fundamentals_daily"):
                continue  # their join views need their real columns: two tables of ~30 left out
            for k, (y, m) in enumerate(month_list):
                if "date=*" in pattern:
                    for d in range(max(0, min(21, sessions - 21 * k))):  # the newest months' sessions
                        path = root / layer / folder / f"year={y}/month={m:02d}/date={y}-{m:02d}-{d + 1:02d}" / \
                            "data.parquet"
                        path.parent.mkdir(parents=True, exist_ok=True)
                        write_parquet(minute, path)
                        files += 1
                    continue
                path = root / layer / folder / pattern.replace("year=*", f"year={y}").replace(
                    "month=*", f"month={m:02d}")
                path.parent.mkdir(parents=True, exist_ok=True)
                big = layer == "silver" and folder == "stocks_daily"
                write_parquet(wide if big else (narrow.head(50) if layer == "quarantine" else narrow), path)
                files += 1
    return files


def timed(fn, repeat: int) -> float:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def measure(root: Path, repeat: int) -> dict:
    def open_close():
        Lake(root).close()

    def one_query():
        with Lake(root) as lake:
            lake.query("SELECT count(*) FROM bronze_stocks_daily WHERE year = 2025 AND month = 12")

    return {"open": timed(open_close, repeat), "open+query": timed(one_query, repeat),
            "sweep": timed(lambda: sweep_temp_files(root), repeat)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tickers", type=int, default=2000)
    p.add_argument("--months", type=int, default=24)
    p.add_argument("--minute-sessions", type=int, default=63, help="session files per minute table (3 months)")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--out", help="keep the lakes here (default: a temporary folder, removed)")
    args = p.parse_args()
    base = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="quantmini-lake-open-"))
    try:
        rows = []
        for name, months, sessions in (("large", args.months, args.minute_sessions),
                                       ("small", max(1, args.months // 10), max(1, args.minute_sessions // 10))):
            root = base / name
            shutil.rmtree(root, ignore_errors=True)
            files = synthesize(root, args.tickers, months, sessions)
            rows.append((name, files, measure(root, args.repeat)))
        print(f"{'lake':<6} {'files':>6} {'open s':>8} {'ms/file':>8} {'open+query s':>13} {'sweep s':>8}")
        for name, files, m in rows:
            print(f"{name:<6} {files:>6} {m['open']:>8.3f} {1000 * m['open'] / files:>8.2f} "
                  f"{m['open+query']:>13.3f} {m['sweep']:>8.4f}")
        (_, f_large, large), (_, f_small, small) = rows
        print(f"files x{f_large / f_small:.1f}: open x{large['open'] / small['open']:.1f}, "
              f"open+query x{large['open+query'] / small['open+query']:.1f}, "
              f"sweep x{large['sweep'] / small['sweep']:.1f}")
        return 0
    finally:
        if not args.out:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
