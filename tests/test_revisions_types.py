"""Revisions of the other revised types (issue 18, item 2), through the real workflow and simulator.

A lake of stocks_daily, the corporate actions and reference listings, minute bars of stocks and options
and options daily bars is built to 2024-01-31; the vendor then revises session S (2024-01-30, in a month
that closes with the next session): minute bars and options bars of the hashed tickers, and a late
dividend going ex on S (quantmini/sim/revise.py). The update to 2024-02-01 re-fetches the last 5
sessions of every type. Reference: a fresh build from a simulator serving the revised market from its
first request. Then an update that finds nothing changed must rebuild nothing of January, and a run with
the same end must do nothing at all.
"""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest
from quantmini.sim.revise import DIVIDEND_CASH, revised
from quantmini.sim.server import SimProcess
from workflow_helpers import lake_differences, quantmini_cli, run_workflow, write_config

MARKET = dict(tickers=6, seed=11, start="2024-01-02", end="2024-02-02")
START = "2024-01-22"  # a short range: the window (5 sessions) and a month boundary are what count
S, E1, E2, E3 = "2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02"
JAN = "year=2024/month=01"
LAYERS = ("bronze", "silver", "gold", "quarantine")
TYPES = ["stocks_daily", "splits", "dividends", "ticker_changes", "tickers", "stocks_minute", "options_daily",
         "options_minute"]
NEWLY_REVISED = ("stocks_minute", "options_daily", "options_minute", "dividends")
# five workflow runs of eight types: about 4 minutes on a quiet 2-core machine, several times that when
# it is shared (the suite's default of 900 s per test cuts the module fixture short)
pytestmark = pytest.mark.timeout(2700)


def config(work, end, underlyings):
    write_config(work, start=START, end=end, data_types=TYPES, alpha158=False, revision_sessions=5,
                 options={"underlyings": underlyings},
                 minute={"stocks": 2, "options_per_stock": 2, "months": 2, "gold": True})


YEARLY = ("bronze/splits/", "bronze/dividends/", "bronze/tickers/", "bronze/ticker_changes/")


def mtimes(lake, part):
    """Bronze and silver files of a month by mtime (gold is republished for every new session anyway);
    the corporate actions' per-year bronze jobs rewrite closed months unchanged as `end` moves on (their
    readers take them as `ancient`), so theirs count by content."""
    out = {}
    for layer in ("bronze", "silver"):
        for p in (lake / layer).rglob("*"):
            if p.is_file() and part in str(p):
                key = str(p.relative_to(lake))
                out[key] = hashlib.sha256(p.read_bytes()).hexdigest() if key.startswith(YEARLY) \
                    else p.stat().st_mtime_ns
    return out


def job_reasons(proc) -> str:
    """Each job Snakemake ran and why (its `log:` line and `reason:` line): what a failure should show."""
    lines = (proc.stdout + proc.stderr).splitlines()
    return "\n".join(line.strip() for line in lines if line.strip().startswith(("log:", "reason:")))


def per_type(requests: list[dict]) -> dict[str, int]:
    """Requests by endpoint family (what a revision window costs per type)."""
    out: dict[str, int] = {}
    for r in requests:
        path = r["path"]
        kind = ("grouped" if "/grouped/" in path else "minute" if "/range/1/minute/" in path
                else "options bars" if "/range/1/day/" in path else path.rstrip("/").rsplit("/", 1)[-1])
        out[kind] = out.get(kind, 0) + 1
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("revisions_types")
    work, fresh = tmp / "work", tmp / "fresh"
    work.mkdir()
    fresh.mkdir()
    with SimProcess(**MARKET) as plain:
        with httpx.Client(base_url=plain.url) as c:
            day = c.get(f"/v2/aggs/grouped/locale/us/market/stocks/{S}", params={"adjusted": "false"}).json()
        underlyings = sorted(r["T"] for r in day["results"])[:2]
        config(work, E1, underlyings)
        run_workflow(work, plain.url, "all")
    jan_before = mtimes(work / "lake", JAN)
    with SimProcess(**MARKET, revise=S) as sim:
        config(work, E2, underlyings)
        update = run_workflow(work, sim.url, "all")
        update_requests = per_type(sim.requests())
        jan_after_revision = mtimes(work / "lake", JAN)
        n = len(sim.requests())
        config(work, E3, underlyings)
        unchanged = run_workflow(work, sim.url, "all")
        unchanged_requests = per_type(sim.requests()[n:])
        jan_after_unchanged = mtimes(work / "lake", JAN)
        n = len(sim.requests())
        noop = run_workflow(work, sim.url, "all")
        noop_requests = len(sim.requests()) - n
        status = quantmini_cli(work, "status")
        config(fresh, E3, underlyings)
        run_workflow(fresh, sim.url, "all")
    return dict(work=work, fresh=fresh, update=update, unchanged=unchanged, noop=noop, noop_requests=noop_requests,
                status=status, requests=(update_requests, unchanged_requests),
                jan=(jan_before, jan_after_revision, jan_after_unchanged))


