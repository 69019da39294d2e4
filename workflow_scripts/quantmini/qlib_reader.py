"""Read a provider directory with REAL pyqlib, in a fresh subprocess.

pyqlib keeps global state (qlib.init, caches, registered providers), so every query runs in its own
interpreter; tests of the writer, Alpha158 and the gold acceptance compare against this, not our own
reader. Each call imports qlib, which takes seconds, so batch what you need into one call.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

_RUNNER = r"""
import json, pickle, sys
spec = json.loads(sys.argv[1])
import qlib
from qlib.data import D
qlib.init(provider_uri=spec["provider_dir"], region="us", expression_cache=None, dataset_cache=None,
          kernels=spec["kernels"], logging_level=40)
out = {}
freq = spec["freq"]
out["calendar"] = list(D.calendar(freq=freq))
out["spans"] = D.list_instruments(D.instruments(spec["market"]), freq=freq, as_list=False)
if spec["exprs"]:
    inst = spec["instruments"]
    if inst is None:
        inst = D.instruments(spec["market"])
    out["features"] = D.features(inst, spec["exprs"], start_time=spec["start"], end_time=spec["end"], freq=freq)
with open(spec["out"], "wb") as fh:
    pickle.dump(out, fh, protocol=pickle.HIGHEST_PROTOCOL)
"""


@dataclasses.dataclass
class PyqlibView:
    """What pyqlib sees: D.calendar(), D.list_instruments(..., as_list=False), D.features(...)."""

    calendar: list[pd.Timestamp]
    spans: dict[str, list[tuple[pd.Timestamp, pd.Timestamp]]]
    features: pd.DataFrame | None


def pyqlib_read(
    provider_dir: str | os.PathLike,
    exprs: list[str] | None = None,
    instruments: str | list[str] = "all",
    start: str | None = None,
    end: str | None = None,
    freq: str = "day",
    kernels: int = 1,
    timeout: float = 600,
) -> PyqlibView:
    """Run pyqlib on `provider_dir` in a subprocess and return calendar, instrument spans and features.

    `instruments`: a market name ("all") or a list of symbols.
    """
    market = instruments if isinstance(instruments, str) else "all"
    inst = None if isinstance(instruments, str) else list(instruments)
    with tempfile.TemporaryDirectory(prefix="pyqlib_read_") as tmp:
        out = Path(tmp) / "out.pkl"
        spec = {
            "provider_dir": str(Path(provider_dir).resolve()),
            "exprs": list(exprs or []),
            "market": market,
            "instruments": inst,
            "start": start,
            "end": end,
            "freq": freq,
            "kernels": kernels,
            "out": str(out),
        }
        proc = subprocess.run(
            [sys.executable, "-c", _RUNNER, json.dumps(spec)],
            cwd=tmp,  # qlib may create mlruns/ etc. in the working directory
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
            raise RuntimeError(f"pyqlib failed on {provider_dir} (exit {proc.returncode}):\n" + "\n".join(tail))
        with open(out, "rb") as fh:
            res = pickle.load(fh)
    spans = {k: [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in v] for k, v in res["spans"].items()}
    return PyqlibView(calendar=[pd.Timestamp(t) for t in res["calendar"]], spans=spans, features=res.get("features"))


def pyqlib_features(
    provider_dir: str | os.PathLike,
    exprs: list[str],
    instruments: str | list[str] = "all",
    start: str | None = None,
    end: str | None = None,
    freq: str = "day",
) -> pd.DataFrame:
    """D.features(instruments, exprs, start, end, freq) as computed by real pyqlib (MultiIndex instrument, datetime)."""
    return pyqlib_read(provider_dir, exprs, instruments, start, end, freq).features
