"""Kills, Ctrl-C and dry runs (issue 15's rough edges): a SIGKILLed build leaves no simulator running and
its temporary folder is removed by the next start; killed writers' temporary files are swept by every run,
one with nothing to do included; Ctrl-C ends a command with one line and exit 130; a dry run writes nothing
into the lake, and a changed setting rebuilds what it must without Snakemake's metadata.

One small lake (stocks_daily, bronze) built with the embedded simulator, TMPDIR pointed into the test's
folder so the simulator's temporary folders can be counted."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from quantmini.sim.server import SimProcess
from workflow_helpers import read_bronze, snakemake_cmd, write_config

START, END, NEXT = "2024-01-02", "2024-02-09", "2024-02-14"
CFG = {"start": START, "end": END, "data_types": ["stocks_daily"], "sim": {"tickers": 4, "seed": 3}}


def env_of(work: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("MASSIVE_API_KEY", "POLYGON_API_KEY", "QUANTMINI_API_URL")}
    env["TMPDIR"] = str(work / "tmp")
    env.update(extra)
    return env


def snakemake(work: Path, *extra, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(snakemake_cmd(work, "bronze", extra=extra), env=env_of(work), capture_output=True,
                          text=True, timeout=600, **kw)


def sim_dirs(work: Path) -> list[Path]:
    return sorted((work / "tmp").glob("quantmini-sim-*"))


def gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not Path(f"/proc/{pid}").exists() or "zombie" in _state(pid):
            return True
        time.sleep(0.1)
    return False


def _state(pid: int) -> str:
    try:
        return {"Z": "zombie"}.get(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0], "")
    except OSError:
        return "zombie"


def listing(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size if p.is_file() else 0)
            for p in sorted(root.rglob("*"))}


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """A build SIGKILLed once its simulator answers, then the same build run to its end."""
    work = tmp_path_factory.mktemp("killed")
    (work / "tmp").mkdir()
    write_config(work, **CFG)
    proc = subprocess.Popen(snakemake_cmd(work, "bronze"), env=env_of(work), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        ready = wait_for(lambda: [p for d in sim_dirs(work) if (p := d / "ready.json").exists()], 300,
                         "the run's simulator")[0]
        sim_pid = json.loads(ready.read_text())["pid"]
        os.kill(proc.pid, signal.SIGKILL)  # the build only: its simulator runs in a session of its own
        proc.wait()
        sim_gone = gone(sim_pid, within=10)
        stale = sim_dirs(work)
    finally:
        with __import__("contextlib").suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the jobs it had started
    rerun = snakemake(work)
    return {"work": work, "sim_gone": sim_gone, "stale": stale, "rerun": rerun, "after": sim_dirs(work)}


def test_a_killed_build_leaves_no_simulator_running(killed):
    assert killed["sim_gone"], "the simulator outlived the SIGKILLed build"


def test_the_next_run_removes_the_killed_runs_simulator_folder(killed):
    assert killed["stale"], "the killed build left no folder (nothing was tested)"
    assert killed["rerun"].returncode == 0, killed["rerun"].stderr[-3000:]
    assert killed["after"] == [], f"simulator folders left: {killed['after']}"
    assert read_bronze(killed["work"] / "lake").height > 0


def test_a_simulator_dies_with_its_owner_and_the_next_start_sweeps_its_folder(tmp_path, monkeypatch):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    code = ("import json, sys, time\nfrom quantmini.sim.server import SimProcess\n"
            "s = SimProcess(tickers=3, start='2024-01-02', end='2024-01-31').start()\n"
            "print(json.dumps({'pid': s.info['pid']}), flush=True)\ntime.sleep(600)\n")
    owner = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "TMPDIR": str(tmp)})
    sim_pid = json.loads(owner.stdout.readline())["pid"]
    owner.kill()
    owner.wait()
    assert gone(sim_pid, within=10), "the simulator outlived its SIGKILLed owner"
    [stale] = list(tmp.glob("quantmini-sim-*"))
    monkeypatch.setattr("tempfile.tempdir", str(tmp))
    with SimProcess(tickers=3, start="2024-01-02", end="2024-01-31") as live:
        assert not stale.exists(), "the dead owner's folder was not swept"
        other = subprocess.Popen([sys.executable, "-c", code.replace("tickers=3", "tickers=2")],
                                 stdout=subprocess.PIPE, text=True, env={**os.environ, "TMPDIR": str(tmp)})
        try:  # a live owner's folder is kept by another's start
            json.loads(other.stdout.readline())
            assert len(list(tmp.glob("quantmini-sim-*"))) == 2 and live.url
        finally:
            other.kill()
            other.wait()
    assert len(list(tmp.glob("quantmini-sim-*"))) == 1  # the killed one's, until the next start


def test_a_run_with_nothing_to_do_sweeps_dead_writers_temporary_files(killed):
    work = killed["work"]
    part = next((work / "lake" / "bronze" / "stocks_daily").glob("year=*/month=*"))
    dead = part / f".data.parquet.{dead_pid()}-abcd1234.tmp"
    live = part / f".data.parquet.{os.getpid()}-abcd1234.tmp"  # a writer still at work: kept
    legacy = part / ".data.parquet.abcd1234.tmp"  # no pid in the name: only after a killed run
    for f in (dead, live, legacy):
        f.write_bytes(b"partial")
    proc = snakemake(work)
    assert proc.returncode == 0 and "Nothing to be done" in proc.stdout + proc.stderr, proc.stderr[-2000:]
    assert not dead.exists() and live.exists() and legacy.exists()
    live.unlink()
    legacy.unlink()


def test_a_dry_run_writes_nothing_into_the_lake(killed):
    work = killed["work"]
    lake = work / "lake"
    ticker = read_bronze(lake)["ticker"][0]
    before = listing(lake)
    shutil.rmtree(work / ".snakemake", ignore_errors=True)
    runs = [snakemake(work, "-n"), snakemake(work, "-n", "--config", f"end={NEXT}"),
            snakemake(work, "-n", "--config", f"universe=[{ticker}]")]
    for proc in runs:
        assert proc.returncode == 0, proc.stderr[-3000:]
    env = env_of(work)
    cli = subprocess.run([sys.executable, "-m", "quantmini.cli", "ingest", "-n", "-e", NEXT, "--config",
                          str(work / "config.yaml")], cwd=work, env=env, capture_output=True, text=True,
                         timeout=600)
    assert cli.returncode == 0, cli.stderr[-3000:]
    after = listing(lake)
    assert after == before, {k: (before.get(k), after.get(k)) for k in set(before) ^ set(after)
                             | {k for k in before if after.get(k) != before[k]}}


def test_a_changed_setting_rebuilds_without_snakemakes_metadata(killed):
    work = killed["work"]
    lake = work / "lake"
    ticker = read_bronze(lake)["ticker"][0]
    shutil.rmtree(work / ".snakemake", ignore_errors=True)
    write_config(work, **CFG, universe=[ticker])
    try:
        proc = snakemake(work)
    finally:
        write_config(work, **CFG)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert read_bronze(lake)["ticker"].unique().to_list() == [ticker], "the universe change rebuilt nothing"
    assert json.loads((lake / "plan" / "settings" / "universe.json").read_text()) == [ticker]


# ---------------------------------------------------------------------- Ctrl-C
def interrupt(args, cwd: Path, after, env=None) -> subprocess.CompletedProcess:
    """Run `quantmini ARGS` as its own process group and send the group SIGINT (what Ctrl-C does) once
    `after()` is true (or after that many seconds)."""
    proc = subprocess.Popen([sys.executable, "-m", "quantmini.cli", *args], cwd=cwd, env=env or os.environ,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    if callable(after):
        wait_for(after, 300, "the command to get going")
    else:
        time.sleep(after)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def assert_interrupted(proc):
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    # 130, or ended by the SIGINT itself (-2 here): a shell reports both as 130. Seen once with the
    # signal at the very start, after the one line was printed.
    assert proc.returncode in (130, -signal.SIGINT), (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr and lines[-1] == "quantmini: interrupted", proc.stderr[-3000:]


@pytest.mark.parametrize("command", ["status", "validate", "gaps", "query"])
def test_ctrl_c_while_starting_is_one_line(killed, command, tmp_path):
    args = [command, "--data-root", str(killed["work"] / "lake")] + (["SELECT 1"] if command == "query" else [])
    proc = interrupt(args, tmp_path, after=0.3)
    assert_interrupted(proc)


def test_ctrl_c_during_a_query_is_one_line(killed, tmp_path):
    args = ["query", "--data-root", str(killed["work"] / "lake"), "SELECT sum(x % 7) FROM range(10000000000) t(x)"]
    assert_interrupted(interrupt(args, tmp_path, after=4))


@pytest.mark.parametrize("command", [["ingest"], ["gaps", "--backfill"]])
def test_ctrl_c_during_a_build_is_one_line_and_stops_the_simulator(tmp_path, command):
    work = tmp_path / "work"
    (work / "tmp").mkdir(parents=True)
    write_config(work, **CFG)
    if command[0] == "gaps":  # a lake with a missing month: the backfill has work to do
        subprocess.run([sys.executable, "-m", "quantmini.cli", "ingest", "-e", "2024-01-31", "--config",
                        str(work / "config.yaml")], cwd=work, env=env_of(work), capture_output=True, timeout=600,
                       check=True)
    jobs = lambda: list((work / "lake" / "logs").rglob("*.log")) if command[0] == "ingest" else \
        list((work / "lake" / "logs" / "landing_stocks_daily").glob("*/month=02.log"))  # noqa: E731
    proc = interrupt([*command, "--config", str(work / "config.yaml")], work, after=jobs, env=env_of(work))
    assert_interrupted(proc)
    time.sleep(1)
    assert sim_dirs(work) == [], "the run's simulator folder was left"
