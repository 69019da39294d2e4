"""The real workflow (Snakemake) against the live simulator: splits, dividends, tickers and ticker_changes to
bronze. The reference is the simulator's ground truth (`Market`), never our own earlier output.

One lake is built in three steps that the tests then read: up to 2024-03-27, the same again (a no-op),
then up to 2024-03-28 (the current month is refreshed, closed months are not).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest

from quantmini import corporate_actions as ca
from quantmini.sim.market import Market, MarketConfig
from quantmini.sim.server import SimProcess
from workflow_helpers import REPO, run_workflow, write_config

TICKERS, SEED, START, END = 20, 7, "2024-01-02", "2024-03-28"
TYPES = ["splits", "dividends", "tickers", "ticker_changes"]
FIRST, LAST = dt.date(2024, 1, 1), dt.date(2024, 3, 31)


def read_bronze(lake: Path, dtype: str) -> pl.DataFrame:
    files = sorted((lake / "bronze" / dtype).glob("year=*/month=*/data.parquet"))
    assert len(files) == 3, f"expected 3 month partitions of {dtype}, found {len(files)}"
    return pl.concat([pl.read_parquet(f) for f in files])


def snakefile(tmp: Path) -> Path:
    """The repository's Snakefile once it includes our rules; until then a private one that does."""
    main = REPO / "Snakefile"
    if "rules/corporate_actions.smk" in main.read_text():
        return main
    wf = tmp / "wf"
    wf.mkdir()
    for item in ("rules", "workflow_scripts", "config", "profiles"):
        (wf / item).symlink_to(REPO / item)
    text = main.read_text().replace('include: "rules/stocks_daily.smk"\n',
                                    'include: "rules/stocks_daily.smk"\ninclude: "rules/corporate_actions.smk"\n')
    assert "corporate_actions.smk" in text
    (wf / "Snakefile").write_text(text)
    return wf / "Snakefile"


@pytest.fixture(scope="module")
def market():
    return Market(MarketConfig(seed=SEED, n_tickers=TICKERS, start=START, end="2024-04-30"))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ca_workflow")
    work, smk = tmp / "work", snakefile(tmp)
    work.mkdir()
    out = SimpleNamespace(lake=work / "lake", timings={})
    with SimProcess(tickers=TICKERS, seed=SEED, start=START, end="2024-04-30",
                    request_log=str(tmp / "requests.jsonl")) as sim:
        write_config(work, start=START, end="2024-03-27", data_types=TYPES)
        t0 = time.monotonic()
        run_workflow(work, sim.url, snakefile=smk)
        out.timings["build"] = time.monotonic() - t0
        out.first_requests = sim.requests()
        out.mtimes = {p: p.stat().st_mtime_ns for p in out.lake.rglob("*.parquet")}
        t0 = time.monotonic()
        proc = run_workflow(work, sim.url, snakefile=smk)
        out.timings["no-op"] = time.monotonic() - t0
        out.noop_output, out.noop_requests = proc.stdout + proc.stderr, sim.requests()[len(out.first_requests):]
        write_config(work, start=START, end=END, data_types=TYPES)
        t0 = time.monotonic()
        run_workflow(work, sim.url, snakefile=smk)
        out.timings["next session"] = time.monotonic() - t0
        out.next_requests = sim.requests()[len(out.first_requests) + len(out.noop_requests):]
    print("timings:", {k: round(v, 1) for k, v in out.timings.items()})
    return out


def test_bronze_splits_and_dividends_equal_the_served_lists(run, market):
    splits = read_bronze(run.lake, "splits").sort("id")
    served = pl.DataFrame([{k: r[k] for k in ca.SPLITS_SCHEMA} for r in market.vendor_split_rows
                           if FIRST <= r["execution_date"] <= LAST], schema=ca.SPLITS_SCHEMA).sort("id")
    assert splits.columns == list(ca.SPLITS_SCHEMA)
    assert served.height == 6 and splits.equals(served), "bronze splits differ from the vendor's list"
    dividends = read_bronze(run.lake, "dividends").sort("id")
    truth = (market.dividends().drop("security_id")
             .filter(pl.col("ex_dividend_date").is_between(FIRST, LAST)).sort("id"))
    assert truth.height >= 5 and dividends.equals(truth.cast(dividends.schema))
    for dtype, col in (("splits", "execution_date"), ("dividends", "ex_dividend_date")):
        for f in (run.lake / "bronze" / dtype).glob("year=*/month=*/data.parquet"):
            month = int(f.parent.name.split("=")[1])
            assert set(pl.read_parquet(f)[col].dt.month()) <= {month}


