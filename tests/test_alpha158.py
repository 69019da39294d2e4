"""Alpha158 in polars/numpy against real pyqlib 0.9.7 on the same provider directory.

The reference is pyqlib itself: bars are published with quantmini.qlib_writer, pyqlib computes the 158
expressions (and the label) in a subprocess, and every value must agree to float32 precision with NaN
exactly where pyqlib has NaN. The data is built to hit the awkward cases: short histories, gaps inside
a span, constant prices, zero volume, ties, tiny and huge price scales, late starts and early ends.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import polars as pl
import pytest

from quantmini import alpha158, rolling
from quantmini.calendar import sessions
from quantmini.qlib_reader import pyqlib_features
from quantmini.qlib_writer import publish

CAL = sessions("2023-01-03", "2024-03-28")  # 312 sessions
RTOL = 1e-5


def _walk(rng: np.random.Generator, n: int, price: float, vol: float = 0.02, tick: float | None = None) -> dict:
    close = price * np.exp(np.cumsum(rng.normal(0, vol, n)))
    op = close * np.exp(rng.normal(0, vol / 2, n))
    high = np.maximum(op, close) * np.exp(np.abs(rng.normal(0, vol / 2, n)))
    low = np.minimum(op, close) * np.exp(-np.abs(rng.normal(0, vol / 2, n)))
    if tick:  # rounded prices: ties in Rank, IdxMax, Quantile
        op, high, low, close = (np.maximum(np.round(x / tick) * tick, tick) for x in (op, high, low, close))
        high = np.maximum.reduce([high, op, close])
        low = np.minimum.reduce([low, op, close])
    volume = np.round(np.exp(rng.normal(12, 1, n)))
    return {"open": op, "high": high, "low": low, "close": close, "volume": volume, "vwap": (high + low + close) / 3}


def awkward_bars(cal: list[date] = CAL, seed: int = 7) -> pl.DataFrame:
    """Calendar-aligned bars (a session without a bar is a row of nulls) for ~20 symbols."""
    rng = np.random.default_rng(seed)
    n = len(cal)
    frames = []

    def add(sym: str, lo: int, hi: int, vals: dict) -> None:
        frames.append(pl.DataFrame({"symbol": sym, "date": cal[lo:hi], **{k: v[: hi - lo] for k, v in vals.items()}}))

    for k, (price, tick) in enumerate([(35.0, None), (12.0, 0.01), (150.0, None), (2900.0, None), (0.06, 0.0001)]):
        add(f"RW{k}", 0, n, _walk(rng, n, price, tick=tick))
    # zero volume scattered and in a run (Log($volume/Ref($volume,1)+1) meets 0/0 and x/0)
    z = _walk(rng, n, 40.0)
    z["volume"][rng.choice(n, 25, replace=False)] = 0.0
    z["volume"][100:108] = 0.0
    add("ZVOL", 0, n, z)
    # constant prices for 80 sessions (std exactly 0: Rsquare/Corr masks), with constant then zero volume
    f = _walk(rng, n, 20.0, tick=0.01)
    for col in ("open", "high", "low", "close", "vwap"):
        f[col][120:200] = 20.0
    f["volume"][120:160] = 5000.0
    f["volume"][160:200] = 0.0
    add("FLAT", 0, n, f)
    # nearly flat: a pinned price with rare one-cent moves (small but real variance)
    p = np.full(n, 101.25)
    moves = rng.choice(n, 30, replace=False)
    p[moves] += rng.choice([-0.01, 0.01], 30)
    add("PIN", 0, n, {"open": p, "high": p + 0.01, "low": p - 0.01, "close": p, "volume": rng.integers(1, 50, n) * 100.0,
                      "vwap": p})
    # gaps inside the span: single rows, a run of three, one row with only vwap/volume missing
    g = _walk(rng, n, 60.0, tick=0.01)
    for col in g:
        g[col][[30, 31, 32, 90, 200]] = np.nan
    g["vwap"][150] = np.nan
    g["volume"][151] = np.nan
    add("GAPS", 0, n, g)
    # a gap on the second row, and a gap right after an extreme
    g2 = _walk(rng, n, 8.0)
    for col in g2:
        g2[col][[1, 61, 62]] = np.nan
    g2["high"][60] = g2["high"].max() * 2
    add("GAP2", 0, n, g2)
    # short histories, late starts, early ends
    add("SHRT", n - 25, n, _walk(rng, 25, 9.0))
    add("TINY", n - 3, n, _walk(rng, 3, 9.0))
    add("ONE", n - 1, n, _walk(rng, 1, 9.0))
    add("LATE", 150, 240, _walk(rng, 90, 70.0, tick=0.05))
    add("EARLY", 0, 59, _walk(rng, 59, 5.0, tick=0.01))
    add("IPO61", n - 61, n, _walk(rng, 61, 44.0))
    return pl.concat(frames).with_columns(pl.col("date").cast(pl.Date))


def pyqlib_reference(tmp_path, bars: pl.DataFrame, cal: list[date]) -> pd.DataFrame:
    """158 features + label computed by real pyqlib from a provider directory of `bars`."""
    publish(tmp_path / "qlib", bars, cal, list(alpha158.FIELDS))
    exprs = [alpha158.QLIB_EXPRESSIONS[n] for n in alpha158.FEATURE_NAMES] + [alpha158.LABEL_EXPRESSION]
    ref = pyqlib_features(tmp_path / "qlib", exprs)
    ref.columns = [*alpha158.FEATURE_NAMES, alpha158.LABEL_NAME]
    return ref


def as_pandas(ours: pl.DataFrame) -> pd.DataFrame:
    pdf = ours.with_columns(pl.col("symbol").str.to_uppercase(), pl.col("date").cast(pl.Datetime("ns"))).to_pandas()
    return pdf.rename(columns={"symbol": "instrument", "date": "datetime"}).set_index(["instrument", "datetime"])


def mismatches(ours: pd.DataFrame, ref: pd.DataFrame, names: list[str], rtol: float = RTOL) -> dict[str, str]:
    """{feature: description} of every column where ours and pyqlib differ (value or NaN position)."""
    ours = ours.reindex(ref.index)
    bad = {}
    for name in names:
        a = ours[name].to_numpy(np.float64)
        b = ref[name].to_numpy(np.float64)
        na, nb = np.isnan(a), np.isnan(b)
        both = ~na & ~nb
        with np.errstate(invalid="ignore"):
            err = np.abs(a - b) / np.maximum(1.0, np.abs(b))
        err = np.where(both & np.isfinite(b), err, np.where(both & (a == b), 0.0, np.inf * both))
        off = (na != nb) | (err > rtol)
        if off.any():
            k = int(np.argmax(off))
            bad[name] = (f"{int(off.sum())} rows, e.g. {ref.index[k]}: ours {a[k]!r} pyqlib {b[k]!r}"
                         f" (nan-mismatch {int((na != nb).sum())}, max rel err {np.nanmax(np.where(both, err, 0)):.2e})")
    return bad
