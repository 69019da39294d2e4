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
and the size on disk per layer. Figures go to <out>/result.json too (the lake is <out>/this/lake, a baseline's
<out>/baseline/lake); bench/README.md discusses them.

Then the shares issue 21 sets targets on: the update's and the no-op's share of the full build, and where
the update's time went (each job's wall from its benchmark file). `--revisions` runs the same daily update
a second time from a copy of the pre-update lake with `revision_sessions: 0` beside the config's default (issue 18's
cost of the revision window). `--baseline REV` first builds the same lake with commit REV checked out in
a temporary `git worktree` (its workflow and package, this environment and simulator), so old and new
are measured back to back in one run, and prints the ratios: the machine's speed varies 2x over hours.

     uv run python bench/scale.py --tickers 2000 --start 2025-01-02 --baseline main --revisions
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
TARGETS = {"full": 20 * 60, "peak_gb": 8.0, "noop": 3.0, "update": 60.0, "disk_gb": 8.0}  # no-op: issue 18
# issue 21, as shares of the full build measured in the same run
SHARES = {"update": 0.015, "noop": 0.0025, "full_vs_baseline": 0.55}


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


def snakemake(workdir: Path, api_url: str, *targets: str, cores: int, repo: Path = REPO) -> tuple[float, int, str]:
    """Run the workflow of the checkout `repo`; (wall seconds, peak tree RSS bytes, stdout+stderr tail)."""
    cmd = [sys.executable, "-m", "snakemake", *targets, "-s", str(repo / "Snakefile"), "--directory", str(workdir),
           "--profile", str(repo / "profiles" / "default"), "--cores", str(cores),
           "--configfile", str(workdir / "config.yaml")]
    env = {k: v for k, v in os.environ.items() if k not in ("MASSIVE_API_KEY", "POLYGON_API_KEY")}
    env["QUANTMINI_API_URL"] = api_url
    env["PYTHONPATH"] = os.pathsep.join([str(repo / "workflow_scripts"), *filter(None, [env.get("PYTHONPATH")])])
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


def jobs_since(lake: Path, since: float) -> list[tuple[str, float, float]]:
    """(job, wall s, CPU s) of every benchmark file written after `since` (epoch seconds), longest first."""
    out = []
    bench = lake / "benchmarks"
    for f in bench.rglob("*.tsv"):
        if f.stat().st_mtime < since:
            continue
        lines = f.read_text().splitlines()
        if len(lines) < 2:
            continue
        row = dict(zip(lines[0].split("\t"), lines[-1].split("\t")))
        num = lambda k: float(row[k]) if row.get(k, "NA") not in ("NA", "-") else 0.0  # noqa: E731
        out.append((str(f.relative_to(bench).with_suffix("")), num("s"), num("cpu_time")))
    return sorted(out, key=lambda j: -j[1])


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def write_config(workdir: Path, args, end: dt.date, **overrides) -> None:
    cfg = {"universe": "all", "data_types": TYPES, "alpha158": True, "retries": 8}
    if args.config:  # e.g. config/config.yaml: the demo's data types, options underlyings, minute set...
        cfg = yaml.safe_load(args.config.read_text())
        cfg.pop("sim", None)
    cfg.update({"data_root": str(workdir / "lake"), "source": "sim", "start": args.start, "end": end.isoformat(),
                "max_concurrency": args.concurrency, **overrides})
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