def test_bronze_ticker_changes_equal_the_truth(run, market):
    changes = read_bronze(run.lake, "ticker_changes")
    figi = market.securities().select("security_id", "composite_figi")
    truth = (market.ticker_changes().filter(pl.col("date").is_between(FIRST, LAST))
             .join(figi, on="security_id").select(list(ca.TICKER_CHANGES_SCHEMA)))
    assert truth.height == 1 and changes.sort("date").equals(truth.sort("date"))
    assert (run.lake / "bronze/ticker_changes/year=2024/month=02/data.parquet").exists()
    # one events request per renamed security, never one per ticker
    events = [r for r in run.first_requests + run.next_requests if r["path"].endswith("/events")]
    assert [r["path"] for r in events] == [f"/vX/reference/tickers/{truth['composite_figi'][0]}/events"]


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
    assert snap.filter(~pl.col("active")).height == 2  # delisted 2024-02-29 and 2024-03-21


def test_reports_are_clean_and_count_every_row(run):
    reports = sorted((run.lake / "reports/validation").glob("*/year=*/month=*.json"))
    assert {p.parent.parent.name for p in reports} == set(TYPES) and len(reports) == 12
    for p in reports:
        rep = json.loads(p.read_text())
        assert rep["ok"] and rep["rows_quarantined"] == 0, rep
        assert rep["rows_in"] == rep["rows_valid"] + rep["exact_duplicates_collapsed"]


def test_rerun_is_a_noop(run):
    assert "Nothing to be done" in run.noop_output
    assert run.noop_requests == []


def test_next_session_refreshes_only_the_current_month(run):
    asked = sorted((r["path"], r["query"]) for r in run.next_requests)
    assert asked == sorted([
        ("/v3/reference/dividends", "ex_dividend_date.gte=2024-03-01&ex_dividend_date.lte=2024-03-31&limit=1000"),
        ("/v3/reference/splits", "execution_date.gte=2024-03-01&execution_date.lte=2024-03-31&limit=1000"),
        ("/v3/reference/tickers", "market=stocks&date=2024-03-28&active=true&limit=1000"),
        ("/v3/reference/tickers", "market=stocks&date=2024-03-28&active=false&limit=1000"),
    ])
    rewritten = sorted(str(p.relative_to(run.lake)) for p, m in run.mtimes.items() if p.stat().st_mtime_ns != m)
    assert rewritten == sorted(f"{kind}/{dtype}/year=2024/month=03/data.parquet"
                               for kind in ("bronze", "quarantine") for dtype in TYPES)


def test_bad_api_key_fails_fast_with_one_line_and_never_leaks(tmp_path):
    marker = "QMKEY-ca-5e1f-MARKER"
    work = tmp_path / "work"
    work.mkdir()
    with SimProcess(tickers=5, seed=1, start=START, end="2024-02-29", api_key="the-right-key") as s:
        write_config(work, start=START, end="2024-01-31", data_types=["splits"], retries=3)
        proc = run_workflow(work, s.url, env_extra={"MASSIVE_API_KEY": marker}, check=False,
                            snakefile=snakefile(tmp_path))
        statuses = [r["status"] for r in s.requests()]
    assert proc.returncode != 0 and statuses == [401], "a 401 was retried or something else was asked"
    ours = [line for line in proc.stderr.splitlines() if line.startswith("quantmini:")]
    assert len(ours) == 1 and ours[0].startswith("quantmini: landing splits 2024-01:") and "401" in ours[0]
    assert not list((work / "lake").rglob("*.json.gz")) and not list((work / "lake").rglob("*.parquet"))
    blobs = [proc.stdout, proc.stderr] + [p.read_bytes().decode("utf-8", "replace")
                                          for p in tmp_path.rglob("*") if p.is_file()]
    assert not any(marker in b for b in blobs), "the API key leaked into output or a file"
