"""The revision window's cost on the demo lake: a one-session daily update and the no-op with
`revision_sessions: 5` beside `0`, and the update's requests per data type.

Run: uv run python bench/revisions.py                      # the demo config, 50 tickers, 2025-01-02 .. --end
     uv run python bench/revisions.py --end 2025-02-14 --out bench/out/revisions-short

The lake (every data type of --config) is built to the session two before --end with the window off; the
update to the next session runs with the window off, the update to --end with it on (5), both one
session forward from a settled lake, the simulator unchanged (nothing is revised: the window's whole cost
is its requests and its checks). Then no-op runs with the window on, then off: switching the setting
reruns the gaps report once (its inputs list the sweeps' reports), so each first run is recorded apart.
Jobs run per update are listed, so an unchanged window rebuilding anything would show. Figures go to
<out>/result.json; bench/README.md discusses them. `--noops-only` reuses a lake --out already holds.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import REPO, request_type, snakemake  # noqa: E402

sys.path.insert(0, str(REPO / "workflow_scripts"))
from quantmini import calendar  # noqa: E402
from quantmini.sim.server import SimProcess  # noqa: E402

JOB = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):", re.M)


def write_config(workdir: Path, base: dict, start: str, end: dt.date, window: int) -> None:
    cfg = {**base, "data_root": str(workdir / "lake"), "source": "sim", "start": start, "end": end.isoformat(),
           "revision_sessions": window}
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg))


def by_type(requests: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in requests:
        key = request_type(r["path"])
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tickers", type=int, default=50)
    ap.add_argument("--start", default="2025-01-02")
    ap.add_argument("--end", default="2025-03-14", help="the last update's session")
    ap.add_argument("--config", type=Path, default=REPO / "config" / "config.yaml")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "revisions")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--noops", type=int, default=3, help="no-op runs per setting")
    ap.add_argument("--noops-only", action="store_true", help="only the no-op runs, on the lake --out holds")
    args = ap.parse_args()

    base = yaml.safe_load(args.config.read_text())
    base.pop("sim", None)
    days = calendar.sessions(args.start, args.end)
    workdir = args.out.resolve()
    result: dict = {"tickers": args.tickers, "start": args.start, "end": days[-1].isoformat(),
                    "sessions": len(days), "data_types": base["data_types"], "updates": {}, "noop_s": {}}
    if args.noops_only:
        result = json.loads((workdir / "result.json").read_text()) if (workdir / "result.json").exists() else result
        result["noop_s"] = {}
    else:
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
    sim = SimProcess(tickers=args.tickers, seed=42, start=args.start, end=days[-1].isoformat(),
                     request_log=str(workdir / "requests.jsonl"), ready_timeout=600).start()
    try:
        if not args.noops_only:
            updates(workdir, base, args, days, sim, result)
            (workdir / "result.json").write_text(json.dumps(result, indent=1) + "\n")
        for window in (5, 0):
            write_config(workdir, base, args.start, days[-1], window)
            for k in range(args.noops + 1):
                n = len(sim.requests())
                wall, _, out = snakemake(workdir, sim.url, "all", cores=args.cores)
                if len(sim.requests()) != n:
                    raise SystemExit(f"the no-op (revision_sessions {window}) made requests:\n{out[-3000:]}")
                if k == 0:  # after the update or the switch (the gaps report's inputs changed): not a no-op
                    result[f"first_run_{window}_jobs"] = sorted(set(JOB.findall(out)))
                    continue
                if "Nothing to be done" not in out:
                    raise SystemExit(f"the no-op (revision_sessions {window}) did work:\n{out[-3000:]}")
                result["noop_s"].setdefault(str(window), []).append(round(wall, 1))
        print(f"  no-op s: on {result['noop_s']['5']}, off {result['noop_s']['0']}; first runs after a switch: "
              f"{result['first_run_5_jobs']}, {result['first_run_0_jobs']}", flush=True)
    finally:
        sim.stop()
        sim.cleanup()
    off, on = result["updates"]["0"], result["updates"]["5"]
    result["ratios"] = {"update_wall": round(on["wall_s"] / off["wall_s"], 2),
                        "update_requests": round(on["requests"] / off["requests"], 2),
                        "noop_wall": round(sum(result["noop_s"]["5"]) / len(result["noop_s"]["5"])
                                           / (sum(result["noop_s"]["0"]) / len(result["noop_s"]["0"])), 2)}
    result["jobs_only_with_window"] = sorted(set(on["jobs"]) - set(off["jobs"]))
    print(f"  ratios (on / off): {result['ratios']}; jobs only with the window: {result['jobs_only_with_window']}")
    (workdir / "result.json").write_text(json.dumps(result, indent=1) + "\n")


def updates(workdir: Path, base: dict, args, days: list[dt.date], sim, result: dict) -> None:
    """Build to the session two before the end, then one update with the window off and one with it on."""
    write_config(workdir, base, args.start, days[-3], 0)
    wall, _, _ = snakemake(workdir, sim.url, "all", cores=args.cores)
    result["build_s"] = round(wall, 1)
    print(f"revisions bench: build to {days[-3]} in {wall:.1f} s", flush=True)
    for window, day in ((0, days[-2]), (5, days[-1])):
        n = len(sim.requests())
        write_config(workdir, base, args.start, day, window)
        wall, _, out = snakemake(workdir, sim.url, "all", cores=args.cores)
        reqs = sim.requests()[n:]
        jobs = sorted(set(JOB.findall(out)))
        result["updates"][str(window)] = {"session": day.isoformat(), "wall_s": round(wall, 1),
                                          "requests": len(reqs), "by_type": by_type(reqs), "jobs": jobs}
        print(f"  update to {day}, revision_sessions {window}: {wall:.1f} s, {len(reqs)} requests "
              f"{by_type(reqs)}", flush=True)


if __name__ == "__main__":
    main()
