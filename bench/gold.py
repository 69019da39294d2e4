"""Benchmark of the Qlib gold writer against Qlib's dump_bin method, on 2,000 tickers x 1,260 sessions.

Run: uv run python bench/gold.py [--symbols 2000] [--sessions 1260] [--rounds 3] [--fsync-each]
     BENCH_DIR=/dev/shm uv run python bench/gold.py   # same on tmpfs: no disk, CPU cost only

Prints (1) our full build into an empty dir, (2) the reference (dump_bin's method re-implemented from the
spec: per-symbol pandas frame reindexed to the calendar, float32 tofile, one symbol at a time), their
speed ratio and byte equality, the peak memory of our full build (a child process, VmHWM reset before
publish), and (3) a daily update (one more session, a few symbols with a factor change) against a full
rebuild, checked byte-identical to it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
from quantmini.calendar import sessions
from quantmini.qlib_writer import _syncfs, publish, symbol_dirname

FIELDS = ["open", "high", "low", "close", "volume", "vwap", "factor", "change"]
N_SPLITS = 10


def synthetic(n_sym: int, n_cal: int, seed: int = 7) -> tuple[list, pl.DataFrame, pl.DataFrame]:
    """(calendar of n_cal+1 sessions, bars on the first n_cal, bars on all n_cal+1 with N_SPLITS symbols'
    history re-adjusted by a split that becomes known on the new day)."""
    rng = np.random.default_rng(seed)
    cal = sessions("2019-01-02", "2026-12-31")[: n_cal + 1]
    n = n_cal + 1
    start = np.where(rng.random(n_sym) < 0.2, rng.integers(1, n_cal - 150, n_sym), 0)  # 20% IPO late
    end = np.where(rng.random(n_sym) < 0.15, np.minimum(start + rng.integers(30, n_cal, n_sym), n_cal - 2), n - 1)
    t = np.arange(n)
    alive = (t >= start[:, None]) & (t <= end[:, None]) & (rng.random((n_sym, n)) > 0.01)  # 1% random gaps
    alive[np.arange(n_sym), start] = alive[np.arange(n_sym), end] = True
    close = 20 * np.exp(np.cumsum(rng.normal(0, 0.02, (n_sym, n)), axis=1))
    opn = close * (1 + rng.normal(0, 0.01, (n_sym, n)))
    vals = {
        "open": opn,
        "high": np.maximum(opn, close) * (1 + rng.uniform(0, 0.01, (n_sym, n))),
        "low": np.minimum(opn, close) * (1 - rng.uniform(0, 0.01, (n_sym, n))),
        "close": close,
        "volume": rng.integers(100, 5_000_000, (n_sym, n)).astype(np.float64),
        "vwap": (opn + close) / 2,
        "factor": np.ones((n_sym, n)),
        "change": np.c_[np.full(n_sym, np.nan), close[:, 1:] / close[:, :-1] - 1],
    }
    names = np.array([f"S{i:04d}" for i in range(n_sym)], dtype=object)
    names[:3] = ["CON", "PRN", "LPT1"]  # reserved names go to _qlib_<name>
    s_idx, t_idx = np.nonzero(alive)
    base = pl.DataFrame(
        {"symbol": names[s_idx].astype(str), "date": pl.Series([cal[i] for i in range(n)], dtype=pl.Date).gather(t_idx),
         **{f: vals[f][s_idx, t_idx] for f in FIELDS}}
    )
    # the split: for N_SPLITS alive symbols, everything before the new day is adjusted by 0.5
    split_syms = rng.choice(np.flatnonzero(end == n - 1), N_SPLITS, replace=False)
    adj = np.ones((n_sym, n))
    adj[split_syms, : n - 1] = 0.5
    adjv = adj[s_idx, t_idx]
    updated = base.with_columns(
        *[(pl.col(f) * adjv).alias(f) for f in ("open", "high", "low", "close", "vwap", "factor")],
        (pl.col("volume") / adjv).alias("volume"),
    )
    old = base.filter(pl.col("date") < cal[n_cal])
    return cal, old, updated


def reference_dump(out: Path, pdf: pd.DataFrame, calendar: list, fields: list[str]) -> None:
    """Qlib dump_bin's method: one symbol at a time, reindex to the calendar between its first and last
    date (NaN where missing), then per field [start index, values...] as float32 via tofile."""
    cal_idx = pd.DatetimeIndex(pd.to_datetime(calendar))
    cal_list = list(cal_idx)
    spans = []
    for sym, df in pdf.groupby("symbol", sort=True):
        df = df.sort_values("date").set_index("date")
        lo, hi = df.index.min(), df.index.max()
        df = df.reindex(cal_idx[(cal_idx >= lo) & (cal_idx <= hi)])
        start = cal_list.index(df.index.min())
        d = out / "features" / symbol_dirname(sym)
        d.mkdir(parents=True, exist_ok=True)
        for f in fields:
            np.hstack([start, df[f]]).astype("<f").tofile(str(d / f"{f}.day.bin"))
        spans.append(f"{sym}\t{lo:%Y-%m-%d}\t{hi:%Y-%m-%d}\n")
    (out / "instruments").mkdir(parents=True, exist_ok=True)
    (out / "instruments" / "all.txt").write_text("".join(spans))
    (out / "calendars").mkdir(parents=True, exist_ok=True)
    (out / "calendars" / "day.txt").write_text("".join(f"{d:%Y-%m-%d}\n" for d in cal_idx))


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _vm(key: str) -> int:
    """VmRSS / VmHWM of this process in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) // 1024
    return -1


