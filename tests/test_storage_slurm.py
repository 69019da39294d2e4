"""Opt-in (QUANTMINI_SLURM_TEST=1): profiles/slurm-s3 for real, on the single-node SLURM of
tests/test_cli_slurm.py, with the lake in a bucket of a local S3 server (moto on loopback).

Every job goes through sbatch and, without a shared filesystem for inputs and outputs, downloads its
inputs from the bucket and uploads its outputs there itself; bronze read back from the bucket must
equal the simulator's truth, and nothing of the lake may be written under the run's directory.
"""

from __future__ import annotations

import io
import os

import polars as pl
import pytest
from quantmini.sim.market import Market, MarketConfig
from quantmini.sim.server import SimProcess
from s3_server import S3Server
from test_cli_slurm import BARS, slurm  # noqa: F401 (the single-node SLURM fixture)
from workflow_helpers import run_slurm_bronze, write_config

pytestmark = pytest.mark.skipif(os.environ.get("QUANTMINI_SLURM_TEST") != "1",
                                reason="opt-in: QUANTMINI_SLURM_TEST=1 uv run --group slurm pytest ... "
                                       "(needs slurm-wlm, munge, root)")

TICKERS, SEED, START, END = 6, 13, "2024-01-02", "2024-02-29"


def test_slurm_s3_profile_builds_bronze_in_the_bucket(slurm, tmp_path):  # noqa: F811
    write_config(tmp_path, start=START, end=END, data_root="lake")
    truth = Market(MarketConfig(seed=SEED, n_tickers=TICKERS, start=START, end=END)).daily_raw().select(BARS)
    with S3Server(bucket="lake") as s3, SimProcess(tickers=TICKERS, seed=SEED, start=START, end=END) as sim:
        env = {k: v for k, v in os.environ.items() if k not in ("MASSIVE_API_KEY", "POLYGON_API_KEY")}
        env |= s3.env | {"QUANTMINI_API_URL": sim.url, "QUANTMINI_STORAGE": "s3://lake/slurm"}
        proc = run_slurm_bronze(tmp_path, "slurm-s3", env)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
        objects = s3.objects("slurm")
    bronze = pl.concat([pl.read_parquet(io.BytesIO(v)) for k, v in sorted(objects.items())
                        if k.startswith("lake/bronze/stocks_daily/")]).sort("ticker", "date")
    assert bronze.equals(truth.cast(bronze.schema).sort("ticker", "date"))
    assert not (tmp_path / "lake" / "bronze").exists()  # the lake is in the bucket only
    logs = [p.as_posix() for p in (tmp_path / ".snakemake" / "slurm_logs").rglob("*.log")]
    assert any("bronze_stocks_daily" in p for p in logs), logs
