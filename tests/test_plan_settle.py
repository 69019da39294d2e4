"""Settle time (issue 18, item 1) and plan limits (item 3), against the simulator over HTTP.

References: hand-worked calendar examples (2026-11-25 is a full day closing 16:00 ET; 2026-11-27, the day
after Thanksgiving, closes 13:00 ET), and the simulator's ground truth (`Market.daily_raw`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os

import httpx
import pytest
from quantmini import calendar, settle
from quantmini import config as qm_config
from quantmini.client import PolygonClient
from quantmini.plan import TIMEFRAME_PHRASE, earliest_served
from quantmini.sim.market import Market, MarketConfig
from quantmini.sim.server import SimProcess
from workflow_helpers import (
    DAILY_BARS,
    quantmini_cli,
    read_bronze,
    run_workflow,
    write_config,
)

NY = calendar.NY
TICKERS, SEED = 4, 9
START = "2024-01-02"
S = dt.date(2024, 2, 8)  # a Thursday, a full day
BEFORE = dt.date(2024, 2, 7)


def ny(day: dt.date, hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hh, mm), tzinfo=NY)


def truth(end: dt.date, start: str = START):
    m = Market(MarketConfig(seed=SEED, n_tickers=TICKERS, start=START, end=S))
    raw = m.daily_raw().select(DAILY_BARS).sort("ticker", "date")
    return raw.filter((raw["date"] >= dt.date.fromisoformat(start)) & (raw["date"] <= end))


# ------------------------------------------------------------------------------------------ settle
@pytest.mark.parametrize("now,hours,expected", [
    (ny(dt.date(2026, 11, 25), 16, 1), 4.5, dt.date(2026, 11, 24)),   # closed, not settled
    (ny(dt.date(2026, 11, 25), 20, 29), 4.5, dt.date(2026, 11, 24)),  # after-hours just over
    (ny(dt.date(2026, 11, 25), 20, 30), 4.5, dt.date(2026, 11, 25)),  # settled
    (ny(dt.date(2026, 11, 25), 16, 0), 0, dt.date(2026, 11, 25)),     # settle 0 = at the close
    (ny(dt.date(2026, 11, 27), 17, 29), 4.5, dt.date(2026, 11, 25)),  # half day: 13:00 + 4.5 h; 26th a holiday
    (ny(dt.date(2026, 11, 27), 17, 30), 4.5, dt.date(2026, 11, 27)),
    (ny(dt.date(2026, 11, 30), 9, 0), 4.5, dt.date(2026, 11, 27)),    # Monday morning
    (ny(dt.date(2026, 11, 26), 3, 0), 10, dt.date(2026, 11, 25)),     # next calendar day, 02:00 settle
    (ny(dt.date(2026, 11, 26), 1, 59), 10, dt.date(2026, 11, 24)),
])
def test_last_settled_session_hand_worked(now, hours, expected):
    assert settle.last_settled_session(now, hours) == expected
    cfg = qm_config.validate({"data_root": "x", "source": "sim", "start": "2026-11-02", "end": "today",
                              "settle": hours})
    assert qm_config.resolve_range(cfg, now)[1] == expected


def test_settle_default_and_bounds():
    cfg = qm_config.validate({"data_root": "x", "source": "sim", "start": "2026-11-02", "end": "2026-11-20"})
    assert cfg["settle"] == 4.5 == settle.DEFAULT_SETTLE_HOURS
    with pytest.raises(qm_config.ConfigError, match="settle"):
        qm_config.validate({**cfg, "settle": -1})


def test_evening_cron_waits_for_settle_then_takes_the_session(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    write_config(work, start=START, end="today")
    with SimProcess(tickers=TICKERS, seed=SEED, start=START, end=S.isoformat(),
                    request_log=str(tmp_path / "r.jsonl")) as sim:
        run_workflow(work, sim.url, "bronze", env_extra={"QUANTMINI_NOW": ny(S, 19).isoformat()})
        asked = {r["path"].rsplit("/", 1)[-1] for r in sim.requests()}
        assert BEFORE.isoformat() in asked and S.isoformat() not in asked
        assert read_bronze(work / "lake").equals(truth(BEFORE))
        monkeypatch.setenv("QUANTMINI_NOW", ny(S, 19).isoformat())
        status = quantmini_cli(work, "status")
        assert status.returncode == 0, status.stderr
        assert f"last settled session: {BEFORE}" in " ".join(status.stdout.split())
        run_workflow(work, sim.url, "bronze", env_extra={"QUANTMINI_NOW": ny(S, 20, 31).isoformat()})
    assert read_bronze(work / "lake").equals(truth(S))


# ------------------------------------------------------------------------------------- plan limits
def test_simulator_plays_a_plan(monkeypatch, fixtures_dir):
    monkeypatch.setenv("QUANTMINI_NOW", ny(S, 20, 10).isoformat())
    with SimProcess(tickers=TICKERS, seed=SEED, start=START, end=S.isoformat(), plan_start="2024-02-03",
                    delayed_minutes=15) as sim, httpx.Client(base_url=sim.url) as c:
        grouped = "/v2/aggs/grouped/locale/us/market/stocks/{}?adjusted=false"
        refused = c.get(grouped.format("2024-02-02"))
        assert refused.status_code == 403 and refused.json()["status"] == "NOT_AUTHORIZED"
        vendor = json.loads((fixtures_dir / "errors" / "403_not_authorized_timeframe.json").read_text())
        assert refused.json().keys() == vendor.keys()  # the vendor's shape and first sentence
        assert refused.json()["message"].split(". ")[0] == vendor["message"].split(". ")[0]
        assert TIMEFRAME_PHRASE in vendor["message"]  # what quantmini.plan recognises
        assert c.get("/v2/aggs/ticker/AAA/range/1/day/2024-01-30/2024-02-06").status_code == 403
        assert c.get(grouped.format("2024-02-05")).json()["status"] == "OK"
        delayed = c.get(grouped.format(S.isoformat())).json()  # 20:10 < 20:00 + 15 min
        assert delayed["status"] == "DELAYED" and delayed["results"]
        assert c.get("/v3/reference/tickers?limit=1").status_code == 200  # only aggregates are limited

        async def probe():
            async with PolygonClient(sim.url, max_concurrency=1) as client:
                days = calendar.sessions(START, S)
                return await earliest_served(client, days), client.stats.requests, len(days)

        first, requests, n = asyncio.run(probe())
    assert first == dt.date(2024, 2, 5) and requests <= n.bit_length()


def test_plan_history_limit_stops_with_the_date_to_configure(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    write_config(work, start=START, end=S.isoformat())
    with SimProcess(tickers=TICKERS, seed=SEED, start=START, end=S.isoformat(), plan_start="2024-02-03") as sim:
        proc = run_workflow(work, sim.url, "bronze", check=False)
        assert proc.returncode != 0
        lines = {line for line in proc.stderr.splitlines() if line.startswith("quantmini:")}
        assert len(lines) == 1, proc.stderr
        line = lines.pop()
        assert "your plan's history starts on 2024-02-05: set start: 2024-02-05 or later" in line, line
        write_config(work, start="2024-02-05", end=S.isoformat())
        run_workflow(work, sim.url, "bronze")
    assert read_bronze(work / "lake").equals(truth(S, start="2024-02-05"))


def test_delayed_data_of_an_unsettled_session_is_not_landed(tmp_path, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    write_config(work, start=START, end=S.isoformat())  # an explicit end asks for S before it settles
    landing = work / "lake" / "landing" / "stocks_daily" / "year=2024" / "month=02"
    monkeypatch.setenv("QUANTMINI_NOW", ny(S, 20, 10).isoformat())  # the simulator's clock
    with SimProcess(tickers=TICKERS, seed=SEED, start=START, end=S.isoformat(), delayed_minutes=15) as sim:
        proc = run_workflow(work, sim.url, "bronze", check=False,
                            env_extra={"QUANTMINI_NOW": os.environ["QUANTMINI_NOW"]})
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.startswith("quantmini:")]
    assert len(lines) == 1 and f"marks session {S} DELAYED" in lines[0] and "not landed" in lines[0], proc.stderr
    assert not (landing / f"{S}.json.gz").exists() and (landing / f"{BEFORE}.json.gz").exists()
    monkeypatch.setenv("QUANTMINI_NOW", ny(S, 20, 40).isoformat())  # settled, no longer delayed
    with SimProcess(tickers=TICKERS, seed=SEED, start=START, end=S.isoformat(), delayed_minutes=15) as sim:
        run_workflow(work, sim.url, "bronze", env_extra={"QUANTMINI_NOW": os.environ["QUANTMINI_NOW"]})
    assert read_bronze(work / "lake").equals(truth(S))
