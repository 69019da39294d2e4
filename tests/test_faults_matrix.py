"""The simulator's whole fault matrix in one build, compared table by table with a fault-free build.

One faulty build (every fault kind switched on, listings cut into pages of 3 rows so that cursor and
page faults happen on a small market) of bronze (every type), silver and gold must equal the
session's fault-free reference lake (conftest.reference_lake), file by file. The simulator's request
log proves that every fault kind fired and that every month and every listing was hit. Permanent
errors (403 on a path) stop the run at once with one line, and nothing is half-written.
"""

from __future__ import annotations

import gzip
import json
import time
from collections import Counter

import pytest
from conftest import REFERENCE, reference_sim
from quantmini.sim.server import SimProcess
from workflow_helpers import lake_differences, run_workflow, write_config

FAULTS = ("429=0.08,429ra=0.05,500=0.05,503=0.04,reset=0.04,truncate=0.04,timeout=0.03,slow=0.02,"
          "repeat_cursor=1,dup_page=0.5,page_size=3")
FAULT_SEED = 4  # draws (a hash of seed, request, attempt) that also hit the two-request splits listing
# repeat_cursor=1: every cursor page with a next_url loops once (once per page: the client's restarts,
# at most 3 per listing, get through listings of up to 5 pages -- 12 tickers in pages of 3)
KINDS = {"429", "429ra", "500", "503", "reset", "truncate", "timeout", "slow", "repeat_cursor", "dup_page"}
# the client gives up on a request after 2 s (the simulator holds a `timeout` answer for 6 s)
CLIENT_TIMEOUT = {"QUANTMINI_HTTP_TIMEOUT_S": "2"}


@pytest.fixture(scope="module")
def faulty(tmp_path_factory, reference_lake):
    r = REFERENCE
    tmp = tmp_path_factory.mktemp("faulty")
    work = tmp / "work"
    work.mkdir()
    with reference_sim(faults=FAULTS, fault_seed=FAULT_SEED, request_log=str(tmp / "requests.jsonl")) as sim:
        write_config(work, **reference_lake.cfg)
        t0 = time.monotonic()
        run_workflow(work, sim.url, *r["targets"], env_extra={"MASSIVE_API_KEY": r["key"], **CLIENT_TIMEOUT})
        seconds = time.monotonic() - t0
        requests = sim.requests()
    print(f"reference build {reference_lake.seconds:.1f} s, faulty build {seconds:.1f} s, "
          f"{len(reference_lake.requests)} vs {len(requests)} requests")
    return work / "lake", requests


def test_every_fault_kind_fired_and_hit_every_partition(faulty, reference_lake):
    _, requests = faulty
    fired = Counter(kind for r in requests if r.get("fault") for kind in r["fault"].split("+"))
    assert set(fired) >= KINDS, f"fault kinds that never fired: {KINDS - set(fired)}"
    months = {r["path"].rsplit("/", 1)[-1][:7] for r in reference_lake.requests if "/grouped/" in r["path"]}
    hit = {r["path"].rsplit("/", 1)[-1][:7] for r in requests if "/grouped/" in r["path"] and r.get("fault")}
    assert months and hit == months, f"months without a fault: {months - hit}"
    for listing in ("/v3/reference/splits", "/v3/reference/dividends", "/v3/reference/tickers"):
        assert any(r["path"] == listing and r.get("fault") for r in requests), f"no fault on {listing}"
    # listings longer than a page (tickers) paged, and their pages were faulted
    paged = [r for r in requests if "cursor=" in r["query"]]
    assert paged and any(r.get("fault") for r in paged), "no faulted page"


def test_faulty_build_equals_the_fault_free_build_table_by_table(faulty, reference_lake):
    lake, _ = faulty
    assert list((reference_lake.lake / "gold/qlib/features").iterdir()), "the reference has no gold"
    diffs = lake_differences(reference_lake.lake, lake)
    assert not diffs, "faulty build differs:\n" + "\n".join(diffs[:20])


def test_validation_reports_agree_except_for_collapsed_duplicates(faulty, reference_lake):
    lake, _ = faulty
    ref = sorted((reference_lake.lake / "reports/validation").rglob("*.json"))
    assert ref and [p.relative_to(reference_lake.lake) for p in ref] == \
        [p.relative_to(lake) for p in sorted((lake / "reports/validation").rglob("*.json"))]
    collapsed = 0
    for p in ref:
        a, b = json.loads(p.read_text()), json.loads((lake / p.relative_to(reference_lake.lake)).read_text())
        extra = b.get("exact_duplicates_collapsed", 0) - a.get("exact_duplicates_collapsed", 0)
        assert b.get("rows_in", 0) - a.get("rows_in", 0) == extra >= 0, p
        collapsed += extra
        for key in ("rows_in", "exact_duplicates_collapsed"):
            a.pop(key, None), b.pop(key, None)
        assert a == b, f"{p.name}: reports differ beyond the collapsed duplicates"
    assert collapsed > 0, "rows repeated across pages never reached bronze: dup_page proved nothing"


def test_403_on_a_path_fails_fast_with_one_line_and_nothing_half_written(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    with SimProcess(tickers=5, seed=3, start="2024-01-02", end="2024-02-29", faults="403=0.3",
                    request_log=str(tmp_path / "requests.jsonl")) as sim:
        write_config(work, start="2024-01-02", end="2024-01-31", retries=8)
        t0 = time.monotonic()
        proc = run_workflow(work, sim.url, "bronze", check=False)
        seconds = time.monotonic() - t0
        requests = sim.requests()
    assert proc.returncode != 0
    forbidden = [r for r in requests if r["status"] == 403]
    assert forbidden, "no path was forbidden: the test proves nothing"
    paths = Counter(r["path"] for r in requests)
    assert all(paths[r["path"]] == 1 for r in forbidden), "a 403 was retried"
    ours = [line for line in proc.stderr.splitlines() if line.startswith("quantmini:")]
    assert len(ours) == 1 and "403" in ours[0] and "not entitled" in ours[0], proc.stderr[-2000:]
    lake = work / "lake"
    assert not list(lake.rglob("*.parquet")) and not list(lake.rglob("_manifest.json"))
    assert not [p for p in lake.rglob("*") if p.name.endswith(".tmp")], "a temporary file was left behind"
    for f in lake.rglob("*.json.gz"):  # the sessions landed before the 403 are whole (kept: immutable)
        json.loads(gzip.decompress(f.read_bytes()))
    assert seconds < 60
