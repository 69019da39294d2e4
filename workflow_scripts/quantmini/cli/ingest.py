"""`quantmini ingest`: the Snakemake workflow run through Snakemake's Python API (the same rules, the
same lock; no second pipeline), with an optional PIPELINE_SUMMARY.md of the run."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sys
import time
from pathlib import Path

import yaml

from quantmini.cli.common import (
    DATA_TYPES,
    INTERRUPTS,
    PROFILE,
    REPO,
    data_types,
    fail,
    load_config,
)
from quantmini.config import resolve_range
from quantmini.lake import LakePaths


def _profile() -> dict:
    """The default profile's settings, so `quantmini ingest` schedules exactly like `snakemake`."""
    return yaml.safe_load(PROFILE.read_text()) or {}


def run_snakemake(targets: list[str], *, configfile: str | None, overrides: dict, cores: int | None,
                  forcerun: list[str] = (), dry_run: bool = False) -> None:
    """Build `targets` with Snakemake's Python API in this directory; raise on failure."""
    with _quiet_jobs():
        _run(targets, configfile=configfile, overrides=overrides, cores=cores, forcerun=forcerun, dry_run=dry_run)


@contextlib.contextmanager
def _quiet_jobs():
    """The run's jobs end quietly on Ctrl-C: quiet_interrupt/sitecustomize.py first on their PYTHONPATH."""
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(Path(__file__).with_name("quiet_interrupt")),
                                                           before) if p)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before


def _run(targets, *, configfile, overrides, cores, forcerun, dry_run) -> None:
    from snakemake.api import SnakemakeApi
    from snakemake.scheduling.greedy import SchedulerSettings as GreedySchedulerSettings
    from snakemake.settings.enums import RerunTrigger
    from snakemake.settings.types import (
        ConfigSettings,
        DAGSettings,
        ExecutionSettings,
        OutputSettings,
        ResourceSettings,
        SchedulingSettings,
    )

    prof = _profile()
    resources = dict(item.split("=", 1) for item in prof.get("resources", []))
    with SnakemakeApi(OutputSettings(printshellcmds=bool(prof.get("printshellcmds", False)),
                                     show_failed_logs=bool(prof.get("show-failed-logs", True)))) as api:
        wf = api.workflow(
            resource_settings=ResourceSettings(cores=cores or int(prof.get("cores", 1)),
                                               resources={k: int(v) for k, v in resources.items()}),
            config_settings=ConfigSettings(configfiles=[Path(configfile)] if configfile else [], config=overrides),
            snakefile=REPO / "Snakefile", workdir=Path.cwd(),
        )
        dag = wf.dag(DAGSettings(
            targets=frozenset(targets), forcerun=frozenset(forcerun),
            force_incomplete=bool(prof.get("rerun-incomplete", True)),
            rerun_triggers=RerunTrigger.parse_choices_set(prof.get("rerun-triggers", ["mtime", "params", "input"])),
        ))
        dag.execute_workflow(
            executor="local", pseudo_executor="dryrun" if dry_run else None,
            execution_settings=ExecutionSettings(keep_going=bool(prof.get("keep-going", False))),
            scheduling_settings=SchedulingSettings(scheduler=prof.get("scheduler", "greedy"),
                                                   subsample=prof.get("scheduler-subsample")),
            scheduler_settings=GreedySchedulerSettings(),
        )


def _snakemake_error(exc: BaseException) -> str:
    from snakemake.exceptions import LockException

    if isinstance(exc, LockException):
        return (f"another run holds the workflow lock on {Path.cwd()} (Snakemake's lock); this run stops "
                "without touching the lake - try again when the other run has finished")
    lines = [l.strip() for l in str(exc).splitlines() if l.strip()]
    return lines[0] if lines else type(exc).__name__


def _job_errors(root: Path, since: float) -> list[str]:
    """The ERROR lines that failed jobs wrote to their logs in this run (each job logs why it failed)."""
    out = []
    logs = LakePaths(root).logs_dir()
    for f in sorted(logs.rglob("*.log")) if logs.is_dir() else []:
        if f.stat().st_mtime >= since:
            out += [line.split(": ", 1)[1].strip() for line in f.read_text(errors="replace").splitlines()
                    if " ERROR " in line and ": " in line]
    return out


def ingest(args, forcerun: list[str] = (), targets: list[str] | None = None) -> int:
    types = data_types(args.type)
    overrides = {}
    if args.start:
        overrides["start"] = args.start
    if args.end:
        overrides["end"] = args.end
    if args.max_concurrent:
        overrides["max_concurrency"] = args.max_concurrent
    if getattr(args, "data_root", None):  # gaps --backfill --data-root X repairs X, not the config's lake
        overrides["data_root"] = args.data_root
    base = load_config(args.config, overrides)
    types = types or list(base["data_types"])
    overrides["data_types"] = [t for t in DATA_TYPES if t in set(base["data_types"]) | set(types)]
    cfg = load_config(args.config, overrides)
    root = cfg["data_root"]
    if targets is None:  # rules/targets.smk: a type's bronze partitions, then the layer asked for
        targets = [f"ingest_{t}" for t in types] + ([] if args.to == "bronze" else [args.to])
    started, t0 = dt.datetime.now().astimezone(), time.time()
    error, locked = None, False
    try:
        run_snakemake(targets, configfile=args.config, overrides=overrides, cores=args.cores, forcerun=forcerun,
                      dry_run=args.dry_run)
    except Exception as exc:  # Snakemake reports the failed job's log above; we end with one line
        if INTERRUPTS:  # Ctrl-C: Snakemake stopped its jobs; main says "interrupted"
            raise KeyboardInterrupt from None
        from snakemake.exceptions import LockException

        error, locked = _snakemake_error(exc), isinstance(exc, LockException)
        failed = _job_errors(Path(root), t0)
        if failed and not locked:
            error = "; ".join(failed[:3]) + (f" (and {len(failed) - 3} more)" if len(failed) > 3 else "")
    if args.summary and not locked:  # a locked-out run leaves the summary to the run that holds the lock
        _write_summary(Path(args.summary), Path(root), cfg, types, started, t0, error)
    if error:
        return fail(f"ingest failed: {error}", 1)
    if not args.dry_run and Path(root).is_dir():  # the views for BI tools (`quantmini query` writes nothing)
        from quantmini.lake_db import Lake

        try:
            with Lake(root) as lake:
                lake.write_catalog()
        except Exception as exc:  # noqa: BLE001 -- the lake is built; only the BI catalog is stale
            print(f"quantmini: ingest: lake.duckdb not refreshed: {str(exc).splitlines()[0][:200]}", file=sys.stderr)
    return 0


def _write_summary(path: Path, root: Path, cfg: dict, types: list[str], started, t0: float, error) -> None:
    from quantmini import atomic
    from quantmini.gaps import find_gaps
    from quantmini.lake_db import Lake
    from quantmini.lake_report import fetched_since, pipeline_summary

    start, end = resolve_range(cfg)
    with Lake(root) as lake:
        status, validation = lake.status(), lake.validation_reports()
    gaps = find_gaps(root, start, end, types, cfg=cfg) if root.is_dir() else None
    text = pipeline_summary(root, started=started, finished=dt.datetime.now().astimezone(), ok=error is None,
                            error=error, cfg={**cfg, "end": f"{cfg['end']} ({end})"}, fetched=fetched_since(root, t0),
                            status=status, validation=validation, gaps=gaps)
    atomic.write_text(path, text)
