"""Every landing job's failure is the same one line: a vendor that refuses every path (403
NOT_AUTHORIZED, a plan without the endpoint) stops each data type's landing with a `quantmini:` line
naming the refusal, never a Python traceback (the error path of a landing script runs only when the
vendor fails, so nothing else exercises it)."""

from __future__ import annotations

import pytest
from workflow_helpers import run_workflow, write_config

from quantmini.catalog import CATALOG
from quantmini.sim.server import SimProcess

START, END = "2024-01-02", "2024-01-31"


def one_type_per_family() -> list[str]:
    """A type of each family (each family has its own landing script). The options families are left
    out: their underlyings are checked against the vendor's listing before any job, so a vendor refusing
    every path stops them there (tests/test_adversarial_config.py)."""
    first: dict[str, str] = {}
    for name, t in CATALOG.items():
        if not t.requires:
            first.setdefault(t.family, name)
    return sorted(first.values())


@pytest.mark.parametrize("data_type", one_type_per_family())
def test_refused_landing_is_one_line_without_a_traceback(tmp_path, data_type):
    work = tmp_path / "work"
    work.mkdir()
    with SimProcess(tickers=3, seed=3, start=START, end="2024-02-29", faults="403=1.0") as sim:
        cfg = dict(start=START, end=END, data_types=[data_type], retries=0)
        write_config(work, **cfg)
        proc = run_workflow(work, sim.url, "bronze", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-2000:]
    ours = [line for line in proc.stderr.splitlines() if line.startswith("quantmini:")]
    assert ours and all("403" in line for line in ours), out[-3000:]
    assert "Traceback (most recent call last)" not in out and "NameError" not in out, out[-3000:]
