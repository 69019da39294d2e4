"""Revisions (issue 18, item 2) through the real workflow and simulator.

The vendor revises session S (2024-01-30) after the lake took it: the update that moves `end` to the
next month's first session re-fetches the last 5 sessions, replaces S's landed body (keeping the old one)
and rebuilds S's month through silver and gold. Reference: a fresh build from a simulator serving the
revised market from its first request (`--revise S`). Then an update that finds nothing changed must
rebuild nothing of January, and a run with the same end must do nothing at all.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json

import orjson
import pytest
from quantmini.sim.revise import LATE_TICKER, revised
from quantmini.sim.server import SimProcess
from workflow_helpers import lake_differences, quantmini_cli, run_workflow, write_config

MARKET = dict(tickers=6, seed=11, start="2024-01-02", end="2024-02-02")
S, E1, E2, E3 = "2024-01-30", "2024-01-31", "2024-02-01", "2024-02-02"
JAN = "year=2024/month=01"
LAYERS = ("bronze", "silver", "gold", "quarantine")


def config(work, end):
    write_config(work, start=MARKET["start"], end=end, data_types=["stocks_daily"], alpha158=True,
                 revision_sessions=5)


def mtimes(lake, part):
    return {str(p.relative_to(lake)): p.stat().st_mtime_ns for layer in ("bronze", "silver")
            for p in (lake / layer).rglob("*.parquet") if part in str(p)}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("revisions")
    work, fresh = tmp / "work", tmp / "fresh"
    work.mkdir()
    fresh.mkdir()
    with SimProcess(**MARKET) as plain:
        config(work, E1)
        run_workflow(work, plain.url, "gold")
    original = (work / "lake/landing/stocks_daily" / JAN / f"{S}.json.gz").read_bytes()
    jan_before = mtimes(work / "lake", JAN)
    with SimProcess(**MARKET, revise=S, request_log=str(tmp / "requests.jsonl")) as sim:
        config(work, E2)
        update = run_workflow(work, sim.url, "gold")
        jan_after_revision = mtimes(work / "lake", JAN)
        config(work, E3)
        unchanged = run_workflow(work, sim.url, "gold")
        jan_after_unchanged = mtimes(work / "lake", JAN)
        n = len(sim.requests())
        noop = run_workflow(work, sim.url, "gold")
        noop_requests = len(sim.requests()) - n
        status = quantmini_cli(work, "status")
        config(fresh, E3)
        run_workflow(fresh, sim.url, "gold")
    return dict(work=work, fresh=fresh, original=original, update=update, unchanged=unchanged, noop=noop,
                noop_requests=noop_requests, status=status, jan=(jan_before, jan_after_revision, jan_after_unchanged))


def test_revised_lake_equals_a_fresh_build_from_the_revised_market(runs):
    assert lake_differences(runs["work"] / "lake", runs["fresh"] / "lake", LAYERS) == []


def test_the_old_body_is_kept_and_the_revision_reported(runs):
    lake = runs["work"] / "lake"
    kept = sorted((lake / "landing/stocks_daily" / JAN / "revisions").glob(f"{S}.*.json.gz"))
    assert len(kept) == 1 and kept[0].read_bytes() == runs["original"]
    old = orjson.loads(gzip.decompress(runs["original"]))["results"]
    report = json.loads((lake / f"reports/revisions/stocks_daily/{E2}.json").read_text())
    assert report["checked"] == ["2024-01-26", "2024-01-29", S, E1, E2]
    (entry,) = report["revised"]
    assert entry["session"] == S and entry["added"] == 1 and entry["removed"] == 0
    assert entry["changed"] == sum(revised(r["T"]) for r in old) > 0
    assert f"quantmini: revised stocks_daily {S}" in runs["update"].stdout + runs["update"].stderr
    assert json.loads((lake / f"reports/revisions/stocks_daily/{E3}.json").read_text())["revised"] == []
    bronze_jan = lake / "bronze/stocks_daily" / JAN / "data.parquet"
    import polars as pl

    assert LATE_TICKER in pl.read_parquet(bronze_jan)["ticker"].to_list()
    status = " ".join(runs["status"].stdout.split())
    assert runs["status"].returncode == 0 and f"revised: stocks_daily {S}" in status, runs["status"].stderr


def test_only_changed_months_rebuild_and_the_noop_stays_a_noop(runs):
    before, after_revision, after_unchanged = runs["jan"]
    assert before.keys() == after_revision.keys() and before
    assert all(after_revision[k] != before[k] for k in before)  # January's bronze and silver rebuilt
    assert after_unchanged == after_revision  # the unchanged re-fetch of January rebuilt nothing of it
    assert "Nothing to be done" in runs["noop"].stdout + runs["noop"].stderr
    assert runs["noop_requests"] == 0


def test_a_sweep_killed_before_its_manifest_is_repaired_by_the_next(runs, tmp_path):
    """Killed between landing the revised body and rewriting the manifest: the next sweep finds the body
    unchanged (already revised) and still brings the manifest back in line with the files."""
    import hashlib
    import shutil

    from quantmini.lake import LakePaths
    from quantmini.landing_documents import ClientOptions
    from quantmini.revisions import sweep

    lake = tmp_path / "lake"
    shutil.copytree(runs["work"] / "lake" / "landing", lake / "landing")
    manifest = lake / "landing/stocks_daily" / JAN / "_manifest.json"
    doc = json.loads(manifest.read_text())
    entry = next(f for f in doc["files"] if f["date"] == S)
    entry["sha256"] = hashlib.sha256(runs["original"]).hexdigest()  # as it was before the revision
    manifest.write_text(json.dumps(doc))
    with SimProcess(**MARKET, revise=S) as sim:
        report = sweep("stocks_daily", lake=LakePaths(lake), sessions=[
            dt.date.fromisoformat(d) for d in ("2024-01-29", S, E1)], manifests=[manifest],
            opts=ClientOptions(sim.url, None, max_concurrency=2, retries=2))
    assert report["revised"] == []
    landed = (lake / "landing/stocks_daily" / JAN / f"{S}.json.gz").read_bytes()
    fixed = next(f for f in json.loads(manifest.read_text())["files"] if f["date"] == S)
    assert fixed["sha256"] == hashlib.sha256(landed).hexdigest()
