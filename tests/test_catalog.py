"""The catalog drives every reader: on a lake with every data type, built by the real workflow from a live
simulator, `gaps` finds exactly what was deleted -- one bronze partition and one landing file per type --
and `gaps --backfill` restores the lake byte for byte. One test per catalog type, generated from the
catalog, so a new type is covered by adding it there.

The range crosses a year (year-grain landing jobs), minute data is limited to the last month (the window
the catalog declares), and fundamentals land their history months before the range.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from pathlib import Path

import polars as pl
import pytest
import yaml
from quantmini import catalog, config
from quantmini.gaps import find_gaps
from quantmini.lake import LakePaths
from quantmini.sim.market import Market, MarketConfig
from quantmini.sim.server import SimProcess
from workflow_helpers import quantmini_cli, run_workflow, write_config

TICKERS, SEED = 8, 21
START, END = dt.date(2024, 12, 2), dt.date(2025, 1, 31)
SIM_START, SIM_END = "2024-11-01", "2025-02-28"
SKIP = ("logs", "benchmarks", "reports/gaps", "lake.duckdb")  # run records, not the lake's data


def underlying() -> str:
    """A ticker trading the whole range (the options' underlying)."""
    bars = Market(MarketConfig(seed=SEED, n_tickers=TICKERS, start=SIM_START, end=SIM_END)).daily_raw()
    span = bars.filter(pl.col("date").is_between(START, END)).group_by("ticker").agg(n=pl.len(), first=pl.col("date").min())
    return span.filter(pl.col("first") == START).sort("n", "ticker", descending=[True, False])["ticker"][0]


def settings(work: Path) -> dict:
    return dict(start=START.isoformat(), end=END.isoformat(), data_types=list(catalog.DATA_TYPES),
                options={"underlyings": [underlying()], "rate": 0.04},
                minute={"stocks": 2, "options_per_stock": 1, "extended_hours": True, "months": 1, "gold": False},
                data_root=str(work / "lake"))


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    with SimProcess(tickers=TICKERS, seed=SEED, start=SIM_START, end=SIM_END) as s:
        yield s


@pytest.fixture(scope="module")
def built(sim, tmp_path_factory):
    work = tmp_path_factory.mktemp("catalog") / "work"
    work.mkdir()
    write_config(work, **settings(work))
    run_workflow(work, sim.url, "bronze", "silver")
    return work


def copy_work(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    write_config(dst, **settings(dst))
    return dst


def lake_digest(lake: Path) -> dict[str, str]:
    """sha256 of every data file of the lake (run records and hidden job stamps aside)."""
    out = {}
    for p in sorted(lake.rglob("*")):
        rel = p.relative_to(lake).as_posix()
        if p.is_file() and not p.name.startswith(".") and not rel.startswith(SKIP):
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def loaded_config(work: Path) -> dict:
    return config.validate(yaml.safe_load((work / "config.yaml").read_text()))


def run_main(work: Path, monkeypatch, *args: str) -> int:
    from quantmini.cli import main

    monkeypatch.chdir(work)
    return main([*args, "--config", str(work / "config.yaml")])


def test_every_type_of_the_catalog_is_enabled_and_named_in_the_config_schema():
    schema = yaml.safe_load(config.SCHEMA_PATH.read_text())
    assert tuple(schema["properties"]["data_types"]["items"]["enum"]) == catalog.DATA_TYPES


def test_fresh_lake_is_complete_and_status_lists_every_type(built, monkeypatch, capsys):
    cfg = loaded_config(built)
    g = find_gaps(built / "lake", START, END, cfg["data_types"], cfg=cfg)
    assert g.complete, (g.counts(), g.missing_partitions.rows(), g.missing_landing.rows())
    assert run_main(built, monkeypatch, "gaps", "--out", str(built / "gaps")) == 0
    assert "INCOMPLETE" not in capsys.readouterr().out
    assert run_main(built, monkeypatch, "status") == 0
    out = capsys.readouterr().out
    rows = [line.split("│") for line in out.splitlines() if line.count("│") > 5]
    landing = {r[2].strip(): (r[4].strip(), r[5].strip()) for r in rows if r[1].strip() == "landing"}
    assert set(landing) == set(catalog.DATA_TYPES), landing
    assert landing["stocks_minute"] == ("2025-01", "2025-01")  # minute.months: 1
    assert landing["stocks_daily"] == ("2024-12", "2025-01")
    bronze = {r[2].strip(): (r[4].strip(), r[5].strip()) for r in rows if r[1].strip() == "bronze"}
    assert bronze["stocks_minute"] == ("2025-01", "2025-01") and bronze["options_minute"] == ("2025-01", "2025-01")
    assert bronze["financials"][0] == "2023-09"  # 15 history months before 2024-12


def victims(lake: Path, dtype: str, cfg: dict) -> tuple[Path, Path]:
    """One bronze partition file (the type's last table, its first month or session) and one landing file
    (the first a manifest lists, or a session's grouped-daily body) of a type."""
    t = catalog.data_type(dtype)
    paths = LakePaths(lake)
    months = catalog.range_months(START, END)
    rcfg = catalog.range_config(cfg, START, END)
    bronze = [p for table, _, p in t.expected_bronze(paths, months, rcfg) if table == t.bronze[-1]][0]
    if t.expect == catalog.EVERY_SESSION:
        return bronze, paths.landing_day(dtype, START)
    manifest = t.landing_manifests(paths, months, rcfg)[0]
    entry = json.loads(manifest.read_text())["files"][0]
    return bronze, t.manifest_file(paths, manifest, entry)


@pytest.mark.parametrize("dtype", catalog.DATA_TYPES)
def test_a_deleted_partition_and_landing_file_are_named_then_backfilled_byte_for_byte(
        dtype, built, sim, tmp_path, monkeypatch, capsys):
    work = copy_work(built, tmp_path / "work")
    lake = work / "lake"
    cfg = loaded_config(work)
    before = lake_digest(lake)
    bronze, landing = victims(lake, dtype, cfg)
    assert bronze.is_file() and landing.is_file(), (bronze, landing)
    bronze.unlink()
    landing.unlink()

    g = find_gaps(lake, START, END, cfg["data_types"], cfg=cfg)
    assert g.missing_partitions.select("layer", "type", "path").rows() == [("bronze", dtype, str(bronze))]
    assert g.missing_landing.select("type", "path").rows() == [(dtype, str(landing))]
    assert run_main(work, monkeypatch, "gaps") == 1
    out = capsys.readouterr().out
    assert "INCOMPLETE" in out and "--backfill" in out

    proc = quantmini_cli(work, "gaps", "--backfill", api_url=sim.url)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    after = lake_digest(lake)
    assert after.keys() == before.keys(), (sorted(before.keys() - after.keys()), sorted(after.keys() - before.keys()))
    changed = sorted(k for k in before if before[k] != after[k])
    assert not changed, changed
