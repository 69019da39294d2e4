"""State of a workflow run, kept by the Snakefile's onstart/onsuccess/onerror: the lock record (so a
killed run's stale lock can be told from a live one), the temporary-file sweep, the writability probe,
the simulator the run started, and the universe check before any job.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

from quantmini import atomic
from quantmini.jobframe import die
from quantmini.processes import alive, me
from quantmini.settings import API_URL_ENV, api_url, api_verify

log = logging.getLogger("quantmini.runstate")
_SIM = None
_KNOWN: set[str] = set()  # tickers this process found the vendor knows (the planning check, then onstart)

RUN_FILE = Path(".snakemake") / "quantmini-run.json"


def check_writable(data_root: str | os.PathLike, probe: bool = True) -> None:
    """Stop with one line before any job when data_root cannot be written (read-only mount, no permission).

    `probe`: by creating the directory and a temporary file in it, so the answer is the filesystem's own
    (once jobs will run). Without: asked of the kernel (access(2), the mount's read-only flag) for data_root
    or its nearest existing parent, writing nothing (while Snakemake parses, a dry run included).
    """
    root = Path(data_root)
    if not probe:
        here = root.absolute()
        while not here.exists() and here != here.parent:
            here = here.parent
        if not os.access(here, os.W_OK):
            why = "Read-only file system" if os.statvfs(here).f_flag & os.ST_RDONLY else "Permission denied"
            die(f"data_root {root} is not writable ({why}); fix its mount or permissions, "
                "or point data_root elsewhere")
        return
    try:
        root.mkdir(parents=True, exist_ok=True)
        atomic.write_text(root / ".quantmini-write-probe", "")
        (root / ".quantmini-write-probe").unlink()
    except OSError as exc:
        die(f"data_root {root} is not writable ({exc.strerror or exc}); fix its mount or permissions, "
            "or point data_root elsewhere")


def clear_stale_lock(workdir: Path = Path(".")) -> bool:
    """Remove Snakemake's locks when the run that held them was killed (SIGKILL, power loss).

    Our runs record their pid and process start time in .snakemake/quantmini-run.json once they hold
    the lock. If that process is gone, its locks are stale and the next run may proceed; a live run's
    locks stay, and Snakemake then refuses to start with its "Directory cannot be locked" message.
    """
    run_file = workdir / RUN_FILE
    locks = workdir / ".snakemake" / "locks"
    try:
        run = json.loads(run_file.read_text())
    except (OSError, ValueError):
        return False
    if alive(int(run.get("pid", 0)), run.get("start")):
        return False  # the run is alive: leave its locks alone
    removed = 0
    for lock in locks.glob("*.lock") if locks.is_dir() else []:
        lock.unlink(missing_ok=True)
        removed += 1
    run_file.unlink(missing_ok=True)
    if removed:
        print(f"quantmini: removed a stale lock left by a killed run (pid {run.get('pid')})", file=sys.stderr)
    return bool(removed)


SWEPT_DIRS = ("landing", "bronze", "silver", "gold", "quarantine", "reports", "plan")
# swept by every run; gold (a file per symbol and field: ~90,000 at full market) by its publish jobs, which a
# killed publish leaves due (sweep_temp_files(provider_dir, folders=(".",)) in workflow_scripts/gold_*.py)
EVERY_RUN_DIRS = tuple(d for d in SWEPT_DIRS if d != "gold")


def sweep_temp_files(data_root: str | os.PathLike, *, unowned: bool = False, folders=SWEPT_DIRS) -> int:
    """Remove the temporary files (`.<name>.<pid>-<random>.tmp`, see atomic.atomic_path) killed writers left.

    A file whose writer (the pid in its name) is gone is removed on every run, a run with nothing to do
    included: safe without the workflow lock, since a live writer's file is kept. `unowned`: also remove
    the files whose name has no pid (written before names carried it); only once the run holds the lock
    after a killed run's stale lock was cleared. Never a final name, only hidden *.tmp files under the
    lake's `folders`. Returns how many were removed.
    """
    removed = 0
    for sub in folders:
        for dirpath, _, files in os.walk(Path(data_root) / sub):
            for name in files:
                if not atomic.is_temp_name(name):
                    continue
                pid = atomic.temp_owner(name)
                if (pid is None and unowned) or (pid is not None and not alive(pid)):
                    Path(dirpath, name).unlink(missing_ok=True)
                    removed += 1
    if removed:
        print(f"quantmini: removed {removed} temporary file(s) left by a killed run", file=sys.stderr)
    return removed


def record_run(workdir: Path = Path(".")) -> None:
    """Note that this process holds the workflow lock (see clear_stale_lock)."""
    atomic.write_text(workdir / RUN_FILE, json.dumps(me()))


def forget_run(workdir: Path = Path(".")) -> None:
    (workdir / RUN_FILE).unlink(missing_ok=True)


def start_api(cfg: dict, in_lake: bool = True) -> None:
    """Decide the endpoint of this run; start the bundled simulator when `source: sim` needs one (its
    request log in the lake's .sim/ when `in_lake`, else in its temporary folder)."""
    global _SIM
    if os.environ.get(API_URL_ENV):
        return  # an outer caller (tests, the CLI) already provides the endpoint
    if cfg["source"] == "polygon":
        os.environ[API_URL_ENV] = cfg["polygon"]["base_url"]
        return
    sim = cfg["sim"]
    if sim.get("url"):
        os.environ[API_URL_ENV] = sim["url"]
        return
    from quantmini.sim.server import SimProcess

    state = Path(cfg["data_root"]) / ".sim"
    if in_lake:
        state.mkdir(parents=True, exist_ok=True)
    _SIM = SimProcess(
        tickers=sim["tickers"],
        seed=sim["seed"],
        start=sim["market_start"] or cfg["start"],
        faults=sim.get("faults") or None,
        latency_ms=sim.get("latency_ms") or 0,
        plan_start=sim.get("plan_start") or None,
        delayed_minutes=sim.get("delayed_minutes") or 0,
        request_log=str(state / "requests.jsonl") if in_lake else None,
    )
    _SIM.start()
    os.environ[API_URL_ENV] = _SIM.url
    log.info("simulator listening on %s", _SIM.url)


def check_universe(cfg: dict, first_session: str, remember: bool = True) -> None:
    """Stop the run with one line when `universe` names a ticker the vendor does not know (onstart,
    once the endpoint is up, before any job; see quantmini.universe). `remember`: note the known
    tickers in the lake (not while planning: a dry run writes nothing)."""
    checks = [] if cfg["universe"] == "all" else [(cfg["universe"], "universe")]
    if "options_daily" in cfg["data_types"]:  # an underlying the vendor never listed builds empty options data
        checks.append(((cfg.get("options") or {}).get("underlyings") or [], "options.underlyings"))
    if not any(names for names, _ in checks):
        return
    from quantmini.client import ApiError, resolve_api_key
    from quantmini.universe import UnknownTickerError, remember_known
    from quantmini.universe import check_universe as check

    try:
        for names, key in checks:
            todo = [n for n in names if n not in _KNOWN]  # not already checked while planning
            if todo:
                check(todo, first_session, cfg["data_root"], base_url=api_url(cfg), api_key=resolve_api_key(),
                      verify=api_verify(), retries=cfg["retries"], rate_per_minute=cfg["rate_limit_per_minute"],
                      key=key, remember=False)
                _KNOWN.update(todo)
            if remember and names:
                remember_known(cfg["data_root"], names)
    except (UnknownTickerError, ApiError) as exc:
        stop_api()
        forget_run()
        die(str(exc))


def check_universe_at_planning(cfg: dict, first_session: str) -> None:
    """The universe check while Snakemake plans (a dry run included), not only once jobs start: a
    mistyped ticker must stop `snakemake -n` too. Free when every ticker is remembered in
    reports/universe.json; otherwise the endpoint is asked (a simulator started for it is stopped again,
    onstart starts the run's own)."""
    if cfg["universe"] == "all":
        return
    try:
        known = set(json.loads((Path(cfg["data_root"]) / "reports" / "universe.json").read_text())["known"])
    except (OSError, ValueError, KeyError, TypeError):
        known = set()
    if set(cfg["universe"]) <= known:
        return
    outer = os.environ.get(API_URL_ENV)
    start_api(cfg, in_lake=False)
    try:
        check_universe(cfg, first_session, remember=False)
    finally:
        if outer is None:
            stop_api()
            os.environ.pop(API_URL_ENV, None)


def stop_api() -> None:
    global _SIM
    if _SIM is not None:
        _SIM.stop()
        _SIM.cleanup()  # its temporary folder (one a killed run leaves is removed by the next start)
        _SIM = None
