"""quantmini.qlib_processors against Qlib's own processors on the same frames (real pyqlib 0.9.7).

Each fast path must give what Qlib's processor gives: same index, columns, dtypes and NaN pattern,
values bit-identical (CSZScoreNorm: within 1e-6, it sums in another order), the same fitted
parameters, and it must not write into its input. The frames hold the edge cases: an all-NaN column,
a constant column, heavy ties, negative zeros and infinities, a datetime with one instrument, a
datetime whose labels are all NaN.
"""

from __future__ import annotations

import contextlib
import copy
from unittest import mock

import numpy as np
import pandas as pd
import pytest
from qlib.data.dataset import processor as qp
from quantmini import qlib_processors as fp

DAYS, INSTRUMENTS = 60, 40


def frame(seed: int = 0, days: int = DAYS, dtype=np.float32) -> pd.DataFrame:
    """(datetime, instrument) sorted by datetime, one instrument on the first day, ("feature", F0..F7)
    and ("label", LABEL0)."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2024-01-02", periods=days)
    keys = [(dates[0], "I000")] + [(d, f"I{i:03d}") for d in dates[1:] for i in range(INSTRUMENTS)
                                    if rng.random() > 0.1]
    index = pd.MultiIndex.from_tuples(keys, names=["datetime", "instrument"])
    n = len(index)
    f = {
        "F0": rng.standard_normal(n) * 3 + 1,
        "F1": np.round(rng.standard_normal(n), 1),  # heavy ties
        "F2": np.full(n, np.nan),  # all NaN
        "F3": np.full(n, 2.5),  # constant
        "F4": rng.lognormal(size=n) * 1e-3,
        "F5": np.where(rng.random(n) < 0.3, np.nan, rng.standard_normal(n) * 1e4),
        "F6": rng.choice([-0.0, 0.0, 1.0, -np.inf, np.inf, -2.0], size=n),
        "F7": rng.integers(0, 3, n).astype(float),  # few distinct values
    }
    label = np.round(rng.standard_normal(n) * 0.02, 3)  # ties within a day
    label[rng.random(n) < 0.15] = np.nan
    label[index.get_level_values("datetime") == dates[5]] = np.nan  # a day without labels
    data = np.column_stack([*f.values(), label]).astype(dtype)
    columns = pd.MultiIndex.from_tuples([("feature", k) for k in f] + [("label", "LABEL0")])
    return pd.DataFrame(data, index=index, columns=columns)


def qlib_result(proc, df: pd.DataFrame) -> pd.DataFrame:
    proc.fit(df)
    return proc(df.copy())


def assert_same(ours: pd.DataFrame, ref: pd.DataFrame, rtol: float = 0.0) -> None:
    assert ours.index.equals(ref.index)
    assert ours.columns.equals(ref.columns)
    assert list(ours.dtypes) == list(ref.dtypes)
    a, b = ours.to_numpy(np.float64), ref.to_numpy(np.float64)
    assert (np.isnan(a) == np.isnan(b)).all()
    if rtol == 0:
        assert np.array_equal(a, b, equal_nan=True), np.nanmax(np.abs(a - b))
    else:
        ok = ~np.isnan(b)
        with np.errstate(invalid="ignore"):
            close = (a[ok] == b[ok]) | (np.abs(a[ok] - b[ok]) <= rtol * np.maximum(1, np.abs(b[ok])))
        assert close.all(), np.nanmax(np.abs(a - b))


def check(make_proc, df: pd.DataFrame, rtol: float = 0.0, infer: bool = True, fast: bool = True) -> None:
    """`fast`: the processor must take the fast path (Qlib's fit and __call__ are not called)."""
    ours_proc, ref_proc = make_proc(), make_proc()
    before = df.copy()
    with contextlib.ExitStack() as stack:
        if fast:
            for name in ("fit", "__call__"):
                stack.enter_context(mock.patch.object(type(ours_proc), name, side_effect=AssertionError(name)))
        ours = fp.run(df, [ours_proc], with_fit=True, check_for_infer=infer)
    ref = qlib_result(ref_proc, before.copy())
    assert_same(ours, ref, rtol)
    assert_same(df, before)  # the input is not written
    for attr in ("mean_train", "std_train", "min_val", "max_val"):
        if hasattr(ref_proc, attr):
            a, b = getattr(ours_proc, attr), getattr(ref_proc, attr)
            assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True), attr
    # applied again without fitting (as a loaded handler would): the same frame
    assert_same(fp.run(df, [ours_proc], with_fit=False, check_for_infer=infer), ref_proc(before.copy()), rtol)


FIT = dict(fit_start_time="2024-01-02", fit_end_time="2024-02-23")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("clip", [True, False])
@pytest.mark.parametrize("kernel", [True, False])
def test_robust_zscore_norm(dtype, clip, kernel, monkeypatch):
    monkeypatch.setattr(fp, "_use_kernel", lambda x: kernel and x.dtype == np.float32)
    check(lambda: qp.RobustZScoreNorm(fields_group="feature", clip_outlier=clip, **FIT), frame(1, dtype=dtype))


