"""Benchmark: preparing the LightGBM example's dataset with QuantminiAlpha158 vs Qlib's Alpha158 handler.

Same run, same provider directory, same processors and segments as
examples/qlib/workflow_lightgbm_alpha158.yaml (RobustZScoreNorm + Fillna fitted on the train segment,
DropnaLabel + CSRankNorm on the label): each variant runs in a fresh process (pyqlib keeps global state)
that builds the handler and prepares train/valid/test as LGBModel does; wall time, CPU time (with
pyqlib's worker processes) and peak RSS (the process or its largest worker) are reported, end to end
and for the loading phase alone (features and label: the part the handler replaces; the processors
after it are Qlib's own in both), and the
prepared test segment is compared with Qlib's (worst |a-b| / max(1, |b|), NaN pattern).

Datasets: random-walk bars for N tickers x S sessions published with quantmini.qlib_writer (default
500 x 1,260), and the demo lake's gold (`--lake lake`, skipped when absent), where the stored-feature
source ("lake": gold fields or silver) is timed too.

    uv run python bench/qlib_dataset.py                                  # 500 x 1260 and ./lake
    uv run python bench/qlib_dataset.py --tickers 100 --sessions 300     # quick
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

_RUN = r"""
import json, resource, sys, time
import numpy as np

def cpu():
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + c.ru_utime + c.ru_stime

spec = json.loads(sys.argv[1])
import qlib
qlib.init(provider_uri=spec["provider"], region="us", expression_cache=None, dataset_cache=None,
          kernels=spec["kernels"], logging_level=40)
from qlib.data.dataset import DatasetH
from qlib.data.dataset.handler import DataHandlerLP
kw = dict(instruments="all", start_time=spec["start"], end_time=spec["end"], fit_start_time=spec["start"],
          fit_end_time=spec["segments"]["train"][1],
          infer_processors=[{"class": "RobustZScoreNorm", "kwargs": {"fields_group": "feature", "clip_outlier": True}},
                            {"class": "Fillna", "kwargs": {"fields_group": "feature"}}],
          learn_processors=[{"class": "DropnaLabel"}, {"class": "CSRankNorm", "kwargs": {"fields_group": "label"}}])
def vm_hwm_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0

t0, c0 = time.perf_counter(), cpu()
if spec["variant"] == "qlib":
    from qlib.contrib.data.handler import Alpha158
    handler = Alpha158(init_data=False, **kw)
else:
    from quantmini.qlib_handler import QuantminiAlpha158
    handler = QuantminiAlpha158(source=spec["variant"], init_data=False, **kw)
load = handler.data_loader.load
phase = {}

def timed_load(*a, **k):  # the loading phase (features + label): what QuantminiAlpha158 replaces
    t, c = time.perf_counter(), cpu()
    out = load(*a, **k)
    phase["load_seconds"], phase["load_cpu"] = time.perf_counter() - t, cpu() - c
    return out

handler.data_loader.load = timed_load
handler.setup_data()
ds = DatasetH(handler, segments=spec["segments"])
parts = {seg: ds.prepare(seg, col_set=["feature", "label"], data_key=DataHandlerLP.DK_L)
         for seg in ("train", "valid")}
parts["test"] = ds.prepare("test", col_set=["feature", "label"], data_key=DataHandlerLP.DK_I)
seconds, cpu_seconds = time.perf_counter() - t0, cpu() - c0
peak = max(vm_hwm_kb(), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)  # this process, or its largest worker
test = parts["test"]
np.save(spec["out"], test.to_numpy(np.float64))
print(json.dumps({"seconds": seconds, "cpu_seconds": cpu_seconds, "peak_mb": peak / 1024, **phase,
                  "rows": {k: len(v) for k, v in parts.items()},
                  "source": getattr(handler.data_loader, "used_source", "qlib")}))
"""


_PIT = r"""
import json, sys, time
spec = json.loads(sys.argv[1])
import qlib
from qlib.data import D
qlib.init(provider_uri=spec["provider"], region="us", expression_cache=None, dataset_cache=None,
          kernels=spec["kernels"], logging_level=40)
t0 = time.perf_counter()
df = D.features(D.instruments("all"), spec["exprs"])
print(json.dumps({"seconds": time.perf_counter() - t0, "cells": int(df.size), "non_null": int(df.notna().sum().sum())}))
"""


def bench_pit(provider: Path, kernels: int) -> None:
    """pyqlib's P() over the PIT files gold_qlib_pit writes: every instrument and session, two fields."""
    if not (provider / "financial").is_dir():
        print("(no PIT files in this lake: P() not timed)")
        return
    exprs = ["P($$eps_q)", "P($$revenues_q)"]
    proc = subprocess.run([sys.executable, "-c", _PIT, json.dumps({"provider": str(provider), "exprs": exprs,
                                                                   "kernels": kernels})],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"quantmini: bench P() failed:\n{proc.stderr[-3000:]}")
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"  PIT {exprs} over every instrument and session: {r['seconds']:.2f} s for {r['cells']} values "
          f"({r['non_null']} non-null), {1e3 * r['seconds'] / max(1, r['cells']):.2f} ms per value")


