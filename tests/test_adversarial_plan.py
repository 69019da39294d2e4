"""quantmini/session_plans.py: the months' expected sessions kept in the lake (issue 15, defect 3). The workflow-level
test is tests/test_workflow_incremental.py (it deletes .snakemake/ before every update); these pin the
rules that make it safe: a new lake is not written at DAG build, an upgraded lake does not rebuild, a new
session makes exactly its month's plan newer."""

from __future__ import annotations

import datetime as dt

from quantmini import session_plans as plan
from quantmini.config import MonthPartition
from quantmini.lake import LakePaths


def parts(last_day: int) -> dict:
    jan = tuple(dt.date(2024, 1, d) for d in (2, 3, 4))
    feb = tuple(dt.date(2024, 2, d) for d in range(1, last_day + 1) if dt.date(2024, 2, d).weekday() < 5)
    return {(2024, 1): MonthPartition(2024, 1, jan), (2024, 2): MonthPartition(2024, 2, feb)}


def test_a_new_lake_is_not_written_at_dag_build(tmp_path):
    lake = LakePaths(tmp_path / "lake")
    assert plan.write_session_plans(lake, parts(5)) == []
    assert not (tmp_path / "lake").exists()


def test_an_upgraded_lake_gets_old_plans_and_a_new_session_a_new_one(tmp_path):
    lake = LakePaths(tmp_path / "lake")
    for m in (1, 2):
        lake.landing_dir("stocks_daily", 2024, m).mkdir(parents=True)
    assert plan.write_session_plans(lake, parts(5)) == [(2024, 1), (2024, 2)]
    assert all(lake.session_plan(2024, m).stat().st_mtime == plan.OLD for m in (1, 2))  # nothing looks stale
    assert plan.write_session_plans(lake, parts(5)) == []  # unchanged: untouched
    assert plan.write_session_plans(lake, parts(7)) == [(2024, 2)]  # 02-06, 02-07 added: only February
    assert lake.session_plan(2024, 2).stat().st_mtime > plan.OLD
    assert lake.session_plan(2024, 1).stat().st_mtime == plan.OLD
    assert '"2024-02-07"' in lake.session_plan(2024, 2).read_text()


def test_the_rule_and_the_dag_build_write_the_same_text(tmp_path):
    sessions = parts(7)[(2024, 2)].sessions
    plan.write_plan(tmp_path / "p.json", [d.isoformat() for d in sessions])
    assert (tmp_path / "p.json").read_text() == plan.plan_text(sessions)


def test_settings_files_follow_the_config_like_plans(tmp_path):
    """The settings that decide what partitions hold (rules/common.smk `setting`): not written in a new
    lake (the `setting_plan` rule makes them), created old in a landed lake, rewritten only on a change."""
    lake = LakePaths(tmp_path / "lake")
    assert plan.write_setting_plans(lake, {"universe": "all"}) == [] and not (tmp_path / "lake").exists()
    lake.landing_dir("stocks_daily", 2024, 1).mkdir(parents=True)
    assert plan.write_setting_plans(lake, {"universe": "all", "alpha158": True}) == ["alpha158", "universe"]
    assert lake.setting_plan("universe").stat().st_mtime == plan.OLD  # an upgrade: nothing looks stale
    assert plan.write_setting_plans(lake, {"universe": "all", "alpha158": True}) == []
    assert plan.write_setting_plans(lake, {"universe": ["AAPL", "MSFT"]}) == ["universe"]
    assert lake.setting_plan("universe").stat().st_mtime > plan.OLD
    assert lake.setting_plan("universe").read_text() == plan.setting_text(["AAPL", "MSFT"]) == '["AAPL", "MSFT"]\n'
    stamp = tmp_path / "stamp.json"
    assert plan.write_changed({stamp: plan.setting_text(1)}) == [] and not stamp.exists()  # its rule makes it
    stamp.write_text(plan.setting_text(1))
    assert plan.write_changed({stamp: plan.setting_text(1)}) == []
    assert plan.write_changed({stamp: plan.setting_text(2)}) == [stamp] and stamp.read_text() == "2\n"