def test_revised_lake_equals_a_fresh_build_from_the_revised_market(runs):
    assert lake_differences(runs["work"] / "lake", runs["fresh"] / "lake", LAYERS) == []


def report(lake, dtype, end):
    return json.loads((lake / f"reports/revisions/{dtype}/{end}.json").read_text())


def test_each_type_reports_and_keeps_what_it_replaced(runs):
    lake = runs["work"] / "lake"
    out = runs["update"].stdout + runs["update"].stderr
    for dtype in TYPES:
        doc = report(lake, dtype, E2)
        assert doc["checked"] == ["2024-01-26", "2024-01-29", S, E1, E2], dtype
        assert report(lake, dtype, E3)["revised"] == [], dtype  # the unchanged re-fetch
        for entry in doc["revised"]:
            assert (lake / entry["previous"]).is_file() and "/revisions/" in entry["previous"]
            assert (lake / entry["file"]).is_file() and entry["rows_changed"] > 0
    for dtype in ("splits", "tickers", "ticker_changes"):  # the simulator revises none of them
        assert report(lake, dtype, E2)["revised"] == [] and report(lake, dtype, E2)["files"] > 0
    for dtype in NEWLY_REVISED:
        entries = report(lake, dtype, E2)["revised"]
        assert entries, dtype
        assert f"quantmini: revised {dtype} " in out
    minute = report(lake, "stocks_minute", E2)["revised"]
    assert {e["session"] for e in minute} == {S}
    assert all(revised(e["file"].rsplit("/", 1)[-1].removesuffix(".json.gz")) for e in minute)
    assert all(e["changed"] > 0 and e["added"] == e["removed"] == 0 for e in minute)
    (dividend,) = report(lake, "dividends", E2)["revised"]
    assert dividend["added"] == 1 and dividend["changed"] == dividend["removed"] == 0
    assert dividend["session"].startswith("2024-01-")  # January's window, closed when the update ran
    import polars as pl

    bronze = pl.read_parquet(lake / "bronze/dividends" / JAN / "data.parquet")
    assert bronze.filter((pl.col("ex_dividend_date").cast(pl.Utf8) == S) & (pl.col("cash_amount") == DIVIDEND_CASH)
                         ).height == 1
    status = " ".join(runs["status"].stdout.split())
    assert runs["status"].returncode == 0, runs["status"].stderr
    for dtype in NEWLY_REVISED:
        assert f"revised: {dtype} " in status, status


def test_only_revised_months_rebuild_and_the_noop_stays_a_noop(runs):
    before, after_revision, after_unchanged = runs["jan"]
    assert before and before.keys() <= after_revision.keys()
    for prefix in ("bronze/stocks_minute/" + JAN, "bronze/options_daily/" + JAN, "bronze/dividends/" + JAN,
                   "silver/stocks_daily/" + JAN, "silver/options_daily/" + JAN):
        keys = [k for k in before if k.startswith(prefix)]
        assert keys and any(after_revision[k] != before[k] for k in keys), prefix
    # the unchanged re-fetch of January rebuilt nothing of it
    assert after_unchanged == after_revision, job_reasons(runs["unchanged"])
    assert "Nothing to be done" in runs["noop"].stdout + runs["noop"].stderr
    assert runs["noop_requests"] == 0
    update, unchanged = runs["requests"]
    assert unchanged["minute"] > 0 and unchanged["options bars"] > 0 and unchanged["dividends"] > 0
