"""Every run settles in one pass: after any run, the next `snakemake -n` plans nothing.

One small lake with EVERY data type (a 20-ticker market, one options underlying, one minute month) goes
through a sequence a user might run: the first build, the cron script, `end` moved back a month (the
months beyond stay on disk, are reported as outside the range and pruned), `end` moved forward again, a
type turned off and on (the cron script is `quantmini ingest`). After each step ONE run must be enough. The clock is pinned
(QUANTMINI_NOW) so `end: today` is 2025-03-03.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from quantmini import calendar
from quantmini.catalog import DATA_TYPES
from quantmini.sim.server import SimProcess
from workflow_helpers import REPO, run_workflow, write_config

TICKERS, SEED, START = 20, 7, "2025-01-02"
TODAY = dt.date(2025, 3, 3)
NOW = dt.datetime.combine(TODAY, dt.time(21), tzinfo=calendar.NY).isoformat()  # after the settle time (20:30)
BACK = "2025-02-03"  # a month back: March leaves the range, February is the open month again
CFG = dict(start=START, alpha158=False, options={"underlyings": ["IPY"], "rate": 0.04},
           minute={"stocks": 2, "options_per_stock": 1, "extended_hours": True, "months": 1, "gold": True})


def configure(work: Path, end="today", types=DATA_TYPES):
    write_config(work, end=end, data_types=list(types), **CFG)


def planned(work: Path, url: str) -> list[str]:
    proc = run_workflow(work, url, extra=["-n"], env_extra={"QUANTMINI_NOW": NOW})
    return re.findall(r"^rule (\S+):", proc.stdout, re.M)


def step(work: Path, url: str) -> None:
    run_workflow(work, url, env_extra={"QUANTMINI_NOW": NOW})


@pytest.fixture(scope="module")
def sim():
    with SimProcess(tickers=TICKERS, seed=SEED, start=START, end="2025-04-30") as s:
        yield s


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("settle")


def cli(work: Path, url: str, *args: str):
    env = {**os.environ, "QUANTMINI_NOW": NOW, "QUANTMINI_API_URL": url}
    return subprocess.run([sys.executable, "-m", "quantmini.cli", *args, "--config", str(work / "config.yaml")],
                          cwd=work, env=env, capture_output=True, text=True, timeout=900)


def test_first_build_settles(work, sim):
    configure(work)
    step(work, sim.url)
    assert planned(work, sim.url) == []


def test_cron_script_then_snakemake_plans_nothing(work, sim):
    env = {**os.environ, "QUANTMINI_API_URL": sim.url, "QUANTMINI_WORKDIR": str(work),
           "QUANTMINI_CONFIG": str(work / "config.yaml"), "QUANTMINI_TARGET": "all", "QUANTMINI_PYTHON": sys.executable,
           "QUANTMINI_LOG_DIR": str(work / "cronlogs"), "QUANTMINI_NOW": NOW}
    proc = subprocess.run(["bash", str(REPO / "workflow_scripts" / "cron" / "daily.sh")], env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert planned(work, sim.url) == []


def test_end_moved_back_settles_and_reports_what_is_outside(work, sim):
    configure(work, end=BACK)
    step(work, sim.url)
    assert planned(work, sim.url) == []
    lake = work / "lake"
    assert (lake / "bronze" / "stocks_daily" / "year=2025" / "month=03").is_dir()  # kept, but reported:
    for command in ("status", "gaps"):
        out = cli(work, sim.url, command).stdout
        assert "outside the range" in out and "bronze stocks_daily: 2025-03" in out, (command, out[-2000:])
        assert "silver stocks_daily: 2025-03" in out, (command, out[-2000:])
    dry = cli(work, sim.url, "prune")
    assert dry.returncode == 0 and "would delete bronze stocks_daily 2025-03" in dry.stdout, dry.stdout
    assert (lake / "bronze" / "stocks_daily" / "year=2025" / "month=03").is_dir()  # a dry run deletes nothing
    done = cli(work, sim.url, "prune", "--yes")
    assert done.returncode == 0, done.stderr
    assert not (lake / "bronze" / "stocks_daily" / "year=2025" / "month=03").exists()
    assert not (lake / "silver" / "options_daily" / "year=2025" / "month=03").exists()
    assert (lake / "bronze" / "stocks_daily" / "year=2025" / "month=02").is_dir()
    assert "nothing outside the range" in cli(work, sim.url, "prune").stdout
    assert planned(work, sim.url) == []  # nothing in range was touched


def test_end_moved_forward_again_settles(work, sim):
    configure(work)
    step(work, sim.url)
    assert planned(work, sim.url) == []


def test_type_off_and_on_settles(work, sim):
    configure(work, types=[t for t in DATA_TYPES if t != "news"])
    step(work, sim.url)
    assert planned(work, sim.url) == []
    configure(work)
    step(work, sim.url)
    assert planned(work, sim.url) == []

