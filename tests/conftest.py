"""Shared fixtures: the repository root, the vendor's example payloads (tests/fixtures/polygon), a running simulator."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


# The vendor's example payloads and error bodies the tests read (tests/fixtures/polygon/README.md says
# where each comes from). Inside the repository: a clone alone must pass its tests.
VENDOR_FIXTURES = REPO / "tests" / "fixtures" / "polygon"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return VENDOR_FIXTURES


# ------------------------------------------------------------------ one fault-free reference lake
# Built once per session from a clean simulator that requires a marker API key, for every test that
# needs "the lake as it should be": the fault matrix compares a faulty build with it, the secret scan
# reads its files and captured output, bad-input and concurrency tests work on copies of it.
REFERENCE = {"tickers": 12, "seed": 5, "start": "2024-01-02", "end": "2024-02-29",
             "market_end": "2024-03-28",
             "data_types": ["stocks_daily", "splits", "dividends", "ticker_changes", "tickers"],
             "targets": ("bronze", "silver", "gold"), "key": "QMREF-marker-9d2e41-KEY"}


def reference_sim(**options):
    """A simulator of the reference market (with every vendor error it can inject), requiring its key."""
    from quantmini.sim.server import SimProcess

    r = REFERENCE
    return SimProcess(tickers=r["tickers"], seed=r["seed"], start=r["start"], end=r["market_end"],
                      api_key=r["key"], extra_vendor_errors=True, **options)


@pytest.fixture(scope="session")
def reference_lake(tmp_path_factory):
    """The fault-free build: SimpleNamespace(work, lake, output, requests, cfg, key)."""
    import time
    from types import SimpleNamespace

    from workflow_helpers import run_workflow, write_config

    r = REFERENCE
    tmp = tmp_path_factory.mktemp("reference")
    work = tmp / "work"
    work.mkdir()
    cfg = dict(start=r["start"], end=r["end"], data_types=r["data_types"], retries=10)
    with reference_sim(request_log=str(tmp / "requests.jsonl")) as sim:
        write_config(work, **cfg)
        t0 = time.monotonic()
        proc = run_workflow(work, sim.url, *r["targets"], env_extra={"MASSIVE_API_KEY": r["key"]})
        seconds = time.monotonic() - t0
        requests = sim.requests()
    return SimpleNamespace(work=work, lake=work / "lake", output=proc.stdout + proc.stderr, requests=requests,
                           cfg=cfg, key=r["key"], seconds=seconds, sim_log=tmp / "requests.jsonl")


# ------------------------------------------------------------------ the longest modules start first
# The suite runs one module per worker (pyproject.toml: -n auto --dist loadfile), handed out in collection
# order: a long module collected last would run alone at the end while the other worker idles.
LONG_MODULES = ("test_revisions_types.py", "test_storage.py", "test_workflow_incremental.py", "test_concurrency.py",
                "test_settle.py", "test_bad_input.py", "test_adversarial_signals.py", "test_revisions.py",
                "test_minute_workflow.py", "test_catalog.py", "test_qlib_research.py", "test_cli_cron.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONG_MODULES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order
