"""The configuration is validated before anything runs: one line naming the key, non-zero exit."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pytest
from quantmini import config as qm_config

BASE = {"data_root": "lake", "source": "sim", "start": "2024-01-02", "end": "2024-03-28"}


def test_defaults_filled():
    cfg = qm_config.validate(BASE)
    assert cfg["universe"] == "all"
    assert cfg["data_types"] == ["stocks_daily"]
    assert cfg["sim"]["tickers"] == 50 and cfg["polygon"]["base_url"].startswith("https://")
    assert cfg["max_concurrency"] == 10 and cfg["retries"] == 8 and cfg["rate_limit_per_minute"] is None


def test_shipped_config_is_valid(repo):
    cfg = qm_config.load(repo / "config" / "config.yaml")
    assert cfg["source"] == "sim" and cfg["data_root"] == "lake"


@pytest.mark.parametrize(
    "patch, needle",
    [
        ({"source": "yahoo"}, "source: 'yahoo' is not one of"),
        ({"start": "2024-02-30"}, "start: '2024-02-30' is not a real calendar date"),
        ({"start": "24-01-02"}, "start: '24-01-02' does not have the expected form"),
        ({"end": "yesterday"}, "end: 'yesterday' does not have the expected form"),
        ({"start": "2024-03-01", "end": "2024-02-01"}, "start (2024-03-01) is after end (2024-02-01)"),
        ({"start": "2024-12-25", "end": "2024-12-25"}, "no XNYS session between"),
        ({"universe": ["aapl"]}, "universe.0: 'aapl'"),
        ({"universe": "some"}, "universe"),
        ({"data_types": ["crypto"]}, "data_types.0: 'crypto' is not one of"),
        ({"max_concurrency": 0}, "max_concurrency: 0 is less than the minimum of 1"),
        ({"rate_limit_per_minute": -5}, "rate_limit_per_minute"),
        ({"retries": "many"}, "retries: 'many' is not of type 'integer'"),
        ({"sim": {"tickers": 0}}, "sim.tickers: 0 is less than the minimum of 1"),
        ({"colour": "blue"}, "unknown key ('colour' was unexpected)"),
    ],
)
def test_bad_values_give_one_line_naming_the_key(patch, needle):
    with pytest.raises(qm_config.ConfigError) as err:
        qm_config.validate({**BASE, **patch})
    message = str(err.value)
    assert needle in message
    assert "\n" not in message and message.startswith("config: ")


def test_polygon_without_key_is_refused(monkeypatch):
    for name in qm_config.API_KEY_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(qm_config.ConfigError, match="MASSIVE_API_KEY nor POLYGON_API_KEY"):
        qm_config.validate({**BASE, "source": "polygon"})
    monkeypatch.setenv("POLYGON_API_KEY", "k")
    assert qm_config.validate({**BASE, "source": "polygon"})["source"] == "polygon"


def test_today_is_last_completed_session():
    # Wednesday 2026-11-25 at 20:59 UTC is 15:59 ET: the session is not over yet.
    now = dt.datetime(2026, 11, 25, 20, 59, tzinfo=dt.timezone.utc)
    assert qm_config.resolve_end("today", now) == dt.date(2026, 11, 24)
    # Friday after Thanksgiving (half day, closes 13:00 ET = 18:00 UTC), checked on Sunday.
    assert qm_config.resolve_end("today", dt.datetime(2026, 11, 29, 12, tzinfo=dt.timezone.utc)) == dt.date(2026, 11, 27)


def test_month_partitions_hold_only_sessions():
    parts = qm_config.month_partitions({**BASE, "start": "2024-06-28", "end": "2024-07-08"})
    assert [(p.year, p.month) for p in parts] == [(2024, 6), (2024, 7)]
    assert [d.isoformat() for d in parts[1].sessions] == [
        "2024-07-01", "2024-07-02", "2024-07-03", "2024-07-05", "2024-07-08"]  # no 4 July, no weekend


def test_snakemake_stops_on_bad_config_with_one_line(repo, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(repo / "Snakefile"), "-n", "--cores", "1",
         "--directory", str(tmp_path), "--config", f"data_root={tmp_path / 'lake'}", "max_concurrency=0"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode != 0
    lines = [l for l in proc.stderr.splitlines() if l.startswith("quantmini:")]
    assert lines == ["quantmini: config: max_concurrency: 0 is less than the minimum of 1"], proc.stderr
    assert not (tmp_path / "lake").exists()
