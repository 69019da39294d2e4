"""Opt-in (QUANTMINI_SLURM_TEST=1): profiles/slurm for real, on a single-node SLURM on this machine.

Needs Debian's slurm-wlm and munge (`apt-get install slurm-wlm munge`) and root; if no controller
answers, the fixture writes a one-node slurm.conf and starts munged, slurmctld and slurmd itself.
Every job goes through sbatch (the executor plugin), and bronze must equal the simulator's truth.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from quantmini.sim.market import Market, MarketConfig
from quantmini.sim.server import SimProcess
from workflow_helpers import read_bronze, run_slurm_bronze, write_config

pytestmark = pytest.mark.skipif(os.environ.get("QUANTMINI_SLURM_TEST") != "1",
                                reason="opt-in: QUANTMINI_SLURM_TEST=1 uv run --group slurm pytest ... "
                                       "(needs slurm-wlm, munge, root)")

TICKERS, SEED, START, END = 6, 13, "2024-01-02", "2024-02-29"
BARS = ["ticker", "date", "open", "high", "low", "close", "volume", "vwap", "transactions"]
CONF = """ClusterName=quantmini
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
SlurmctldLogFile=/var/log/slurmctld.log
SlurmdLogFile=/var/log/slurmd.log
NodeName={host} CPUs={cpus} RealMemory=8000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def _idle() -> bool:
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return any(s in out for s in ("idle", "mixed", "allocated"))


@pytest.fixture(scope="module")
def slurm():
    if _idle():
        return
    if not shutil.which("slurmctld") or os.geteuid() != 0:
        pytest.fail("no SLURM controller answers and slurm-wlm is not installed (or not root)")
    conf = Path("/etc/slurm/slurm.conf")
    if not conf.exists():
        conf.write_text(CONF.format(host=socket.gethostname(), cpus=os.cpu_count()))
    for d in ("/var/spool/slurmctld", "/var/spool/slurmd", "/run/munge"):
        Path(d).mkdir(parents=True, exist_ok=True)
    shutil.chown("/run/munge", "munge", "munge")
    subprocess.run(["runuser", "-u", "munge", "--", "/usr/sbin/munged"], check=False)
    subprocess.run(["slurmctld"], check=True)
    subprocess.run(["slurmd"], check=True)
    deadline = time.monotonic() + 60
    while not _idle():
        if time.monotonic() > deadline:
            pytest.fail("single-node SLURM did not come up (see /var/log/slurmctld.log, slurmd.log)")
        time.sleep(1)


def test_slurm_profile_builds_bronze_equal_to_truth(slurm, tmp_path):
    write_config(tmp_path, start=START, end=END)
    truth = Market(MarketConfig(seed=SEED, n_tickers=TICKERS, start=START, end=END)).daily_raw().select(BARS)
    env = {k: v for k, v in os.environ.items() if k not in ("MASSIVE_API_KEY", "POLYGON_API_KEY")}
    with SimProcess(tickers=TICKERS, seed=SEED, start=START, end=END) as sim:  # single node: loopback works
        env["QUANTMINI_API_URL"] = sim.url
        proc = run_slurm_bronze(tmp_path, "slurm", env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    assert read_bronze(tmp_path / "lake").equals(truth.cast(read_bronze(tmp_path / "lake").schema).sort("ticker", "date"))
    logs = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / ".snakemake" / "slurm_logs").rglob("*.log"))
    assert any("landing_stocks_daily" in p for p in logs) and any("bronze_stocks_daily" in p for p in logs), logs
    assert "sbatch" in proc.stderr or "SLURM" in proc.stderr
