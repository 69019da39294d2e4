"""Full-market scale: build the stocks_daily lake (bronze, silver with Alpha158, gold) for the whole
simulated US market, then time a no-op run and a one-session daily update.

Run: uv run python bench/scale.py                         # 12,000 tickers, 2020-01-02 .. last session
     uv run python bench/scale.py --tickers 2000 --start 2025-01-02 --out bench/out/scale-small
     uv run python bench/scale.py --tickers 50 --start 2025-01-02 --config config/config.yaml \
         --out bench/out/demo    # the demo lake, every data type: its daily update's requests per type

The simulator runs as its own process (as the vendor would, but here it shares the 2 cores); the
workflow reaches it through QUANTMINI_API_URL. The lake is first built to the session before the last,
then `end` advances by one session for the update. Per layer it prints wall time, the peak memory of the
whole Snakemake process tree (sampled from /proc every 0.1 s: concurrent jobs add up) and the largest
single job (Snakemake's benchmark max_rss); then the no-op time, the update time and its request count,
and the size on disk per layer. Figures go to <out>/result.json too; bench/README.md discusses them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow_scripts"))

from quantmini import calendar  # noqa: E402
from quantmini.sim.server import SimProcess  # noqa: E402

LAYERS = [  # (target, rules whose benchmark files belong to it)
    ("bronze", ("landing_", "bronze_")),
    ("silver", ("silver_",)),
    ("gold", ("gold_", "gaps_report")),
]
TYPES = ["stocks_daily", "splits", "dividends", "ticker_changes", "tickers"]
TARGETS = {"full": 20 * 60, "peak_gb": 8.0, "noop": 5.0, "update": 60.0, "disk_gb": 8.0}


def tree_rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        p = int(entry.name)
        children.setdefault(int(fields[1]), []).append(p)  # ppid
        rss[p] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")  # rss in pages
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo.extend(children.get(p, ()))
    return total


class PeakSampler:
    """Samples tree_rss(pid) in a thread; .peak is the largest total seen."""

    def __init__(self, pid: int, every: float = 0.1):
        self.pid, self.every, self.peak = pid, every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self._stop.wait(self.every)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def snakemake(workdir: Path, api_url: str, *targets: str, cores: int) -> tuple[float, int, str]:
    """Run the workflow; (wall seconds, peak tree RSS bytes, stdout+stderr tail)."""
    cmd = [sys.executable, "-m", "snakemake", *targets, "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--profile", str(REPO / "profiles" / "default"), "--cores", str(cores),
           "--configfile", str(workdir / "config.yaml")]
    env = {k: v for k, v in os.environ.items() if k not in ("MASSIVE_API_KEY", "POLYGON_API_KEY")}
    env["QUANTMINI_API_URL"] = api_url
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    sampler = PeakSampler(proc.pid)
    out, _ = proc.communicate()
    peak = sampler.stop()
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"snakemake {' '.join(targets)} failed ({proc.returncode}):\n{out[-4000:]}")
    return wall, peak, out


def job_benchmarks(lake: Path, prefixes: tuple[str, ...]) -> dict:
    """Largest max_rss (MB) and summed CPU seconds over the benchmark files of rules with these prefixes."""
    max_rss, cpu, jobs = 0.0, 0.0, 0
    bench = lake / "benchmarks"
    for f in bench.rglob("*.tsv"):
        rule = f.relative_to(bench).parts[0].removesuffix(".tsv")
        if not rule.startswith(prefixes):
            continue
        lines = f.read_text().splitlines()
        if len(lines) < 2:
            continue
        row = dict(zip(lines[0].split("\t"), lines[-1].split("\t")))
        with_na = lambda k: float(row[k]) if row.get(k, "NA") not in ("NA", "-") else 0.0  # noqa: E731
        max_rss = max(max_rss, with_na("max_rss"))
        cpu += with_na("cpu_time")
        jobs += 1
    return {"jobs": jobs, "max_job_rss_mb": round(max_rss), "cpu_s": round(cpu, 1)}


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def write_config(workdir: Path, args, end: dt.date) -> None:
    cfg = {"universe": "all", "data_types": TYPES, "alpha158": True, "retries": 8}
    if args.config:  # e.g. config/config.yaml: the demo's data types, options underlyings, minute set...
        cfg = yaml.safe_load(args.config.read_text())
        cfg.pop("sim", None)
    cfg.update({"data_root": str(workdir / "lake"), "source": "sim", "start": args.start, "end": end.isoformat(),
                "max_concurrency": args.concurrency})
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg))


def request_type(path: str) -> str:
    """The data type a simulator request serves (for the update's request count per type)."""
    parts = path.strip("/").split("/")
    if path.startswith("/v2/aggs/grouped"):
        return "stocks_daily"
    if path.startswith("/v2/aggs/ticker/"):
        option = parts[3].startswith("O:")
        minute = len(parts) > 6 and parts[6] == "minute"
        return ("options" if option else "stocks") + ("_minute" if minute else "_daily")
    if path.startswith("/v3/reference/options/contracts"):
        return "options_daily"
    if path.startswith("/v3/reference/tickers/"):
        return "ticker_details"
    if path.startswith("/vX/reference/tickers/"):
        return "ticker_changes"
    if path.startswith(("/vX/reference/financials", "/stocks/v1/short-")):
        return "fundamentals"
    names = {"/v3/reference/tickers": "tickers", "/v3/reference/splits": "splits",
             "/v3/reference/dividends": "dividends", "/v2/reference/news": "news"}
    return names.get(path.rstrip("/"), path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tickers", type=int, default=12_000)
    ap.add_argument("--start", default="2020-01-02")
    ap.add_argument("--end", default=None, help="last session of the final lake (default: the last completed one)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "scale")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--keep", action="store_true", help="reuse an existing lake under --out (skip nothing, just resume)")
    ap.add_argument("--config", type=Path, default=None,
                    help="take data types and type settings from this config (e.g. config/config.yaml: the demo)")
    args = ap.parse_args()

    final = calendar.to_date(args.end) if args.end else calendar.last_completed_session()
    days = calendar.sessions(args.start, final)
    before = days[-2]
    workdir = args.out.resolve()
    if workdir.exists() and not args.keep:
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    lake = workdir / "lake"
    result: dict = {"tickers": args.tickers, "start": args.start, "end": final.isoformat(), "sessions": len(days),
                    "cores": args.cores, "layers": {}}
    print(f"scale: {args.tickers} tickers x {len(days)} sessions ({args.start} .. {final}), {args.cores} cores, "
          f"out {workdir}", flush=True)

    t = time.perf_counter()
    sim = SimProcess(tickers=args.tickers, seed=42, start=args.start, end=final.isoformat(),
                     request_log=str(workdir / "requests.jsonl"), ready_timeout=600).start()
    result["sim_start_s"] = round(time.perf_counter() - t, 1)
    print(f"  simulator ready in {result['sim_start_s']} s (its CPU is shared with the workflow)", flush=True)
    try:
        write_config(workdir, args, before)
        total = 0.0
        for target, prefixes in LAYERS:
            wall, peak, _ = snakemake(workdir, sim.url, target, cores=args.cores)
            total += wall
            layer = {"wall_s": round(wall, 1), "peak_tree_rss_gb": round(peak / 2**30, 2),
                     **job_benchmarks(lake, prefixes)}
            result["layers"][target] = layer
            print(f"  {target:6s} {wall:7.1f} s  peak {layer['peak_tree_rss_gb']:.2f} GB (tree)  "
                  f"largest job {layer['max_job_rss_mb']} MB  {layer['jobs']} jobs, {layer['cpu_s']} CPU s", flush=True)
        result["full_build_s"] = round(total, 1)
        wall, peak, out = snakemake(workdir, sim.url, "all", cores=args.cores)  # reports etc. not yet built
        result["finish_all_s"] = round(wall, 1)
        noop, _, out = snakemake(workdir, sim.url, "all", cores=args.cores)
        if "Nothing to be done" not in out:
            raise SystemExit(f"the no-op run did work:\n{out[-3000:]}")
        result["noop_s"] = round(noop, 1)
        print(f"  full build {total:.1f} s (+{result['finish_all_s']} s for `all`'s reports); no-op {noop:.1f} s",
              flush=True)

        n_before = len(sim.requests())
        write_config(workdir, args, final)
        wall, peak, out = snakemake(workdir, sim.url, "all", cores=args.cores)
        reqs = sim.requests()[n_before:]
        by_path: dict[str, int] = {}
        for r in reqs:
            key = request_type(r["path"])
            by_path[key] = by_path.get(key, 0) + 1
        result["update"] = {"wall_s": round(wall, 1), "peak_tree_rss_gb": round(peak / 2**30, 2),
                            "requests": len(reqs), "requests_by_path": by_path}
        print(f"  daily update ({before} -> {final}) {wall:.1f} s through gold, {len(reqs)} requests {by_path}, "
              f"peak {peak / 2**30:.2f} GB", flush=True)
    finally:
        sim.stop()
        sim.cleanup()

    sizes = {layer: du(lake / layer) for layer in ("landing", "bronze", "silver", "gold")}
    result["disk_gb"] = {k: round(v / 2**30, 2) for k, v in sizes.items()}
    bronze_silver = (sizes["bronze"] + sizes["silver"]) / 2**30
    peak_all = max(v["peak_tree_rss_gb"] for v in result["layers"].values())
    print("  disk: " + ", ".join(f"{k} {v:.2f} GB" for k, v in result["disk_gb"].items()), flush=True)
    checks = [
        ("full build <= 20 min", result["full_build_s"] <= TARGETS["full"], f"{result['full_build_s']:.0f} s"),
        ("peak memory <= 8 GB", peak_all <= TARGETS["peak_gb"], f"{peak_all:.2f} GB"),
        ("no-op <= 5 s", result["noop_s"] <= TARGETS["noop"], f"{result['noop_s']:.1f} s"),
        ("daily update <= 60 s", result["update"]["wall_s"] <= TARGETS["update"], f"{result['update']['wall_s']:.1f} s"),
        ("bronze + silver <= 8 GB", bronze_silver <= TARGETS["disk_gb"], f"{bronze_silver:.2f} GB"),
    ]
    result["targets"] = {name: {"met": bool(ok), "value": v} for name, ok, v in checks}
    for name, ok, v in checks:
        print(f"  {'MET   ' if ok else 'MISSED'} {name}: {v}")
    (workdir / "result.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
