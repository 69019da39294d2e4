"""README's examples fit the demo: they are read from README.md (so this fails when README drifts) and run
against a demo-like lake (the demo's market: 50 simulated tickers, seed 42, from 2025-01-02; three months).

- every `--config KEY=VALUE` and every date of a `uv run` command line is valid for the demo config and
  inside its range;
- the Python examples that read the lake (`quantmini.lake_db.Lake`) run and find rows;
- the read-only `uv run quantmini ...` commands README shows run on that lake.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shlex
import subprocess
import sys

import polars as pl
import pytest
import yaml

from quantmini import config as qm_config
from quantmini.config_cli import coerce
from quantmini.sim.server import SimProcess
from workflow_helpers import REPO, run_workflow, write_config

README = (REPO / "README.md").read_text()
DEMO = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
DEMO_START = dt.date.fromisoformat(DEMO["start"])
END = "2025-03-31"
TYPES = ["stocks_daily", "splits", "dividends", "ticker_changes", "tickers"]


def blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README, re.S)


def command_lines() -> list[str]:
    """Every `uv run ...` command README shows, in code blocks or inline code."""
    lines = [ln for b in blocks("bash") for ln in b.splitlines() if "uv run" in ln]
    lines += re.findall(r"`(uv run [^`]+)`", README)
    return [ln for ln in lines if "bench/" not in ln]  # benchmarks build their own, larger markets


def test_config_overrides_are_valid_for_the_demo(monkeypatch):
    monkeypatch.setenv("MASSIVE_API_KEY", "k")  # README's `source=polygon` example exports one first
    overrides = [m for ln in command_lines() for m in re.findall(r"--config\s+('[^']+'|\S+=\S+)", ln)]
    assert overrides, "README shows no --config override"
    for raw in overrides:
        key, value = shlex.split(raw)[0].split("=", 1)
        parsed = yaml.load(value, Loader=yaml.BaseLoader)  # as Snakemake parses a --config value
        cfg = qm_config.validate(coerce({**DEMO, key: parsed if isinstance(parsed, (dict, list)) else value},
                                        qm_config._schema()))
        start, end = qm_config.resolve_range(cfg)
        assert start <= end, f"{raw}: the range {start} .. {end} is empty for the demo"


def test_command_dates_are_inside_the_demo_range():
    dates = [(d, ln) for ln in command_lines() for d in re.findall(r"\b(20\d\d-\d\d-\d\d)\b", ln)]
    assert dates
    for d, ln in dates:
        assert dt.date.fromisoformat(d) >= DEMO_START, f"{d} is before the demo's start: {ln}"


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    work = tmp_path_factory.mktemp("readme")
    with SimProcess(tickers=DEMO["sim"]["tickers"], seed=DEMO["sim"]["seed"], start=DEMO["start"], end=END) as sim:
        write_config(work, start=DEMO["start"], end=END, data_types=TYPES, alpha158=False)
        run_workflow(work, sim.url, "silver")
    return work


def test_python_examples_read_rows(lake, monkeypatch):
    examples = [b for b in blocks("python") if "quantmini.lake_db" in b]
    assert examples, "README has no Lake example"
    monkeypatch.chdir(lake)  # README's examples read ./lake
    for code in examples:
        scope: dict = {}
        exec(compile(code, "README.md", "exec"), scope)
        frames = {k: v for k, v in scope.items() if isinstance(v, pl.DataFrame)}
        assert frames, "the example reads nothing"
        empty = sorted(k for k, v in frames.items() if v.height == 0)
        assert not empty, f"the example's tickers and dates hold no rows in the demo: {empty}"


@pytest.mark.parametrize("command", ["status", "prune", "validate"])
def test_read_only_commands_run(lake, command):
    shown = [ln for ln in command_lines() + re.findall(r"`(quantmini [^`]+)`", README)
             if re.search(rf"quantmini {command}\b", ln) and "|" not in ln and "[" not in ln]
    assert shown, f"README shows no `quantmini {command}`"
    args = shlex.split(shown[0].split("quantmini ", 1)[1].split("#")[0])
    proc = subprocess.run([sys.executable, "-m", "quantmini.cli", *args, "--config", str(lake / "config.yaml")],
                          cwd=lake, capture_output=True, text=True, timeout=300, env={**os.environ})
    assert proc.returncode == 0, (shown[0], proc.stdout[-1500:], proc.stderr[-1500:])
