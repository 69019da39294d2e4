"""Qlib's standard data processors applied with numpy on a frame's float block, same results as Qlib's.

Why: after `QuantminiAlpha158DL` loads the features, most of the time left in preparing a dataset was
Qlib's own processing (pandas per-column assignments, `np.nanmedian` through `apply_along_axis`, a
groupby rank, full-frame copies, `.loc` slicing; bench/README.md). `run` applies a processor list
the way `DataHandlerLP._run_proc_l` does, with a fast path for the exact types below, and Qlib's own
processor object for anything else (subclasses included: they may change the semantics):

- `RobustZScoreNorm`: fit by exact medians (a radix select over float32 bit patterns, the same order
  statistics `np.nanmedian` picks; `np.nanmedian` itself under 600 rows, where numpy uses another
  path), then x - median, / scaled MAD, clip, in the same float ops: bit-identical.
- `ZScoreNorm`, `MinMaxNorm`: Qlib's own `np.nanmean`/`nanstd`/`nanmin`/`nanmax` on the same memory
  layout, without pandas' slicing copies: bit-identical.
- `Fillna`, `DropnaLabel`/`DropnaProcessor`: a NaN mask on the block: bit-identical.
- `CSRankNorm`: pandas' `groupby("datetime").rank(pct=True)` (average ties, NaN kept, divided by the
  group's non-NaN count) by one lexsort, then - 0.5, * 3.46 in float64 as Qlib: bit-identical,
  and the column becomes float64 as in Qlib.
- `CSZScoreNorm` (zscore and robust): per datetime with numpy in float64; within 1e-6 of Qlib's pandas
  (which sums float32 in another order), not bit-identical.

A fast path never writes into its input (it writes a new block, or one it made itself earlier in the
list), so the copies `DataHandlerLP.process_data` makes to protect its inputs are not needed. A frame
that is not one float block, or a datetime level that is not first and sorted, takes Qlib's path.
tests/test_qlib_processors.py compares every fast path with Qlib's processor on the same frames.
"""

from __future__ import annotations

import functools
import numbers
import sys

import numpy as np
import pandas as pd
from qlib.constant import EPS
from qlib.data.dataset import processor as qp
from qlib.log import TimeInspector

from quantmini.datatypes.stocks_daily.alpha158 import anonymous_empty

SMALL_FIT = 600  # np.nanmedian takes a masked-array path below this many rows
NUMBA_FIT = 20_000_000  # values from which the radix select repays importing numba (~0.6 s CPU)


# ------------------------------------------------------------------ the working frame
class Block:
    """A frame as one float array `values` (columns x rows, C order), its index and columns; `owned`
    when no frame outside this module shares `values`, so a fast path may write it in place."""

    __slots__ = ("values", "index", "columns", "owned")

    def __init__(self, values: np.ndarray, index: pd.Index, columns: pd.Index, owned: bool):
        self.values, self.index, self.columns, self.owned = values, index, columns, owned

    @classmethod
    def of(cls, df: pd.DataFrame) -> Block | None:
        dtypes = set(df.dtypes)
        if len(dtypes) != 1 or not np.issubdtype(next(iter(dtypes)), np.floating):
            return None
        values = df.to_numpy().T
        if values.flags.c_contiguous:
            return cls(values, df.index, df.columns, owned=False)
        return cls(_copy(values), df.index, df.columns, owned=True)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.values.T, index=self.index, columns=self.columns, copy=False)

    def writable(self) -> np.ndarray:
        if not self.owned:
            self.values = _copy(self.values)
            self.owned = True
        return self.values


def _copy(a: np.ndarray) -> np.ndarray:
    out = anonymous_empty(a.shape, a.dtype)
    np.copyto(out, a)
    return out


def _is_run(pos: np.ndarray) -> bool:
    return len(pos) > 0 and bool((np.diff(pos) == 1).all())


