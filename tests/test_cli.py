"""The `quantmini` console script, run as a user runs it (a subprocess in a work directory) against a
live simulator: ingest through Snakemake's API equals the simulator's truth, status/query read it back,
bad input is one line and a non-zero exit, and the API key reaches no output and no file."""

from __future__ import annotations

import json
import subprocess
import sys

import polars as pl
import pytest
from quantmini.lake_db import Lake
from quantmini.sim.market import Market, MarketConfig
from workflow_helpers import market_fixtures, read_bronze, write_config
from workflow_helpers import quantmini_cli as cli

TICKERS, SEED, START, END = 8, 21, "2024-01-02", "2024-02-29"
KEY = "QMKEY-cli-5e1d-MARKER"
truth, sim = market_fixtures(TICKERS, SEED, START, END)


@pytest.fixture(scope="module")
def ingested(sim, tmp_path_factory):
    """`quantmini ingest -t stocks_daily -s START -e END --to silver` with an API key in the environment."""
    work = tmp_path_factory.mktemp("cli")
    write_config(work, start="2023-06-01", end="2023-12-29", alpha158=False)  # the CLI's range wins
    proc = cli(work, "ingest", "-t", "stocks_daily", "-s", START, "-e", END, "--to", "silver",
               "--max-concurrent", "4", "--summary", str(work / "SUMMARY.md"), api_url=sim.url, key=KEY)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return work, proc


def test_ingest_builds_bronze_and_silver_equal_to_truth(ingested, truth, sim):
    work, _ = ingested
    lake = work / "lake"
    assert read_bronze(lake).equals(truth)
    assert sorted(p.parent.name for p in (lake / "silver/stocks_daily/year=2024").glob("*/data.parquet")) == \
        ["month=01", "month=02"]
    with Lake(lake) as db:
        silver = db.stocks_daily(layer="silver", start=START, end=END)
    assert silver.height == truth.height
    assert silver.sort("ticker", "date").select("ticker", "date", "close").equals(truth.select("ticker", "date", "close"))
    summary = (work / "SUMMARY.md").read_text()
    assert summary.startswith("# QuantMini pipeline summary: OK")
    assert f"| stocks_daily | {truth['date'].n_unique()} | 2024-01-02 | 2024-02-29 |" in summary
    assert f"| bronze | stocks_daily | 2 | 2024-01 | 2024-02 | {truth.height} |" in summary
    # incremental: the old CLI's flag is accepted, nothing is asked again
    n = len(sim.requests())
    proc = cli(work, "ingest", "-t", "stocks_daily", "-s", START, "-e", END, "--incremental", api_url=sim.url)
    assert proc.returncode == 0 and "Nothing to be done" in proc.stderr, proc.stderr[-3000:]
    assert len(sim.requests()) == n


def test_status_and_query(ingested, truth, monkeypatch, capsys):
    work, _ = ingested
    proc = cli(work, "status")
    assert proc.returncode == 0, proc.stderr
    line = next(l for l in proc.stdout.splitlines() if "bronze" in l and "stocks_daily" in l)
    assert str(truth.height) in line and "2024-01" in line and "2024-02" in line
    assert f"{truth['ticker'].n_unique()} tickers" in proc.stdout
    from quantmini.cli import (
        main,  # the console script's entry point, in-process from here on
    )

    monkeypatch.chdir(work)
    conf = ["--config", str(work / "config.yaml")]
    assert main(["query", "--format", "json", *conf,
                 "SELECT ticker, count(*) AS n FROM bronze_stocks_daily GROUP BY ticker ORDER BY ticker"]) == 0
    got = pl.DataFrame(json.loads(capsys.readouterr().out))
    want = truth.group_by("ticker").len("n").sort("ticker")
    assert got.rows() == want.rows()
    assert (work / "lake" / "lake.duckdb").exists()
    assert main(["query", "SELECT count(*) AS n FROM silver_stocks_daily", *conf]) == 0
    assert str(truth.height) in capsys.readouterr().out


@pytest.mark.parametrize("args, needle", [
    (("ingest", "-t", "stocks_hourly"), "unknown data type 'stocks_hourly'"),
    (("ingest", "-s", "2024-02-30"), "'2024-02-30' is not a YYYY-MM-DD date"),
    (("ingest", "-s", "2024-03-01", "-e", "2024-02-01"), "start (2024-03-01) is after end (2024-02-01)"),
    (("ingest", "--max-concurrent", "0"), "'0' must be >= 1"),
    (("query", "SELEC nothing"), "query: Parser Error"),
    (("query", "DROP VIEW bronze_stocks_daily"), "read-only"),
    (("gaps", "-e", "2023-01-01"), "is after end"),
    (("status", "--data-root", "/nonexistent/lake"), "no lake at /nonexistent/lake"),
])
def test_bad_input_is_one_line(ingested, args, needle, monkeypatch, capsys):
    """In-process (main() is the console script's entry point): one line on stderr, non-zero, no file."""
    from quantmini.cli import main

    work, _ = ingested
    monkeypatch.chdir(work)
    before = sorted(p for p in (work / "lake").rglob("*") if p.is_file() and ".duckdb" not in p.name)
    try:
        rc = main([*args, "--config", str(work / "config.yaml")])
    except SystemExit as exc:  # argparse's own errors (our parser phrases them as one line, exit 2)
        rc = exc.code
    assert rc != 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("quantmini: ") and needle in lines[0], lines
    assert sorted(p for p in (work / "lake").rglob("*") if p.is_file() and ".duckdb" not in p.name) == before


def test_missing_config_file(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "quantmini.cli", "status", "--config", "nope.yaml"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip() == "quantmini: config: file not found: nope.yaml"


def test_api_key_never_leaks(ingested):
    work, proc = ingested
    blobs = [proc.stdout, proc.stderr] + [p.read_bytes().decode("utf-8", "replace")
                                          for p in work.rglob("*") if p.is_file()]
    assert not any(KEY in b for b in blobs), "the API key leaked into output or a file"


def test_sim_passthrough(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "quantmini.cli", "sim", "truth", "--out", str(tmp_path / "t"),
                           "--tickers", "3", "--start", "2024-01-02", "--end", "2024-01-12"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    got = pl.read_parquet(tmp_path / "t" / "daily_raw.parquet")
    want = Market(MarketConfig(seed=42, n_tickers=3, start="2024-01-02", end="2024-01-12")).daily_raw()
    assert got.equals(want)
    bad = subprocess.run([sys.executable, "-m", "quantmini.cli", "sim", "serve", "--port", "x"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