def child_publish(parquet: str, cal_json: str, out: str, fsync_each: bool) -> None:
    """Our full build in a fresh process, for a clean peak-memory figure."""
    bars = pl.read_parquet(parquet)
    cal = [pd.Timestamp(d).date() for d in json.loads(Path(cal_json).read_text())]
    before = _vm("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # reset the RSS high-water mark to the current RSS
    t = time.perf_counter()
    stats = publish(Path(out), bars, cal, FIELDS, fsync_each=fsync_each)
    dt = time.perf_counter() - t
    print(json.dumps({"seconds": dt, "sync_seconds": stats.sync_seconds, "rss_before_mib": before, "peak_mib": _vm("VmHWM"),
                      "frame_mib": bars.estimated_size() / 2**20, "files": stats.files_created}))


def file_costs(root: Path, n: int = 1000) -> dict[str, float]:
    """Microseconds per mkdir / file create (open O_CREAT+write+close) / append (open+write+close) on the
    bench's own disk, measured now: the floor every writer of a Qlib directory pays, ours and dump_bin's."""
    d = Path(tempfile.mkdtemp(prefix="costs_", dir=root))
    data, out = b"\0" * 5040, {}
    try:
        t = time.perf_counter()
        for i in range(n):
            os.mkdir(d / f"s{i}")
        out["mkdir"] = (time.perf_counter() - t) / n * 1e6
        t = time.perf_counter()
        for i in range(n):
            fd = os.open(d / f"s{i}" / "f.bin", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, data)
            os.close(fd)
        out["create"] = (time.perf_counter() - t) / n * 1e6
        t = time.perf_counter()
        for i in range(n):
            fd = os.open(d / f"s{i}" / "f.bin", os.O_WRONLY | os.O_APPEND)
            os.write(fd, data[:4])
            os.close(fd)
        out["append"] = (time.perf_counter() - t) / n * 1e6
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return out


def _fmt(times: list[float]) -> str:
    return f"best {min(times):.2f}s of [{', '.join(f'{t:.2f}' for t in times)}]"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--symbols", type=int, default=2000)
    ap.add_argument("--sessions", type=int, default=1260)
    ap.add_argument("--rounds", type=int, default=3, help="interleaved repetitions (best is reported)")
    ap.add_argument("--fsync-each", action="store_true", help="also time a full build with one fsync per file")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    ap.add_argument("--child-fsync", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child_publish(*a.child, fsync_each=a.child_fsync)

    t = time.perf_counter()
    cal, old, new = synthetic(a.symbols, a.sessions)
    cal_old = cal[: a.sessions]
    print(f"synthetic: {old.height:,} bars ({old['symbol'].n_unique()} symbols x {len(cal_old)} sessions), "
          f"{len(FIELDS)} fields, generated in {time.perf_counter() - t:.1f}s")
    work = Path(tempfile.mkdtemp(prefix="bench_gold_", dir=os.environ.get("BENCH_DIR")))
    try:
        parquet, cal_json = work / "bars.parquet", work / "cal.json"
        old.write_parquet(parquet)
        cal_json.write_text(json.dumps([d.isoformat() for d in cal_old]))

        def ours(out: Path, fsync_each: bool = False) -> dict:
            cmd = [sys.executable, __file__, "--child", str(parquet), str(cal_json), str(out)]
            res = subprocess.run(cmd + (["--child-fsync"] if fsync_each else []), check=True, capture_output=True, text=True)
            return json.loads(res.stdout.strip().splitlines()[-1])

        # Timings on this VM swing by 5-10x with the host's I/O load: interleave rounds, report the best.
        ref_pdf = old.to_pandas()
        ref_pdf["date"] = pd.to_datetime(ref_pdf["date"])
        runs, t_refs, costs = [], [], []
        for i in range(a.rounds):
            costs.append(file_costs(work))
            runs.append(ours(work / f"ours{i}"))
            t = time.perf_counter()
            reference_dump(work / f"ref{i}", ref_pdf, cal_old, FIELDS)
            _syncfs(work)  # the same durability barrier ours pays
            t_refs.append(time.perf_counter() - t)
            if i:
                shutil.rmtree(work / f"ref{i}")
        best = min(runs, key=lambda r: r["seconds"])
        print(f"(1) ours, full build:      {_fmt([r['seconds'] for r in runs])}  ({best['files']} files; incl. {best['sync_seconds']:.2f}s syncfs)")
        print(f"    peak RSS during publish {best['peak_mib']} MiB (RSS before publish {best['rss_before_mib']} MiB, "
              f"frame {best['frame_mib']:.0f} MiB) -> publish adds {best['peak_mib'] - best['rss_before_mib']} MiB")
        print(f"(2) reference dump_bin:    {_fmt(t_refs)}  (pandas frame given; incl. one syncfs)")
        print(f"    speed ratio ref/ours (best/best): {min(t_refs) / best['seconds']:.1f}x  (target >= 5x); per round "
              + ", ".join(f"{r / o['seconds']:.1f}x" for r, o in zip(t_refs, runs)))
        print("    this disk's cost per operation before each round (us; the floor both writers pay, 2,000 mkdir + "
              "16,000 creates a build): " + "; ".join(
                  f"mkdir {c['mkdir']:.0f}, create {c['create']:.0f}, append {c['append']:.0f}" for c in costs))
        a_, b_ = tree_bytes(work / "ours0"), tree_bytes(work / "ref0")
        same = a_.keys() == b_.keys() and all(a_[k] == b_[k] for k in a_)
        print(f"    byte-identical outputs: {same} ({len(a_)} vs {len(b_)} files)")
        del a_, b_
        shutil.rmtree(work / "ref0")
        if a.fsync_each:
            rf = ours(work / "ours_fsync", fsync_each=True)
            print(f"    ours with one fsync per file (atomic_path): {rf['seconds']:.2f}s")
            shutil.rmtree(work / "ours_fsync")

        # (3) daily update: one more session, N_SPLITS symbols re-adjusted, vs a full rebuild of the same data
        t_upd, t_full = [], []
        for i in range(a.rounds):
            t = time.perf_counter()
            st = publish(work / f"ours{i}", new, cal, FIELDS)
            t_upd.append(time.perf_counter() - t)
            t_sync = st.sync_seconds
            shutil.rmtree(work / "full", ignore_errors=True)
            t = time.perf_counter()
            publish(work / "full", new, cal, FIELDS)
            t_full.append(time.perf_counter() - t)
        print(f"(3) daily update:          {_fmt(t_upd)}  (appended {st.files_appended}, rewritten {st.files_rewritten}, "
              f"unchanged {st.files_unchanged}, {st.bytes_written / 1024:.0f} KiB; "
              f"last incl. {t_sync:.2f}s syncfs)")
        print(f"    full rebuild:          {_fmt(t_full)}  -> update = {100 * min(t_upd) / min(t_full):.1f}% of it "
              f"(best/best; target <= 5%)")
        a_, b_ = tree_bytes(work / "ours0"), tree_bytes(work / "full")
        same = a_.keys() == b_.keys() and all(a_[k] == b_[k] for k in a_)
        print(f"    updated == fresh full build, byte for byte: {same}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