def _positions(columns: pd.Index, group) -> np.ndarray | None:
    """Row positions in the block of get_group_columns(df, group); None when the group is not a label."""
    if group is None:
        return np.arange(len(columns))
    try:
        loc = columns.get_loc(group)
    except (KeyError, TypeError):
        return None
    if isinstance(loc, slice):
        return np.arange(len(columns))[loc]
    if isinstance(loc, np.ndarray) and loc.dtype == bool:
        return np.flatnonzero(loc)
    return np.atleast_1d(np.asarray(loc))


def rows_between(index: pd.Index, start, end) -> slice | None:
    """The rows fetch_df_by_index(df, slice(start, end), "datetime") selects, when datetime is the first,
    sorted level (then they are one run of rows); None otherwise."""
    if not isinstance(index, pd.MultiIndex) or index.names[0] != "datetime":
        return None
    level, codes = index.levels[0], index.codes[0]
    if not level.is_monotonic_increasing or (len(codes) and (codes[0] < 0 or (np.diff(codes) < 0).any())):
        return None
    if start is None and end is None:
        return slice(0, len(index))
    lv = level.slice_indexer(start, end)
    return slice(int(np.searchsorted(codes, lv.start, "left")), int(np.searchsorted(codes, lv.stop, "left")))


# ------------------------------------------------------------------ exact medians
@functools.cache
def _kernels():
    import numba

    return numba.njit(nogil=True, cache=True)(_middle_pair)


def _middle_pair(x, u):
    """(x_(k), x_(k+1), n) for k = (n-1)//2 over the n non-NaN values of float32 `x` (`u` its bits;
    x_(k+1) = x_(k) when n is odd): radix select on order-preserving keys of the bits, a histogram
    of the keys' 16 high bits, then of the 16 low bits inside the one or two buckets holding those
    ranks, which fixes the keys, hence the values."""
    h = np.zeros(65536, np.int32)
    n = 0
    for i in range(x.size):
        if x[i] == x[i]:
            r = np.int64(u[i])
            h[(r ^ (0x80000000 | ((r >> 31) * 0x7FFFFFFF))) >> 16] += 1
            n += 1
    if n == 0:
        return np.nan, np.nan, 0
    rank = (n - 1) // 2
    b, c = 0, 0
    while c + h[b] <= rank:
        c += h[b]
        b += 1
    rank -= c
    b2 = b
    if n % 2 == 0 and rank + 1 == h[b]:  # x_(k+1) is the smallest value of the next bucket
        b2 = b + 1
        while h[b2] == 0:
            b2 += 1
    lo = np.zeros(65536, np.int32)
    hi = np.zeros(65536, np.int32)
    for i in range(x.size):
        if x[i] == x[i]:
            r = np.int64(u[i])
            key = r ^ (0x80000000 | ((r >> 31) * 0x7FFFFFFF))
            top = key >> 16
            if top == b:
                lo[key & 0xFFFF] += 1
            elif top == b2:
                hi[key & 0xFFFF] += 1
    keys = np.empty(2, np.uint32)
    low, c = 0, 0
    while c + lo[low] <= rank:
        c += lo[low]
        low += 1
    keys[0] = (b << 16) | low
    if n % 2 == 1 or rank + 1 < c + lo[low]:
        keys[1] = keys[0]
    elif b2 == b:  # the next non-empty low bucket of b
        low += 1
        while lo[low] == 0:
            low += 1
        keys[1] = (b << 16) | low
    else:
        low = 0
        while hi[low] == 0:
            low += 1
        keys[1] = (b2 << 16) | low
    for j in range(2):  # key -> bits: the inverse of the order-preserving map
        k = np.int64(keys[j])
        keys[j] = k ^ 0x80000000 if k >= 0x80000000 else k ^ 0xFFFFFFFF
    v = keys.view(np.float32)
    return v[0], v[1], n


def _use_kernel(x: np.ndarray) -> bool:
    return x.dtype == np.float32 and (x.size >= NUMBA_FIT or "numba" in sys.modules)


