"""The real workflow, run by Snakemake against a live simulator over HTTP/2: stocks_daily to bronze.

The reference is the simulator's ground truth (`Market.daily_raw()`), never our own earlier output.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import time

import polars as pl
import pytest
from quantmini.sim.market import Market, MarketConfig
from quantmini.sim.server import SimProcess
from workflow_helpers import (
    REPO,
    read_bronze,
    run_workflow,
    snakemake_cmd,
    tree_bytes,
    write_config,
)

TICKERS, SEED, START, END = 20, 7, "2024-01-02", "2024-03-28"
BARS = ["ticker", "date", "open", "high", "low", "close", "volume", "vwap", "transactions"]


def grouped_requests(sim) -> list[str]:
    return [r["path"].rsplit("/", 1)[-1] for r in sim.requests() if "/grouped/" in r["path"]]


@pytest.fixture(scope="module")
def truth():
    return Market(MarketConfig(seed=SEED, n_tickers=TICKERS, start=START, end="2024-04-30")).daily_raw()


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    log = tmp_path_factory.mktemp("sim") / "requests.jsonl"
    with SimProcess(tickers=TICKERS, seed=SEED, start=START, end="2024-04-30", request_log=str(log)) as s:
        yield s


@pytest.fixture(scope="module")
def built(sim, tmp_path_factory):
    """A lake built once for the module (Jan-Mar 2024), reused by the read-only checks."""
    work = tmp_path_factory.mktemp("lake_clean")
    write_config(work, start=START, end=END)
    run_workflow(work, sim.url, "bronze")
    return work


def test_bronze_equals_ground_truth(built, truth):
    bronze = read_bronze(built / "lake")
    expected = truth.filter(pl.col("date") <= dt.date.fromisoformat(END)).select(BARS).sort("ticker", "date")
    assert bronze.columns == BARS
    assert bronze.height == expected.height > 0
    assert bronze.select(BARS).equals(expected.cast(bronze.schema)), "bronze differs from the simulator's truth"
    # month partitions hold their own month only, sorted by (ticker, date), ZSTD-compressed
    for f in sorted((built / "lake/bronze/stocks_daily").glob("year=*/month=*/data.parquet")):
        part = pl.read_parquet(f)
        month = int(f.parent.name.split("=")[1])
        assert set(part["date"].dt.month().unique()) == {month}
        assert part.select("ticker", "date").rows() == sorted(part.select("ticker", "date").rows())
        import pyarrow.parquet as pq
        assert pq.ParquetFile(f).metadata.row_group(0).column(0).compression == "ZSTD"


def test_reports_and_no_weekend_requests(built, sim):
    for f in sorted((built / "lake/reports/validation/stocks_daily").rglob("*.json")):
        rep = json.loads(f.read_text())
        assert rep["ok"] and rep["rows_quarantined"] == 0 and rep["sessions_without_bars"] == []
    days = {dt.date.fromisoformat(d) for d in grouped_requests(sim)}
    assert days, "no grouped-daily request seen in the simulator's log"
    assert all(d.weekday() < 5 for d in days)
    assert dt.date(2024, 1, 15) not in days  # MLK day
    assert dt.date(2024, 3, 29) not in days  # Good Friday (and after END anyway)
    landing = sorted((built / "lake/landing/stocks_daily").rglob("*.json.gz"))
    assert len(landing) == len({d for d in days if d <= dt.date.fromisoformat(END)})


def test_second_run_does_nothing_and_next_session_downloads_one_request(sim, tmp_path):
    write_config(tmp_path, start=START, end="2024-03-27")
    run_workflow(tmp_path, sim.url, "bronze")
    lake = tmp_path / "lake"
    before = {p: p.stat().st_mtime_ns for p in (lake / "bronze").rglob("*.parquet")}
    n0 = len(sim.requests())
    proc = run_workflow(tmp_path, sim.url, "bronze")
    assert "Nothing to be done" in proc.stdout + proc.stderr
    assert len(sim.requests()) == n0
    # advance end by one session: exactly one request (for that session), one partition rebuilt
    write_config(tmp_path, start=START, end="2024-03-28")
    run_workflow(tmp_path, sim.url, "bronze")
    new = sim.requests()[n0:]
    assert [r["path"].rsplit("/", 1)[-1] for r in new] == ["2024-03-28"]
    after = {p: p.stat().st_mtime_ns for p in (lake / "bronze").rglob("*.parquet")}
    changed = sorted(str(p.relative_to(lake)) for p in after if after[p] != before.get(p))
    assert changed == ["bronze/stocks_daily/year=2024/month=03/data.parquet"]


def test_editing_a_rule_script_never_downloads_again(sim, tmp_path, built):
    # a private copy of the workflow, whose landing script we edit, run on the module's built lake
    wf = tmp_path / "wf"
    wf.mkdir()
    for item in ("Snakefile", "rules", "workflow_scripts", "config", "profiles", "envs"):
        src = REPO / item
        if src.is_dir():
            shutil.copytree(src, wf / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, wf / item)
    bronze_before = tree_bytes(built / "lake" / "bronze")
    n0 = len(sim.requests())
    script = wf / "workflow_scripts" / "landing_stocks_daily.py"
    script.write_text(script.read_text() + "\n# edited\n")
    proc = run_workflow(built, sim.url, "bronze", snakefile=wf / "Snakefile")
    assert "Nothing to be done" in proc.stdout + proc.stderr, "an edited script made jobs stale"
    assert len(sim.requests()) == n0, "an edited landing script re-downloaded"
    # even a forced rerun of every landing job downloads nothing, and bronze comes out the same
    run_workflow(built, sim.url, "bronze", snakefile=wf / "Snakefile", extra=("-R", "landing_stocks_daily"))
    assert len(sim.requests()) == n0
    assert tree_bytes(built / "lake" / "bronze") == bronze_before


# The fault matrix (every kind, every layer, against a fault-free build) is tests/test_faults_matrix.py.


def test_sigkill_leaves_no_partial_partition_and_next_run_completes(sim, built, tmp_path):
    write_config(tmp_path, start=START, end=END)
    env = {k: v for k, v in os.environ.items()}
    env["QUANTMINI_API_URL"] = sim.url
    proc = subprocess.Popen(snakemake_cmd(tmp_path, "bronze"), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    lake = tmp_path / "lake"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list((lake / "bronze").rglob("data.parquet")):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for f in lake.rglob("*"):
        if f.is_file() and f.suffix == ".parquet":
            pl.read_parquet(f)  # every visible parquet file is complete
        if f.is_file() and f.name.endswith(".json.gz"):
            import gzip
            json.loads(gzip.decompress(f.read_bytes()))
    run_workflow(tmp_path, sim.url, "bronze")
    assert tree_bytes(lake / "bronze") == tree_bytes(built / "lake" / "bronze")


def test_bad_api_key_fails_fast_with_one_line_and_never_leaks(tmp_path):
    marker = "QMKEY-7f3a9c-MARKER"
    with SimProcess(tickers=5, seed=1, start=START, end="2024-02-29", api_key="the-right-key") as s:
        write_config(tmp_path, start=START, end="2024-01-31", retries=3)
        proc = run_workflow(tmp_path, s.url, "bronze", env_extra={"MASSIVE_API_KEY": marker}, check=False)
        statuses = {r["status"] for r in s.requests()}
    assert proc.returncode != 0
    assert statuses == {401}, "a 401 was retried or something else was asked"
    ours = [l for l in proc.stderr.splitlines() if l.startswith("quantmini:")]
    assert ours and "401" in ours[0] and "Unknown API Key" in ours[0]
    assert not list((tmp_path / "lake").rglob("*.parquet"))
    assert not list((tmp_path / "lake").rglob("*.json.gz"))
    blobs = [proc.stdout, proc.stderr] + [p.read_bytes().decode("utf-8", "replace")
                                          for p in tmp_path.rglob("*") if p.is_file()]
    assert not any(marker in b for b in blobs), "the API key leaked into output or a file"
