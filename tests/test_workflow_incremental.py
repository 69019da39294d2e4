"""Daily updates end byte-identical to a full rebuild; closed silver months never change (point in time).

A lake is built to 2024-03-05, then updated to 2024-03-07 (a 1:3 split of OSU executes on 03-07, so OSU's
gold history is rewritten) and to 2024-04-01 (a new month). A fresh lake built straight to 2024-04-01 is
the reference. `.snakemake/` (Snakemake's params metadata) is deleted before every update: what a month
should hold is decided by the lake and the config (quantmini/session_plans.py), so a re-clone, another working
directory or a lost `.snakemake/` never stalls the updates (issue 15, defect 3).
"""

from __future__ import annotations

import shutil

import numpy as np
import polars as pl
import pytest
from quantmini.sim.server import SimProcess
from workflow_helpers import run_workflow, tree_bytes, write_config

TICKERS, SEED, START = 16, 5, "2024-01-02"
TYPES = ["stocks_daily", "splits", "dividends", "ticker_changes", "tickers"]
STEPS = ["2024-03-05", "2024-03-07", "2024-04-01"]


def layer(lake, name):
    files = tree_bytes(lake / name)
    return {k: v for k, v in files.items() if not k.endswith((".published.json", ".publish_state.json"))}


@pytest.fixture(scope="module")
def lakes(tmp_path_factory):
    inc, full = tmp_path_factory.mktemp("incremental"), tmp_path_factory.mktemp("full")
    snapshots = []
    with SimProcess(tickers=TICKERS, seed=SEED, start=START, end="2024-04-30") as sim:
        for end in STEPS:
            shutil.rmtree(inc / ".snakemake", ignore_errors=True)
            write_config(inc, start=START, end=end, data_types=TYPES)
            run_workflow(inc, sim.url)
            silver = inc / "lake" / "silver" / "stocks_daily"
            snapshots.append({p.relative_to(silver).as_posix(): (p.stat().st_mtime_ns, p.read_bytes())
                              for p in silver.rglob("*.parquet")})
        write_config(full, start=START, end=STEPS[-1], data_types=TYPES)
        run_workflow(full, sim.url)
    return inc / "lake", full / "lake", snapshots


@pytest.mark.parametrize("name", ["bronze", "silver", "gold"])
def test_updates_equal_a_full_rebuild(lakes, name):
    inc, full, _ = lakes
    a, b = layer(inc, name), layer(full, name)
    assert a.keys() == b.keys()
    differ = [k for k in a if a[k] != b[k]]
    assert not differ, f"{name}: files differ from a full rebuild: {differ[:5]}"


def test_closed_silver_months_never_rebuilt(lakes):
    _, _, snaps = lakes
    for month in ("year=2024/month=01/data.parquet", "year=2024/month=02/data.parquet"):
        assert snaps[0][month] == snaps[1][month] == snaps[2][month], f"{month} changed after it closed"
    assert snaps[0]["year=2024/month=03/data.parquet"][1] != snaps[1]["year=2024/month=03/data.parquet"][1]


def test_features_before_a_split_do_not_move_when_it_arrives(lakes):
    _, _, snaps = lakes
    import io

    before = pl.read_parquet(io.BytesIO(snaps[0]["year=2024/month=03/data.parquet"][1]))
    after = pl.read_parquet(io.BytesIO(snaps[1]["year=2024/month=03/data.parquet"][1]))
    osu = lambda f: f.filter(pl.col("ticker") == "OSU").sort("date")  # noqa: E731
    assert osu(after)["factor"].to_list()[:3] != osu(before)["factor"].to_list()[:3], "the split was not applied"
    from quantmini.datatypes.stocks_daily.alpha158 import FEATURE_NAMES

    j = osu(before).join(osu(after), on="date", suffix="_after")
    assert j.height == osu(before).height > 0
    for n in FEATURE_NAMES:
        a, b = j[n].to_numpy(), j[f"{n}_after"].to_numpy()
        assert np.array_equal(np.isnan(a), np.isnan(b)), n
        ok = ~np.isnan(a)
        # float32 precision: the inputs are rescaled by the split and rounded to float32 again
        err = np.abs(a[ok].astype(np.float64) - b[ok]) / np.maximum(1.0, np.abs(b[ok]))
        assert err.max(initial=0.0) <= 1e-5, f"{n} at t moved when a later split arrived ({err.max()})"