def test_robust_zscore_norm_small_fit_and_no_group():
    """Under 600 fitted rows numpy's nanmedian takes another path; fields_group None takes every column."""
    check(lambda: qp.RobustZScoreNorm(fit_start_time="2024-01-02", fit_end_time="2024-01-10"), frame(2))
    check(lambda: qp.RobustZScoreNorm(fit_start_time=None, fit_end_time=None), frame(3))


def test_zscore_and_minmax_norm():
    check(lambda: qp.ZScoreNorm(fields_group="feature", **FIT), frame(4))
    check(lambda: qp.MinMaxNorm(fields_group="feature", **FIT), frame(5))


@pytest.mark.parametrize("kwargs", [{"fields_group": "feature"}, {}, {"fields_group": "feature", "fill_value": -1.5}])
def test_fillna(kwargs):
    check(lambda: qp.Fillna(**kwargs), frame(6))


def test_fillna_value_the_frame_cannot_hold_is_qlibs():
    check(lambda: qp.Fillna(fields_group="feature", fill_value=0.1), frame(7), fast=False)


def test_dropna():
    check(lambda: qp.DropnaLabel(), frame(8), infer=False)
    check(lambda: qp.DropnaProcessor(fields_group="feature"), frame(9))  # F2 is all NaN: every row goes


@pytest.mark.parametrize("group", ["label", "feature"])
def test_cs_rank_norm(group):
    check(lambda: qp.CSRankNorm(fields_group=group), frame(10))


@pytest.mark.parametrize("method", ["zscore", "robust"])
def test_cs_zscore_norm(method):
    check(lambda: qp.CSZScoreNorm(fields_group="feature", method=method), frame(11), rtol=1e-6)
    check(lambda: qp.CSZScoreNorm(fields_group="label", method=method), frame(11), rtol=1e-6)


def test_the_example_chain_and_a_processor_without_fast_path():
    """RobustZScoreNorm, Fillna, then Qlib's TanhProcess (no fast path: Qlib's object), DropnaLabel,
    CSRankNorm: the chain equals Qlib's, processor by processor as DataHandlerLP runs it."""
    df = frame(12)
    procs = [qp.RobustZScoreNorm(fields_group="feature", **FIT), qp.Fillna(fields_group="feature"),
             qp.TanhProcess(), qp.DropnaLabel(), qp.CSRankNorm(fields_group="label")]
    ref_procs = copy.deepcopy(procs)
    ref = df.copy()
    for p in ref_procs:
        p.fit(ref)
        ref = p(ref)
    before = df.copy()
    assert_same(fp.run(df, procs, with_fit=True, check_for_infer=False), ref)
    assert_same(df, before)
    with pytest.raises(TypeError):
        fp.run(df, [qp.DropnaLabel()], with_fit=True, check_for_infer=True)


def test_subclass_runs_as_qlib_object():
    class Shifted(qp.Fillna):
        def __call__(self, df):
            return super().__call__(df) + 1

    check(lambda: Shifted(fields_group="feature"), frame(13), fast=False)


@pytest.mark.parametrize("kernel", [True, False])
def test_nanmedian_columns_equals_numpy(kernel, monkeypatch):
    """With the radix select (numba) and with np.median per column."""
    monkeypatch.setattr(fp, "_use_kernel", lambda x: kernel)
    rng = np.random.default_rng(14)
    cols = [rng.standard_normal(1001), rng.standard_normal(1000), np.round(rng.standard_normal(5000), 2),
            np.full(700, 3.0), np.r_[np.full(700, -0.0), np.full(700, 0.0)], rng.choice([-np.inf, np.inf, 1.0], 900),
            np.r_[rng.standard_normal(650), np.full(400, np.nan)], np.full(800, np.nan),
            rng.lognormal(size=3000) * 1e-30, -rng.lognormal(size=2000) * 1e30]
    for c in cols:
        x = c.astype(np.float32)[None, :]
        with np.errstate(all="ignore"), pytest.warns(RuntimeWarning) if np.isnan(x).all() else _nothing():
            want = np.nanmedian(x.T, axis=0)
        got = fp.nanmedian_columns(x)
        assert got.dtype == want.dtype and np.array_equal(got, want, equal_nan=True), (got, want)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def test_pct_rank_equals_pandas_groupby_rank():
    rng = np.random.default_rng(15)
    g = np.sort(rng.integers(0, 50, 5000))
    x = np.round(rng.standard_normal(5000), 1)
    x[rng.random(5000) < 0.2] = np.nan
    want = pd.Series(x).groupby(g).rank(pct=True).to_numpy()
    assert np.array_equal(fp.pct_rank(x, g), want, equal_nan=True)