def run(variant: str, provider: Path, start: str, end: str, segments: dict, out: Path, kernels: int) -> dict:
    spec = {"variant": variant, "provider": str(provider), "start": start, "end": end, "segments": segments,
            "out": str(out), "kernels": kernels}
    proc = subprocess.run([sys.executable, "-c", _RUN, json.dumps(spec)], capture_output=True, text=True,
                          cwd=out.parent)
    if proc.returncode != 0:
        raise SystemExit(f"quantmini: bench variant {variant} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compare(ours: Path, ref: Path) -> str:
    a, b = np.load(ours), np.load(ref)
    if a.shape != b.shape:
        return f"shape {a.shape} vs {b.shape}"
    err = np.abs(a - b) / np.maximum(1.0, np.abs(b))
    err[np.isnan(a) & np.isnan(b)] = 0
    return f"worst rel err {np.nanmax(err):.2g}, NaN pattern {'same' if (np.isnan(a) == np.isnan(b)).all() else 'DIFFERS'}"


def segments_for(sessions: list[str]) -> dict:
    n = len(sessions)
    a, b = int(n * 0.6), int(n * 0.8)
    return {"train": [sessions[0], sessions[a - 1]], "valid": [sessions[a], sessions[b - 1]],
            "test": [sessions[b], sessions[-3]]}


def bench(name: str, provider: Path, variants: list[str], kernels: int, work: Path) -> None:
    sessions = (provider / "calendars" / "day.txt").read_text().split()
    segs = segments_for(sessions)
    n_inst = len((provider / "instruments" / "all.txt").read_text().splitlines())
    print(f"\n== {name}: {n_inst} instruments x {len(sessions)} sessions; segments {segs}")
    res = {}
    for v in ["qlib", *variants]:
        res[v] = run(v, provider, sessions[0], sessions[-3], segs, work / f"{name}_{v}.npy", kernels)
        r = res[v]
        print(f"{v:>8}: {r['seconds']:7.2f} s wall, {r['cpu_seconds']:7.2f} s CPU (loading {r['load_seconds']:.2f} s "
              f"wall, {r['load_cpu']:.2f} s CPU), peak {r['peak_mb']:5.0f} MB, rows {r['rows']} (source {r['source']})")
    for v in variants:
        r, q = res[v], res["qlib"]
        print(f"{v:>8} vs qlib: end to end {q['seconds'] / r['seconds']:.1f}x faster (wall), "
              f"{q['cpu_seconds'] / r['cpu_seconds']:.1f}x less CPU; loading {q['load_seconds'] / r['load_seconds']:.1f}x "
              f"(wall), {q['load_cpu'] / r['load_cpu']:.1f}x (CPU); peak memory x{r['peak_mb'] / q['peak_mb']:.2f}; "
              f"test segment: {compare(work / f'{name}_{v}.npy', work / f'{name}_qlib.npy')}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tickers", type=int, default=500)
    p.add_argument("--sessions", type=int, default=1260)
    p.add_argument("--lake", default="lake", help="a lake whose gold/qlib to bench too (skipped when absent)")
    p.add_argument("--kernels", type=int, default=2, help="pyqlib worker processes")
    args = p.parse_args()
    from alpha158 import FIELDS, random_bars
    from quantmini import qlib_writer
    from quantmini.calendar import sessions

    with tempfile.TemporaryDirectory(prefix="bench_qlib_dataset_") as tmp:
        work = Path(tmp)
        bars = random_bars(args.tickers, args.sessions)
        cal = sessions("2019-01-02", "2035-12-31")[:args.sessions]
        qlib_writer.publish(work / "qlib", bars, cal, list(FIELDS))
        bench(f"random {args.tickers}x{args.sessions}", work / "qlib", ["compute"], args.kernels, work)
        lake = Path(args.lake) / "gold" / "qlib"
        if (lake / "calendars" / "day.txt").exists():
            bench("demo lake", lake.resolve(), ["compute", "lake"], args.kernels, work)
            bench_pit(lake.resolve(), args.kernels)
        else:
            print(f"\n(no provider directory at {lake}: demo lake skipped)")


if __name__ == "__main__":
    main()