def nanmedian_columns(x: np.ndarray, center: np.ndarray | None = None) -> np.ndarray:
    """np.nanmedian(X, axis=0) for X = x.T (x: columns x rows, each row contiguous, >= SMALL_FIT
    columns), or of X = np.abs(x.T - center) when `center` is given: the same values.

    np.nanmedian drops each column's NaNs and takes np.median: the middle order statistic, or the mean
    of the two middle ones. The order statistics are found here without sorting; their mean is
    numpy's own. Without numba loaded and under NUMBA_FIT values: np.median of each column's values."""
    out = np.empty(x.shape[0], dtype=x.dtype)
    buf = np.empty(x.shape[1], dtype=x.dtype) if center is not None else None
    kern = _kernels() if _use_kernel(x) else None
    for j in range(x.shape[0]):
        col = x[j]
        if center is not None:
            np.subtract(col, center[j], out=buf)
            col = np.abs(buf, out=buf)
        if kern is not None:
            lo, hi, n = kern(col, col.view(np.uint32))
            out[j] = np.nan if n == 0 else lo if n % 2 else np.mean(np.array([lo, hi], dtype=x.dtype))
        else:
            v = col[~np.isnan(col)]
            out[j] = np.median(v) if len(v) else np.nan
    return out


def _nanmedians(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Qlib's np.nanmedian(X, axis=0) and np.nanmedian(np.abs(X - median), axis=0), X = x.T."""
    with np.errstate(all="ignore"):
        if x.shape[1] < SMALL_FIT:
            with _quiet():
                X = x.T
                mean = np.nanmedian(X, axis=0)
                return mean, np.nanmedian(np.abs(X - mean), axis=0)
        mean = nanmedian_columns(x)
        return mean, nanmedian_columns(x, mean)


def _quiet():
    import warnings

    w = warnings.catch_warnings()
    warnings.simplefilter("ignore", RuntimeWarning)
    return w


# ------------------------------------------------------------------ the processors
def _fit_window(proc, b: Block) -> tuple[slice, np.ndarray] | None:
    """The rows of the processor's fit period and the positions of its field group, or None when the
    fast path cannot tell them (Qlib's own processor runs then)."""
    rows = rows_between(b.index, proc.fit_start_time, proc.fit_end_time)
    pos = _positions(b.columns, proc.fields_group)
    return None if rows is None or pos is None else (rows, pos)


def _robust_zscore(proc: qp.RobustZScoreNorm, b: Block, with_fit: bool) -> Block | None:
    if with_fit:
        if (fit := _fit_window(proc, b)) is None:
            return None
        rows, pos = fit
        x = b.values[pos[0]:pos[-1] + 1, rows] if _is_run(pos) else np.ascontiguousarray(b.values[pos, rows])
        mean, std = _nanmedians(x)
        std += EPS
        std *= 1.4826
        proc.cols, proc.mean_train, proc.std_train = b.columns[pos], mean, std
    pos = b.columns.get_indexer(proc.cols)
    if (pos < 0).any() or proc.mean_train.dtype != b.values.dtype or proc.std_train.dtype != b.values.dtype:
        return None
    src = b.values
    out = src if b.owned else anonymous_empty(src.shape, src.dtype)
    if not b.owned:
        rest = np.setdiff1d(np.arange(len(b.columns)), pos)
        out[rest] = src[rest]
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for i, j in enumerate(pos):
            np.subtract(src[j], proc.mean_train[i], out=out[j])
            np.divide(out[j], proc.std_train[i], out=out[j])
            if proc.clip_outlier:
                np.clip(out[j], -3, 3, out=out[j])
    return Block(out, b.index, b.columns, owned=True)


def _zscore(proc: qp.ZScoreNorm, b: Block, with_fit: bool) -> Block | None:
    if with_fit:
        if (fit := _fit_window(proc, b)) is None:
            return None
        rows, pos = fit
        X = np.ascontiguousarray(b.values[pos, rows]).T  # the layout of Qlib's df[cols].values here
        with _quiet():
            proc.mean_train = np.nanmean(X, axis=0)
            proc.std_train = np.nanstd(X, axis=0)
        proc.ignore = proc.std_train == 0
        proc.std_train[proc.ignore] = 1
        proc.mean_train[proc.ignore] = 0
        proc.cols = b.columns[pos]
    return _affine(b, proc.cols, proc.mean_train, proc.std_train)


def _minmax(proc: qp.MinMaxNorm, b: Block, with_fit: bool) -> Block | None:
    if with_fit:
        if (fit := _fit_window(proc, b)) is None:
            return None
        rows, pos = fit
        X = np.ascontiguousarray(b.values[pos, rows]).T
        with _quiet():
            proc.min_val = np.nanmin(X, axis=0)
            proc.max_val = np.nanmax(X, axis=0)
        proc.ignore = proc.min_val == proc.max_val
        proc.min_val[proc.ignore] = 0
        proc.max_val[proc.ignore] = 1
        proc.cols = b.columns[pos]
    return _affine(b, proc.cols, proc.min_val, proc.max_val - proc.min_val)


def _affine(b: Block, cols, sub: np.ndarray, div: np.ndarray) -> Block | None:
    """(x - sub) / div on `cols`, the dtype numpy gives (Qlib assigns the result back into the frame)."""
    pos = b.columns.get_indexer(cols)
    if (pos < 0).any() or np.result_type(b.values, sub, div) != b.values.dtype:
        return None
    src = b.values
    out = src if b.owned else _copy(src)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for i, j in enumerate(pos):
            np.subtract(src[j], sub[i], out=out[j])
            np.divide(out[j], div[i], out=out[j])
    return Block(out, b.index, b.columns, owned=True)


def _fillna(proc: qp.Fillna, b: Block, with_fit: bool) -> Block | None:
    v = proc.fill_value
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        return None
    if not np.isnan(v) and b.values.dtype.type(v) != v:  # pandas would upcast the frame
        return None
    pos = _positions(b.columns, proc.fields_group)
    if pos is None:
        return None
    out = b.writable()
    for j in pos:
        np.copyto(out[j], v, where=np.isnan(out[j]))
    return b


def _dropna(proc: qp.DropnaProcessor, b: Block, with_fit: bool) -> Block | None:
    pos = _positions(b.columns, proc.fields_group)
    if pos is None:
        return None
    keep = np.ones(len(b.index), dtype=bool)
    for j in pos:
        keep &= ~np.isnan(b.values[j])
    if keep.all():
        return b
    out = anonymous_empty((b.values.shape[0], int(keep.sum())), b.values.dtype)
    np.compress(keep, b.values, axis=1, out=out)
    return Block(out, b.index[keep], b.columns, owned=True)


def _datetime_codes(index: pd.Index) -> np.ndarray | None:
    if not isinstance(index, pd.MultiIndex) or "datetime" not in index.names:
        return None
    return np.asarray(index.codes[index.names.index("datetime")], dtype=np.int64)


def pct_rank(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """pandas' Series.groupby(g).rank(pct=True) (method "average", NaN kept) as float64; g < 0 is no group."""
    out = np.full(len(x), np.nan)
    ok = ~np.isnan(x) & (g >= 0)
    idx = np.flatnonzero(ok)
    if not len(idx):
        return out
    v, gg = x[idx], g[idx]
    order = np.lexsort((v, gg))
    v, gg = v[order], gg[order]
    n = len(v)
    new_group = np.r_[True, gg[1:] != gg[:-1]]
    new_run = new_group | np.r_[True, v[1:] != v[:-1]]
    pos = np.arange(1, n + 1)
    group_start = np.maximum.accumulate(np.where(new_group, pos, 0))
    rank = pos - group_start + 1  # 1-based within the group
    run_id = np.cumsum(new_run) - 1
    first = rank[new_run]
    last = np.r_[rank[np.flatnonzero(new_run)[1:] - 1], rank[-1]] if n else rank
    avg = ((first + last) * (last - first + 1)).astype(np.float64) / 2  # sum of the run's ranks
    avg = avg / (last - first + 1)
    gid = np.cumsum(new_group) - 1
    size = np.bincount(gid)
    out[idx[order]] = avg[run_id] / size[gid]
    return out


def _cs_rank(proc: qp.CSRankNorm, df: pd.DataFrame) -> pd.DataFrame | None:
    g = _datetime_codes(df.index)
    cols = qp.get_group_columns(df, proc.fields_group)
    if g is None or not all(np.issubdtype(t, np.floating) for t in df[cols].dtypes):
        return None
    t = {}
    for c in cols:
        r = pct_rank(df[c].to_numpy(dtype=np.float64), g)
        r -= 0.5
        r *= 3.46
        t[c] = r
    df = df.copy(deep=False)
    df[cols] = pd.DataFrame(t, index=df.index, columns=cols, copy=False)
    return df


def _cs_zscore(proc: qp.CSZScoreNorm, df: pd.DataFrame) -> pd.DataFrame | None:
    g = _datetime_codes(df.index)
    groups = proc.fields_group if isinstance(proc.fields_group, list) else [proc.fields_group]
    if g is None or (g < 0).any() or proc.zscore_func not in (qp.zscore, qp.robust_zscore):
        return None
    df = df.copy(deep=False)
    for grp in groups:
        cols = qp.get_group_columns(df, grp)
        if not all(np.issubdtype(t, np.floating) for t in df[cols].dtypes):
            return None
        new = {}
        for c in cols:
            src = df[c].to_numpy()
            x = src.astype(np.float64)
            with np.errstate(all="ignore"):
                if proc.zscore_func is qp.zscore:  # (x - mean) / std (ddof 1), NaN skipped
                    ok = ~np.isnan(x)
                    n = np.bincount(g[ok], minlength=g.max() + 1 if len(g) else 0)
                    d = x - (np.bincount(g[ok], x[ok], minlength=len(n)) / n)[g]
                    var = np.bincount(g[ok], d[ok] ** 2, minlength=len(n)) / (n - 1)
                    res = d / np.sqrt(var)[g]
                else:  # robust: (x - median) / MAD / 1.4826, clipped to [-3, 3]
                    res = np.empty_like(x)
                    order = np.argsort(g, kind="stable")
                    bounds = np.flatnonzero(np.r_[True, np.diff(g[order]) != 0, True])
                    for a, b in zip(bounds[:-1], bounds[1:]):
                        rows = order[a:b]
                        with _quiet():
                            d = x[rows] - np.nanmedian(x[rows])
                            res[rows] = np.clip(d / np.nanmedian(np.abs(d)) / 1.4826, -3, 3)
            new[c] = res.astype(src.dtype)
        df[cols] = pd.DataFrame(new, index=df.index, columns=cols, copy=False)
    return df


BLOCK_PROCESSORS = {qp.RobustZScoreNorm: _robust_zscore, qp.ZScoreNorm: _zscore, qp.MinMaxNorm: _minmax,
                    qp.Fillna: _fillna, qp.DropnaProcessor: _dropna, qp.DropnaLabel: _dropna}
FRAME_PROCESSORS = {qp.CSRankNorm: _cs_rank, qp.CSZScoreNorm: _cs_zscore}


def run(df: pd.DataFrame, procs: list, with_fit: bool, check_for_infer: bool) -> pd.DataFrame:
    """DataHandlerLP._run_proc_l over `procs` without writing into `df` (see the module docstring)."""
    b: Block | None = None
    owned = False  # df is a frame this call made (a fallback processor may write it)
    for proc in procs:
        if check_for_infer and not proc.is_for_infer():
            raise TypeError("Only processors usable for inference can be used in `infer_processors` ")
        with TimeInspector.logt(f"{proc.__class__.__name__}"):
            fast = BLOCK_PROCESSORS.get(type(proc))
            if fast is not None:
                b = b or Block.of(df)
                got = fast(proc, b, with_fit) if b is not None else None
                if got is not None:
                    b = got
                    continue
            if b is not None:
                df, owned, b = b.frame(), b.owned, None
            fast = FRAME_PROCESSORS.get(type(proc))
            got = fast(proc, df) if fast is not None else None
            if got is not None:
                df = got
                continue
            if with_fit:
                proc.fit(df)
            if not owned and not proc.readonly():
                df, owned = df.copy(), True
            df = proc(df)
    return b.frame() if b is not None else df