def build_and_update(label: str, repo: Path, workdir: Path, sim, args, days: list[dt.date]) -> dict:
    """Build the lake layer by layer with the checkout `repo`, time `all`, the no-op, the daily update
    (and, with args.revisions, the same update with revision_sessions 0 on a copy of the lake)."""
    final, before = days[-1], days[-2]
    if workdir.exists() and not args.keep:
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    lake = workdir / "lake"
    result: dict = {"label": label, "layers": {}}
    print(f"[{label}] {repo}", flush=True)
    write_config(workdir, args, before)
    total = 0.0
    for target, prefixes in LAYERS:
        wall, peak, _ = snakemake(workdir, sim.url, target, cores=args.cores, repo=repo)
        total += wall
        layer = {"wall_s": round(wall, 1), "peak_tree_rss_gb": round(peak / 2**30, 2),
                 **job_benchmarks(lake, prefixes)}
        result["layers"][target] = layer
        print(f"  {target:6s} {wall:7.1f} s  peak {layer['peak_tree_rss_gb']:.2f} GB (tree)  "
              f"largest job {layer['max_job_rss_mb']} MB  {layer['jobs']} jobs, {layer['cpu_s']} CPU s", flush=True)
    result["full_build_s"] = round(total, 1)
    wall, peak, out = snakemake(workdir, sim.url, "all", cores=args.cores, repo=repo)  # reports not yet built
    result["finish_all_s"] = round(wall, 1)
    noops = []
    for _ in range(3):  # the median of three: one run of a few seconds varies by a second on a shared VM
        noop, _, out = snakemake(workdir, sim.url, "all", cores=args.cores, repo=repo)
        if "Nothing to be done" not in out:
            raise SystemExit(f"the no-op run did work:\n{out[-3000:]}")
        noops.append(round(noop, 2))
    noop = sorted(noops)[1]
    result["noop_s"], result["noop_runs_s"] = round(noop, 1), noops
    print(f"  full build {total:.1f} s (+{result['finish_all_s']} s for `all`'s reports); no-op {noop:.1f} s "
          f"(median of {', '.join(f'{n:.1f}' for n in noops)})", flush=True)

    runs = [("update", {})]
    if args.revisions:  # the same update from the same lake: a copy, swapped in at the same absolute path
        # afterwards (Snakemake's metadata is keyed by absolute paths: a lake at another path reruns otherwise)
        pre = workdir.parent / f"{workdir.name}-pre-update"
        shutil.rmtree(pre, ignore_errors=True)
        shutil.copytree(workdir, pre, symlinks=True)
        runs.append(("update_rev0", {"revision_sessions": 0}))
    for key, overrides in runs:
        wd = workdir
        if key != "update":
            post = workdir.parent / f"{workdir.name}-post-update"
            shutil.rmtree(post, ignore_errors=True)
            workdir.rename(post)
            pre.rename(workdir)
        n_before = len(sim.requests())
        write_config(wd, args, final, **overrides)
        since = time.time()
        wall, peak, out = snakemake(wd, sim.url, "all", cores=args.cores, repo=repo)
        reqs = sim.requests()[n_before:]
        by_path: dict[str, int] = {}
        for r in reqs:
            k = request_type(r["path"])
            by_path[k] = by_path.get(k, 0) + 1
        jobs = jobs_since(wd / "lake", since)
        result[key] = {"wall_s": round(wall, 1), "peak_tree_rss_gb": round(peak / 2**30, 2),
                       "requests": len(reqs), "requests_by_path": by_path,
                       "jobs": [{"job": j, "wall_s": w, "cpu_s": c} for j, w, c in jobs]}
        what = "daily update" if key == "update" else "daily update, revision_sessions 0"
        print(f"  {what} ({before} -> {final}) {wall:.1f} s through gold, {len(reqs)} requests {by_path}, "
              f"peak {peak / 2**30:.2f} GB", flush=True)
        print("    jobs (wall s / CPU s): " + ", ".join(f"{j} {w:.1f}/{c:.1f}" for j, w, c in jobs[:8])
              + (f", {len(jobs) - 8} more {sum(w for _, w, _ in jobs[8:]):.1f} s" if len(jobs) > 8 else ""),
              flush=True)
        if key != "update":  # the default update's lake back in place
            shutil.rmtree(workdir)
            post.rename(workdir)

    sizes = {layer: du(lake / layer) for layer in ("landing", "bronze", "silver", "gold")}
    result["disk_gb"] = {k: round(v / 2**30, 2) for k, v in sizes.items()}
    print("  disk: " + ", ".join(f"{k} {v:.2f} GB" for k, v in result["disk_gb"].items()), flush=True)
    full = result["full_build_s"]
    result["update_share"] = round(result["update"]["wall_s"] / full, 5)
    result["noop_share"] = round(result["noop_s"] / full, 5)
    print(f"  update {100 * result['update_share']:.2f} % of the full build, no-op {100 * result['noop_share']:.2f} %"
          + (f", update with revision_sessions 0 {100 * result['update_rev0']['wall_s'] / full:.2f} %"
             if "update_rev0" in result else ""), flush=True)
    return result


