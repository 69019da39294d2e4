"""Command-line rough edges: `quantmini sim --help`, help texts of `gaps`, nested `--config` overrides on
Snakemake's command line, and an unknown `universe` ticker refused while planning (`snakemake -n`)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from quantmini.sim.server import SimProcess
from workflow_helpers import run_workflow, write_config


def cli(*args):
    return subprocess.run([sys.executable, "-m", "quantmini.cli", *args], capture_output=True, text=True, timeout=120)


def test_sim_help():
    proc = cli("sim", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "serve" in proc.stdout and "truth" in proc.stdout


def test_gaps_options_have_help():
    out = cli("gaps", "--help").stdout
    for flag, words in (("-t TYPE, --type TYPE", "data type"), ("-s START, --start START", "first date"),
                        ("-e END, --end END", "last date")):
        after = out.split(flag, 1)[1].split("\n  -", 1)[0]
        assert words in after, (flag, after)


@pytest.fixture(scope="module")
def sim():
    with SimProcess(tickers=6, seed=11, start="2025-01-02", end="2025-02-28") as s:
        yield s


def dry(tmp_path, url, *config, **cfg):
    write_config(tmp_path, start="2025-01-02", end="2025-01-31", **cfg)
    return run_workflow(tmp_path, url, extra=["-n", *(["--config", *config] if config else [])], check=False)


def test_nested_config_override_is_typed(tmp_path, sim):
    ok = dry(tmp_path, sim.url, "gold={alpha158: true}", "minute={months: 2}")
    assert ok.returncode == 0, ok.stderr[-2000:]
    bad = dry(tmp_path, sim.url, "gold={alpha158: maybe}")
    assert bad.returncode != 0
    assert bad.stderr.strip().splitlines()[-1].startswith("quantmini: config: gold.alpha158: 'maybe'"), bad.stderr[-800:]


def test_unknown_universe_ticker_refused_at_planning(tmp_path, sim):
    proc = dry(tmp_path, sim.url, universe=["ZZZQ"])
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("quantmini: universe: unknown ticker(s) ZZZQ"), proc.stderr[-800:]
    assert "bronze_stocks_daily" not in proc.stdout  # nothing planned
