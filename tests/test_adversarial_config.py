"""A careless user's config and command line (issue 15, defects 4, 7, 8, 9): each mistake stops with one
`quantmini:` line before any job, or does what was asked (`--data-root X` means X)."""

from __future__ import annotations

import shutil

import pytest
import yaml
from conftest import REFERENCE as R
from conftest import reference_sim
from quantmini import config as qm_config
from workflow_helpers import quantmini_cli, write_config

BASE = {"data_root": "/nonexistent/lake", "source": "sim", "start": "2024-01-02", "end": "2024-02-29"}


def one_line(proc, needle: str) -> str:
    assert proc.returncode != 0, proc.stdout[-2000:]
    ours = [line for line in proc.stderr.splitlines() if line.startswith("quantmini:")]
    assert ours and needle in ours[-1], proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr[-3000:]
    return ours[-1]


# ---------------------------------------------------------------------- defect 7: early dates
def test_early_dates_plan_a_run_instead_of_an_index_error(tmp_path):
    write_config(tmp_path, start="1990-01-02", end="1990-02-28", data_types=["stocks_daily", "news"])
    proc = quantmini_cli(tmp_path, "ingest", "-n", "-t", "stocks_daily,news")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "IndexError" not in proc.stderr


@pytest.mark.parametrize("start, end, needle", [
    ("1975-01-02", "1975-02-28", "before 1981-01-01"),       # sessions existed: not "no XNYS session"
    ("1960-01-04", "2024-01-31", "before 1981-01-01"),
    ("2024-12-25", "2024-12-25", "no XNYS session between"),  # Christmas: truly none
])
def test_a_range_before_the_calendar_is_named_as_such(start, end, needle):
    with pytest.raises(qm_config.ConfigError) as exc:
        qm_config.validate({**BASE, "start": start, "end": end})
    assert needle in str(exc.value) and "\n" not in str(exc.value)


# ---------------------------------------------------------------------- defect 8: sim.faults
@pytest.mark.parametrize("spec, needle", [
    ("429=0.5,bogus=0.1", "bad fault 'bogus=0.1'"),
    ("429=2", "within [0, 1]"),
    ("429=lots", "not a number"),
    ("429=0.7,500=0.7", "sum to"),
    ("page_size=0", "whole number"),
])
def test_a_bad_fault_spec_fails_config_validation(spec, needle):
    with pytest.raises(qm_config.ConfigError) as exc:
        qm_config.validate({**BASE, "sim": {"faults": spec}})
    assert str(exc.value).startswith("config: sim.faults: ") and needle in str(exc.value)


def test_a_bad_fault_spec_is_one_line_from_the_cli(tmp_path):
    write_config(tmp_path, sim={"faults": "429=0.5,bogus=0.1"})
    one_line(quantmini_cli(tmp_path, "ingest", "-n"), "config: sim.faults: bad fault 'bogus=0.1'")


# ---------------------------------------------------------------------- defect 9: options.underlyings
def test_underlyings_outside_a_listed_universe_are_refused():
    with pytest.raises(qm_config.ConfigError) as exc:
        qm_config.validate({**BASE, "universe": ["AAA"], "data_types": ["stocks_daily", "options_daily"],
                            "options": {"underlyings": ["AAA", "ZZZZ"]}})
    assert "options.underlyings: ZZZZ not in `universe`" in str(exc.value)


def test_underlyings_the_vendor_never_listed_are_refused_before_any_job(tmp_path):
    write_config(tmp_path, data_types=["stocks_daily", "options_daily"], options={"underlyings": ["ZZZZQ"]},
                 start=R["start"], end=R["end"])
    with reference_sim() as sim:
        proc = quantmini_cli(tmp_path, "ingest", "-t", "options_daily", api_url=sim.url, key=R["key"])
    one_line(proc, "options.underlyings: unknown ticker(s) ZZZZQ")
    assert not list((tmp_path / "lake").glob("bronze/options_daily/**/*.parquet"))


# ---------------------------------------------------------------------- defect 4: gaps --backfill --data-root
def test_backfill_rebuilds_the_data_root_it_is_given(reference_lake, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(reference_lake.work, work, symlinks=True)
    lake = work / "lake"
    cfg = {**yaml.safe_load((work / "config.yaml").read_text()), "data_root": str(tmp_path / "configs-lake")}
    (work / "config.yaml").write_text(yaml.safe_dump(cfg))
    part = lake / "bronze/stocks_daily/year=2024/month=02/data.parquet"
    want = part.read_bytes()
    part.unlink()
    with reference_sim() as sim:
        proc = quantmini_cli(work, "gaps", "--backfill", "--data-root", str(lake), "-t", "stocks_daily",
                             "-s", R["start"], "-e", R["end"], api_url=sim.url, key=R["key"])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert part.exists() and part.read_bytes() == want
    assert not (tmp_path / "configs-lake").exists(), "backfill built the config's lake, not --data-root"


# ---------------------------------------------------------------------- rough edge: a key with a newline
@pytest.mark.parametrize("key", ["QMKEY-first\nQMKEY-second", "QMKEY a b", "QMKEY\tx", "QMKEY\x7fx"])
def test_a_key_with_a_newline_is_a_bad_key_and_never_printed(key, monkeypatch):
    monkeypatch.setenv("MASSIVE_API_KEY", key)
    with pytest.raises(qm_config.ConfigError) as exc:
        qm_config.validate(dict(BASE))
    assert "MASSIVE_API_KEY: bad key" in str(exc.value) and "QMKEY" not in str(exc.value)


def test_a_key_with_a_trailing_newline_is_fine(monkeypatch):
    monkeypatch.setenv("MASSIVE_API_KEY", "QMKEY-ok\n")
    qm_config.validate(dict(BASE))
