"""workflow_scripts/cron/daily.sh for real: `end=today` against a live simulator, in one work directory.

1. late vendor data: the simulator has no bars yet for the last completed session -> the run fails with
   one clear line, the summary says FAILED; 2. the next run retries while a second, overlapping run is
   stopped by Snakemake's lock with a clear message; 3. a run with nothing new (a holiday, a re-run the
   same evening) does nothing and succeeds. The reference is the simulator's ground truth.

The clock is pinned (QUANTMINI_NOW, read by the workflow's jobs too) to a session in mid-month and to the
first session of a year, so the outcome does not depend on the day the suite runs.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from quantmini import calendar
from quantmini.sim.market import Market, MarketConfig
from quantmini.sim.server import SimProcess
from workflow_helpers import REPO, read_bronze, write_config

DAILY = REPO / "workflow_scripts" / "cron" / "daily.sh"
TICKERS, SEED = 6, 11
# 21:00 New York on the pinned session: it has settled (config `settle`, 4.5 h after the close = 20:30),
# so `today` is that session. 2026-01-02 is the
# first session of a month, a quarter and a year (the session before it is in the previous year).
PINNED = {"mid-month": dt.date(2026, 11, 18), "year-boundary": dt.date(2026, 1, 2)}


def pinned_now(day: dt.date) -> str:
    return dt.datetime.combine(day, dt.time(21), tzinfo=calendar.NY).isoformat()


def daily(work: Path, api_url: str, now: str, **popen) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("MASSIVE_API_KEY", "POLYGON_API_KEY")}
    env.update(QUANTMINI_API_URL=api_url, QUANTMINI_WORKDIR=str(work), QUANTMINI_CONFIG=str(work / "config.yaml"),
               QUANTMINI_TARGET="bronze", QUANTMINI_PYTHON=sys.executable, QUANTMINI_LOG_DIR=str(work / "logs"),
               QUANTMINI_NOW=now)
    return subprocess.Popen(["bash", str(DAILY)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **popen)


def finish(proc: subprocess.Popen, timeout=300) -> tuple[int, str]:
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


def landed(work: Path, day: dt.date) -> bool:
    return (work / "lake" / "landing" / "stocks_daily" / f"year={day.year}" / f"month={day.month:02d}"
            / f"{day}.json.gz").exists()


def run_log(log_dir: Path) -> str:
    """The dated log of the run(s): named by the wall clock's day, not the pinned one."""
    return "".join(f.read_text() for f in sorted(log_dir.glob("????-??-??.log")))


@pytest.mark.parametrize("when", sorted(PINNED))
def test_late_vendor_data_fails_with_one_line_then_retry_and_overlap_then_noop(when, tmp_path):
    LAST = PINNED[when]
    now = pinned_now(LAST)
    assert calendar.last_completed_session(dt.datetime.fromisoformat(now)) == LAST
    START = calendar.sessions(LAST - dt.timedelta(days=20), LAST)[0]
    BEFORE = calendar.sessions(START, LAST)[-2]  # the session before LAST
    work = tmp_path / "cron"
    work.mkdir()
    write_config(work, start=START.isoformat(), end="today")
    log_dir = work / "logs"
    # 1. the vendor has not published LAST yet: its grouped daily is empty
    with SimProcess(tickers=TICKERS, seed=SEED, start=START.isoformat(), end=BEFORE.isoformat()) as early:
        rc, err = finish(daily(work, early.url, now))
    assert rc != 0
    assert f"no bars served for session {LAST}" in err and "not published yet" in err, err
    assert err.count("\n") == 1, f"more than one line on stderr: {err!r}"
    summary = (log_dir / "PIPELINE_SUMMARY.md").read_text()
    assert summary.startswith("# QuantMini pipeline summary: FAILED") and f"session {LAST}" in summary
    assert run_log(log_dir)
    assert not landed(work, LAST)
    # what the next run must download: every session the failed run did not land (at a month boundary the
    # previous month's job may not have run before the failure stopped the run)
    missing = [d for d in calendar.sessions(START, LAST) if not landed(work, d)]

    # 2. next run: the data is there now (slowly); an overlapping run is stopped by the lock
    truth = Market(MarketConfig(seed=SEED, n_tickers=TICKERS, start=START, end=LAST)).daily_raw()
    with SimProcess(tickers=TICKERS, seed=SEED, start=START.isoformat(), end=LAST.isoformat(),
                    latency_ms=8000, request_log=str(tmp_path / "req.jsonl")) as sim:
        first = daily(work, sim.url, now)
        locks = work / ".snakemake" / "locks"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (locks.is_dir() and any(locks.iterdir())):
            time.sleep(0.1)
        assert first.poll() is None, "the first run ended before it held the lock"
        rc2, err2 = finish(daily(work, sim.url, now))
        rc1, err1 = finish(first)
        fetched = [r["path"].rsplit("/", 1)[-1] for r in sim.requests() if "/grouped/" in r["path"]]
    assert rc2 != 0 and "another run holds the workflow lock" in err2, err2
    assert rc1 == 0, err1
    assert sorted(fetched) == [d.isoformat() for d in missing]
    summary = (log_dir / "PIPELINE_SUMMARY.md").read_text()
    assert summary.startswith("# QuantMini pipeline summary: OK"), summary
    assert f"| stocks_daily | {len(missing)} |" in summary and "**COMPLETE**" in summary
    bronze = read_bronze(work / "lake")
    assert bronze.filter(pl.col("date") == LAST).equals(
        truth.filter(pl.col("date") == LAST).select(bronze.columns).cast(bronze.schema).sort("ticker", "date"))

    # 3. nothing new since (what a holiday or a second run the same evening sees): no request, success
    with SimProcess(tickers=TICKERS, seed=SEED, start=START.isoformat(), end=LAST.isoformat(),
                    request_log=str(tmp_path / "req2.jsonl")) as sim:
        rc, err = finish(daily(work, sim.url, now))
        assert rc == 0, err
        assert sim.requests() == []
    assert "nothing new" in (log_dir / "PIPELINE_SUMMARY.md").read_text()
    assert "Nothing to be done" in run_log(log_dir)