def checks(result: dict, baseline: dict | None) -> list[tuple[str, bool | None, str]]:
    """(target, met or None when not measured here, value) for the old targets and issue 21's."""
    bronze_silver = result["disk_gb"]["bronze"] + result["disk_gb"]["silver"]
    peak_all = max(v["peak_tree_rss_gb"] for v in result["layers"].values())
    out = [
        ("full build <= 20 min", result["full_build_s"] <= TARGETS["full"], f"{result['full_build_s']:.0f} s"),
        ("peak memory <= 8 GB", peak_all <= TARGETS["peak_gb"], f"{peak_all:.2f} GB"),
        ("issue 18: no-op < 3 s", result["noop_s"] < TARGETS["noop"], f"{result['noop_s']:.1f} s"),
        ("daily update <= 60 s", result["update"]["wall_s"] <= TARGETS["update"], f"{result['update']['wall_s']:.1f} s"),
        ("bronze + silver <= 8 GB", bronze_silver <= TARGETS["disk_gb"], f"{bronze_silver:.2f} GB"),
        ("issue 21: daily update <= 1.5 % of the full build", result["update_share"] <= SHARES["update"],
         f"{100 * result['update_share']:.2f} %"),
        ("issue 21: no-op <= 0.25 % of the full build", result["noop_share"] <= SHARES["noop"],
         f"{100 * result['noop_share']:.2f} %"),
    ]
    if baseline is not None:
        ratio = result["full_build_s"] / baseline["full_build_s"]
        out.append(("issue 21: full build <= 55 % of the baseline's", ratio <= SHARES["full_vs_baseline"],
                    f"{100 * ratio:.0f} % ({result['full_build_s']:.0f} s vs {baseline['full_build_s']:.0f} s)"))
    else:
        out.append(("issue 21: full build <= 55 % of the baseline's", None, "no --baseline given"))
    out += [
        ("issue 21: peak memory <= 8 GB", peak_all <= TARGETS["peak_gb"], f"{peak_all:.2f} GB"),
        ("issue 21: Alpha158 >= 100x pyqlib (CPU)", None, "measured by bench/alpha158.py"),
    ]
    return out


def baseline_checkout(rev: str, where: Path) -> Path:
    """A temporary detached `git worktree` of `rev` (removed by remove_checkout)."""
    if where.exists():
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(where)], check=False)
        shutil.rmtree(where, ignore_errors=True)
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(where), rev], check=True,
                   stdout=subprocess.DEVNULL)
    return where


def remove_checkout(where: Path) -> None:
    subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(where)], check=False)


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
    ap.add_argument("--revisions", action="store_true",
                    help="also run the daily update with revision_sessions 0 (on a copy of the lake)")
    ap.add_argument("--baseline", default=None, metavar="REV",
                    help="first build the same lake with this git revision (a temporary worktree) and compare")
    args = ap.parse_args()

    final = calendar.to_date(args.end) if args.end else calendar.last_completed_session()
    days = calendar.sessions(args.start, final)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    summary: dict = {"tickers": args.tickers, "start": args.start, "end": final.isoformat(), "sessions": len(days),
                     "cores": args.cores, "load_avg": list(os.getloadavg())}
    print(f"scale: {args.tickers} tickers x {len(days)} sessions ({args.start} .. {final}), {args.cores} cores, "
          f"out {out}, load average {os.getloadavg()[0]:.1f}", flush=True)

    t = time.perf_counter()
    sim = SimProcess(tickers=args.tickers, seed=42, start=args.start, end=final.isoformat(),
                     request_log=str(out / "requests.jsonl"), ready_timeout=600).start()
    summary["sim_start_s"] = round(time.perf_counter() - t, 1)
    print(f"  simulator ready in {summary['sim_start_s']} s (its CPU is shared with the workflow)", flush=True)
    baseline = None
    try:
        if args.baseline:
            checkout = baseline_checkout(args.baseline, out / "baseline-checkout")
            try:
                rev = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], check=True,
                                     capture_output=True, text=True).stdout.strip()
                baseline = build_and_update(f"baseline {args.baseline} ({rev})", checkout, out / "baseline", sim,
                                            args, days)
            finally:
                remove_checkout(checkout)
            summary["baseline"] = baseline
        result = build_and_update("this checkout", REPO, out / "this", sim, args, days)
    finally:
        sim.stop()
        sim.cleanup()
    summary.update(result)
    summary["load_avg_end"] = list(os.getloadavg())
    if baseline is not None:
        summary["ratios"] = {
            "full_build": round(result["full_build_s"] / baseline["full_build_s"], 3),
            **{f"{layer}": round(result["layers"][layer]["wall_s"] / max(baseline["layers"][layer]["wall_s"], 1e-9), 3)
               for layer in result["layers"]},
            "noop": round(result["noop_s"] / baseline["noop_s"], 3),
            "update": round(result["update"]["wall_s"] / baseline["update"]["wall_s"], 3),
        }
        print("  this / baseline: " + ", ".join(f"{k} {v:.2f}" for k, v in summary["ratios"].items()), flush=True)
        print(f"  baseline: update {100 * baseline['update_share']:.2f} %, no-op {100 * baseline['noop_share']:.2f} % "
              "of its full build", flush=True)
    checked = checks(result, baseline)
    summary["targets"] = {name: {"met": ok, "value": v} for name, ok, v in checked}
    for name, ok, v in checked:
        print(f"  {'MET   ' if ok else 'MISSED' if ok is False else 'N/A   '} {name}: {v}")
    (out / "result.json").write_text(json.dumps(summary, indent=1) + "\n")


if __name__ == "__main__":
    main()
