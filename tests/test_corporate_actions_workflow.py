"""The real workflow (Snakemake) against the live simulator: splits, dividends, tickers and ticker_changes to
bronze. The reference is the simulator's ground truth (`Market`), never our own earlier output.

One lake over two years (2023-11-15, a mid-month start, to 2024-02-06) is built in three steps that the
tests then read: the build, the same again (a no-op), then one session more (2024-02-07): only the
current year's jobs rerun, only the current month's window and snapshot (and the current year's
renamed security) are asked again, the closed year is not touched.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest
from quantmini.datatypes.corporate_actions import parse as ca_parse
from quantmini.sim.market import Market, MarketConfig
from quantmini.sim.server import SimProcess
from workflow_helpers import run_workflow, write_config

TICKERS, SEED, START, FIRST_END, END = 20, 7, "2023-11-15", "2024-02-06", "2024-02-07"
TYPES = ["splits", "dividends", "tickers", "ticker_changes"]
FIRST, LAST = dt.date(2023, 11, 15), dt.date(2024, 2, 7)
MONTHS = ["year=2023/month=11", "year=2023/month=12", "year=2024/month=01", "year=2024/month=02"]


def read_bronze(lake: Path, dtype: str) -> pl.DataFrame:
    files = sorted((lake / "bronze" / dtype).glob("year=*/month=*/data.parquet"))
    assert [str(f.parent.relative_to(lake / "bronze" / dtype)) for f in files] == MONTHS
    return pl.concat([pl.read_parquet(f) for f in files])


def jobs_run(proc) -> int:
    """Jobs a run executed, without the target rule (`bronze`)."""
    done = re.findall(r"(\d+) of (\d+) steps \(100%\) done", proc.stdout + proc.stderr)
    return int(done[-1][1]) - 1 if done else 0


@pytest.fixture(scope="module")
def market():
    return Market(MarketConfig(seed=SEED, n_tickers=TICKERS, start=START, end="2024-03-28"))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ca_workflow")
    work = tmp / "work"
    work.mkdir()
    out = SimpleNamespace(lake=work / "lake", timings={}, jobs={})
    with SimProcess(tickers=TICKERS, seed=SEED, start=START, end="2024-03-28",
                    request_log=str(tmp / "requests.jsonl")) as sim:
        write_config(work, start=START, end=FIRST_END, data_types=TYPES)
        t0 = time.monotonic()
        proc = run_workflow(work, sim.url, "bronze")
        out.build_output = proc.stdout + proc.stderr  # starts with the job stats
        out.jobs["build"] = jobs_run(proc)
        out.timings["build"] = time.monotonic() - t0
        out.first_requests = sim.requests()
        out.mtimes = {p: p.stat().st_mtime_ns for p in out.lake.rglob("*") if p.is_file() and "logs" not in p.parts
                      and "benchmarks" not in p.parts}
        t0 = time.monotonic()
        proc = run_workflow(work, sim.url, "bronze")
        out.timings["no-op"] = time.monotonic() - t0
        out.noop_output, out.noop_requests = proc.stdout + proc.stderr, sim.requests()[len(out.first_requests):]
        write_config(work, start=START, end=END, data_types=TYPES)
        t0 = time.monotonic()
        out.jobs["next session"] = jobs_run(run_workflow(work, sim.url, "bronze"))
        out.timings["next session"] = time.monotonic() - t0
        out.next_requests = sim.requests()[len(out.first_requests) + len(out.noop_requests):]
    print("timings:", {k: round(v, 1) for k, v in out.timings.items()}, "jobs:", out.jobs)
    return out


def test_one_landing_and_one_bronze_job_per_type_and_year(run):
    for dtype in TYPES:
        assert re.search(rf"^landing_{dtype}\s+2$", run.build_output, re.M), f"landing_{dtype}: not one job per year"
        for year in (2023, 2024):
            assert re.search(rf"^bronze_{dtype}_{year}\s+1$", run.build_output, re.M), f"no bronze_{dtype}_{year} job"
    # + the session plans' jobs (quantmini/session_plans.py): one per month of a new lake, one for a month a
    # new session changes; and the new lake's `universe` setting file (rules/common.smk `setting`)
    assert run.jobs == {"build": 21, "next session": 9}


def test_bronze_splits_and_dividends_equal_the_served_lists(run, market):
    splits = read_bronze(run.lake, "splits").sort("id")
    served = pl.DataFrame([{k: r[k] for k in ca_parse.SPLITS_SCHEMA} for r in market.vendor_split_rows
                           if FIRST <= r["execution_date"] <= LAST], schema=ca_parse.SPLITS_SCHEMA).sort("id")
    assert splits.columns == list(ca_parse.SPLITS_SCHEMA)
    assert served.height == 6 and splits.equals(served), "bronze splits differ from the vendor's list"
    assert splits["execution_date"].dt.year().unique().sort().to_list() == [2023, 2024]
    dividends = read_bronze(run.lake, "dividends").sort("id")
    truth = (market.dividends().drop("security_id")
             .filter(pl.col("ex_dividend_date").is_between(FIRST, LAST)).sort("id"))
    assert truth.height >= 5 and dividends.equals(truth.cast(dividends.schema))
    assert dividends["ex_dividend_date"].dt.year().unique().sort().to_list() == [2023, 2024]
    for dtype, col in (("splits", "execution_date"), ("dividends", "ex_dividend_date")):
        for f in (run.lake / "bronze" / dtype).glob("year=*/month=*/data.parquet"):
            month = int(f.parent.name.split("=")[1])
            assert set(pl.read_parquet(f)[col].dt.month()) <= {month}


def test_bronze_ticker_changes_equal_the_truth(run, market):
    changes = read_bronze(run.lake, "ticker_changes")
    figi = market.securities().select("security_id", "composite_figi")
    truth = (market.ticker_changes().filter(pl.col("date").is_between(FIRST, LAST))
             .join(figi, on="security_id").select(list(ca_parse.TICKER_CHANGES_SCHEMA)))
    # renamed on 2024-01-08: found against the previous year's last snapshot (2023-12-29)
    assert truth.height == 1 and changes.sort("date").equals(truth.sort("date"))
    assert pl.read_parquet(run.lake / "bronze/ticker_changes/year=2024/month=01/data.parquet").equals(truth)
    # one events request per renamed security and run, never one per ticker (the open year's span moved on)
    for requests in (run.first_requests, run.next_requests):
        events = [r["path"] for r in requests if r["path"].endswith("/events")]
        assert events == [f"/vX/reference/tickers/{truth['composite_figi'][0]}/events"]


def test_bronze_tickers_are_the_point_in_time_reference(run, market):
    sec = market.securities()
    raw = market.daily_raw()
    for f in sorted((run.lake / "bronze/tickers").glob("year=*/month=*/data.parquet")):
        snap = pl.read_parquet(f)
        (day,) = snap["snapshot_date"].unique().to_list()
        active = (raw.filter(pl.col("date") == day).join(sec, on="security_id")
                  .select("ticker", "name", "type", "primary_exchange", "composite_figi", "cik"))
        got = snap.filter("active").select(active.columns)
        assert got.sort("ticker").equals(active.sort("ticker")), f"active tickers as of {day}"
        gone = sec.filter(pl.col("delist_date") < day)
        got_gone = snap.filter(~pl.col("active"))
        assert sorted(got_gone["composite_figi"]) == sorted(gone["composite_figi"])
        assert sorted(got_gone["ticker"]) == sorted(gone["current_ticker"])
        assert got_gone["delisted_utc"].null_count() == 0
    assert day == dt.date.fromisoformat(END)
    assert snap.filter(~pl.col("active")).height == 2  # delisted 2024-01-16 and 2024-02-06


def test_reports_are_clean_and_count_every_row(run):
    reports = sorted((run.lake / "reports/validation").glob("*/year=*/month=*.json"))
    assert {p.parent.parent.name for p in reports} == set(TYPES) and len(reports) == 16
    for p in reports:
        rep = json.loads(p.read_text())
        assert rep["ok"] and rep["rows_quarantined"] == 0, rep
        assert rep["rows_in"] == rep["rows_valid"] + rep["exact_duplicates_collapsed"]


def test_rerun_is_a_noop(run):
    assert "Nothing to be done" in run.noop_output
    assert run.noop_requests == []


def test_next_session_reruns_the_current_year_and_downloads_only_its_open_month(run):
    asked = sorted((r["path"], r["query"]) for r in run.next_requests if not r["path"].endswith("/events"))
    assert asked == sorted([
        ("/v3/reference/dividends", "ex_dividend_date.gte=2024-02-01&ex_dividend_date.lte=2024-02-07&limit=1000"),
        ("/v3/reference/splits", "execution_date.gte=2024-02-01&execution_date.lte=2024-02-07&limit=1000"),
        ("/v3/reference/tickers", "market=stocks&date=2024-02-07&active=true&limit=1000"),
        ("/v3/reference/tickers", "market=stocks&date=2024-02-07&active=false&limit=1000"),
    ])
    rewritten = sorted(str(p.relative_to(run.lake)) for p, m in run.mtimes.items() if p.stat().st_mtime_ns != m)
    # the current year's partitions (its jobs write every month of the year) and landing manifests
    assert rewritten == sorted([f"{kind}/{dtype}/{month}/data.parquet" for kind in ("bronze", "quarantine")
                                for dtype in TYPES for month in MONTHS[2:]]
                               + [f"reports/validation/{dtype}/{month}.json" for dtype in TYPES for month in MONTHS[2:]]
                               + [f"landing/{dtype}/year=2024/_manifest.json" for dtype in TYPES]
                               + ["plan/year=2024/month=02/sessions.json"])  # the open month's expected sessions
    # landing files are never overwritten: the open windows of 2024-02-06 stay beside the new ones
    assert (run.lake / "landing/splits/year=2024/month=02/2024-02-01_2024-02-06.json.gz").exists()
    assert (run.lake / "landing/splits/year=2024/month=02/2024-02-01_2024-02-07.json.gz").exists()


def test_bad_api_key_fails_fast_with_one_line_and_never_leaks(tmp_path):
    marker = "QMKEY-ca-5e1f-MARKER"
    work = tmp_path / "work"
    work.mkdir()
    with SimProcess(tickers=5, seed=1, start="2024-01-02", end="2024-02-29", api_key="the-right-key") as s:
        write_config(work, start="2024-01-02", end="2024-01-31", data_types=["splits"], retries=3)
        proc = run_workflow(work, s.url, env_extra={"MASSIVE_API_KEY": marker}, check=False)
        statuses = [r["status"] for r in s.requests()]
    assert proc.returncode != 0 and statuses == [401], "a 401 was retried or something else was asked"
    ours = [line for line in proc.stderr.splitlines() if line.startswith("quantmini:")]
    assert len(ours) == 1 and ours[0].startswith("quantmini: landing splits 2024:") and "401" in ours[0]
    assert not list((work / "lake").rglob("*.json.gz")) and not list((work / "lake").rglob("*.parquet"))
    blobs = [proc.stdout, proc.stderr] + [p.read_bytes().decode("utf-8", "replace")
                                          for p in tmp_path.rglob("*") if p.is_file()]
    assert not any(marker in b for b in blobs), "the API key leaked into output or a file"
