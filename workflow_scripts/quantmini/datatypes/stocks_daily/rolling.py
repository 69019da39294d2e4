"""Vectorised rolling-window kernels with pyqlib 0.9.7 / pandas 3.1 semantics, for a run of symbols.

A chunk holds whole symbols back to back ("compact" rows, symbol-major, in session order); results are
(len(WINDOWS), rows) stacks, one value per window size and row, or are written straight into such
blocks of the caller's float32 feature buffer. Three kinds of kernel, none with a Python loop over
rows, windows or symbols:
- numpy over a padded copy in which each symbol is preceded by PAD (= the longest window) empty rows
  (Rank, Max/Min/IdxMax/IdxMin): a window ending at a real row then never reaches the previous
  symbol, and the empty rows act exactly like the rows before a series starts (pandas' min_periods=1
  warm-up, the NaN-initialised deques of Qlib's Cython kernels);
- fused numba passes over each symbol's rows (Mean/Std/Slope/Rsquare/Resi, Corr, Sum, the volume
  features, Quantile): prefix sums in a small per-symbol scratch array, every window read off them;
- pandas' own std recurrence, replayed (numba) for the symbols where its rounding residue matters.

Semantics reproduced (pandas rolling as called by ``qlib.data.ops``, Qlib's own Cython kernels):
- pandas inputs are float64 with +-inf turned into NaN; NaN is skipped; a window without a valid value
  gives NaN. Std (ddof=1) is what pandas returns: on a window of equal values that is the rounding
  residue of its online recurrence (or 0 after one of its recomputes), which Qlib amplifies (division
  by 1e-12 in VSTD/WVMA, the 2e-5 masks of Rsquare and Corr); symbols with such a window (a run of
  equal values as long as the smallest window) take the general path with that recurrence replayed.
- Rank: average rank of the last value among the window's valid values, divided by their count.
- IdxMax/IdxMin: 1-based position in the (partial) window; a window holding a NaN gives the position of
  its first NaN (numpy's argmax quirk, reached through ``rolling.apply(raw=True)``).
- Quantile: linear interpolation between order statistics of the valid values.
- Slope/Rsquare/Resi: OLS on x = 1..N, a missing value keeping its slot.
- Corr: pairwise-complete Pearson correlation, NaN where either side's std is ~0.

Window sums come from prefix sums that restart at every symbol and every BLOCK rows, so rounding depends
on the local magnitude of one symbol's data, not on everything summed before, and a window of zeros
sums to exactly 0; price-like series are centred on their first valid value (nothing from the future)
so that nearly flat windows keep their digits.
"""

from __future__ import annotations

import dataclasses
import functools

import numba
import numpy as np

WINDOWS = (5, 10, 20, 30, 60)
PAD = 60  # empty rows before each symbol in the padded copy: the longest window
BLOCK = 128  # prefix sums restart every BLOCK rows (> the longest window)
STD_ZERO = 2e-5  # Qlib: np.isclose(rolling std, 0, atol=2e-5) -> NaN (Rsquare, Corr)
W_COL = np.asarray(WINDOWS, dtype=np.float64)[:, None]  # window sizes as a column, for broadcasting
_WINDOWS = np.asarray(WINDOWS, dtype=np.int64)
WINDOWS_T = WINDOWS  # a tuple numba can read as a constant


def ufunc(signature: str):
    """A fused element-wise formula: one pass, numpy broadcasting and ``out=``, IEEE arithmetic."""
    return numba.vectorize([signature], nopython=True, cache=True)


def scalar(f):
    """A scalar piece of the numba kernels, inlined into each caller (numba IR inlining): the same
    operations, in the same order, wherever it is used (a formula can also be a ufunc, see _std)."""
    return numba.njit(inline="always", error_model="numpy")(f)


@dataclasses.dataclass(eq=False)
class Layout:
    """Rows of a chunk of whole symbols: compact positions, padded positions, row within symbol."""

    n: int  # compact rows
    lengths: np.ndarray  # int64 rows per symbol
    row0: np.ndarray  # int64 first compact row of each symbol
    tl: np.ndarray  # int32 per compact row: index of the row within its symbol
    padded_length: int
    pos: np.ndarray  # int64 per compact row: its position in the padded copy

    @classmethod
    def for_lengths(cls, lengths: np.ndarray) -> Layout:
        lengths = np.asarray(lengths, dtype=np.int64)
        n = int(lengths.sum())
        row0 = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
        tl = (np.arange(n, dtype=np.int64) - np.repeat(row0, lengths)).astype(np.int32)
        pos = np.arange(n, dtype=np.int64) + PAD * np.repeat(np.arange(1, len(lengths) + 1), lengths)
        return cls(n=n, lengths=lengths, row0=row0, tl=tl, padded_length=n + PAD * len(lengths), pos=pos)

    def padded(self, x: np.ndarray, fill=np.nan) -> np.ndarray:
        out = np.full(self.padded_length, fill, dtype=x.dtype)
        out[self.pos] = x
        return out

    def ref(self, x: np.ndarray, d: int) -> np.ndarray:
        """Ref(x, d), d >= 1: the value d rows earlier in the same symbol, NaN before its start."""
        out = np.empty_like(x)
        out[:d] = np.nan
        out[d:] = x[:-d]
        out[self.tl < d] = np.nan
        return out

    @functools.cached_property
    def full(self) -> np.ndarray:
        """Rows in each window when no value is missing: min(w, row within symbol + 1)."""
        return np.minimum(self.tl + 1.0, W_COL)

    @functools.cached_property
    def full_after_first(self) -> np.ndarray:
        """Rows in each window when only each symbol's first row is missing (a series built with Ref)."""
        return np.minimum(self.tl + 0.0, W_COL)

    def counts(self, valid: np.ndarray) -> np.ndarray:
        """Number of valid rows in each window (exact)."""
        if valid.all():
            return self.full
        if np.array_equal(valid, self.tl > 0):
            return self.full_after_first
        return self.window_sums(valid.astype(np.float32))[0]

    def window_sums(self, *series: np.ndarray, squares: bool = False, weighted: bool = False) -> np.ndarray:
        """Sums over each window of each series (NaN and inf count as 0) and, on request, of the first
        series' squares and of i * the first series (i: row within the symbol); a
        (len(series) + squares + weighted, windows, n) float64 stack."""
        xs = series[0][None, :] if len(series) == 1 else np.stack(series)
        out = np.empty((len(series) + squares + weighted, len(WINDOWS), self.n))
        _window_sums(xs, self.row0, self.lengths, _WINDOWS, squares, weighted, out)
        return out


    def subset(self, symbols: np.ndarray) -> tuple[Layout, np.ndarray]:
        """The layout of the symbols flagged in `symbols` (bool per symbol) and their compact rows."""
        lengths = self.lengths[symbols]
        rows = np.repeat(self.row0[symbols] - np.concatenate(([0], np.cumsum(lengths)[:-1])), lengths)
        return Layout.for_lengths(lengths), rows + np.arange(int(lengths.sum()))

    def equal_run_symbols(self, x: np.ndarray) -> np.ndarray:
        """bool per symbol: a run of equal valid values long enough to fill the smallest window."""
        flags = np.empty(len(self.lengths), dtype=bool)
        _equal_run_symbols(x, self.row0, self.lengths, min(WINDOWS), flags)
        return flags


@numba.njit(nogil=True, cache=True)
def _window_sums(xs, row0, lengths, windows, squares, weighted, out):
    """Window sums from prefix sums that restart at each symbol's first row and every BLOCK rows.

    P[i]: sum from the start of i's block to i. A window of w rows ending at i sums to P[i] - P[i-w]
    when it starts in i's block, to P[i] + (P[b-1] - P[i-w]) when it starts in the previous block (b:
    first row of i's block) and to P[i] at the symbol's start. Rounding is relative to at most two
    blocks of one symbol, and a window of zeros gives exactly 0. Quantities: each row of xs
    (non-finite as 0), then xs[0]^2 if `squares`, then i*xs[0] if `weighted`; out: (quantities,
    windows, n). The loops over rows have no data-dependent branch, so they vectorise.
    """
    ns = xs.shape[0]
    m = lengths.max() if lengths.shape[0] else 0
    p = np.empty(m)
    for c in range(out.shape[0]):
        src = c if c < ns else 0
        kind = 0 if c < ns else (1 if squares and c == ns else 2)
        for k in range(row0.shape[0]):
            s0 = row0[k]
            n = lengths[k]
            acc = 0.0
            for i in range(n):
                if i % BLOCK == 0:
                    acc = 0.0
                v = np.float64(xs[src, s0 + i])
                if not np.isfinite(v):  # pandas' sums skip NaN and (turned to NaN) inf
                    v = 0.0
                if kind == 1:
                    v = v * v
                elif kind == 2:
                    v = i * v
                acc += v
                p[i] = acc
            for wi in range(windows.shape[0]):
                w = windows[wi]
                o = out[c, wi, s0 : s0 + n]
                for i in range(min(w, n)):
                    o[i] = p[i]
                for b0 in range(0, n, BLOCK):
                    b1 = min(b0 + BLOCK, n)
                    split = min(max(b0 + w, w), b1)  # rows before `split` start in the previous block
                    if b0 > 0:
                        total_prev = p[b0 - 1]
                        for i in range(b0, split):
                            o[i] = p[i] + (total_prev - p[i - w])
                    for i in range(max(split, w), b1):
                        o[i] = p[i] - p[i - w]


@numba.njit(nogil=True, cache=True)
def _equal_run_symbols(x, row0, lengths, min_run, out):
    """out[k]: symbol k has `min_run` consecutive rows whose valid values (NaN skipped) are all equal."""
    for k in range(row0.shape[0]):
        s0 = row0[k]
        out[k] = False
        last = np.nan
        start = 0  # first row of the current run of equal valid values
        for i in range(lengths[k]):
            v = x[s0 + i]
            if v == v:
                if v != last:
                    if last == last:
                        start = i
                    last = v
            if i - start + 1 >= min_run:
                out[k] = True
                break


def finite_or_nan(x: np.ndarray) -> np.ndarray:
    """float64 copy with +-inf as NaN: what pandas' rolling feeds its C kernels."""
    x = x.astype(np.float64)
    x[np.isinf(x)] = np.nan
    return x


@dataclasses.dataclass
class Moments:
    """Count, sum and sum of squares of a series' valid values over each window, as (windows, n) stacks.

    The sums are of ``xc = x - ref`` (NaN where missing): for price-like series a per-symbol reference
    (its first valid value: nothing from the future) keeps the squares small while a price hardly
    moves, so variances and covariances of nearly flat windows keep their digits; ref = 0 keeps a
    window of zeros exact.
    With ``weighted`` also the sum of i*xc (i: row within the symbol), for the regression.
    """

    valid: np.ndarray
    xc: np.ndarray
    ref: np.ndarray | float
    n: np.ndarray
    s1: np.ndarray
    s2: np.ndarray
    si: np.ndarray | None = None

    @classmethod
    def of(cls, lay: Layout, x: np.ndarray, center: bool = False, weighted: bool = False) -> Moments:
        valid = ~np.isnan(x)
        ref: np.ndarray | float = 0.0
        if center and lay.n:
            first = np.minimum.reduceat(np.where(valid, np.arange(lay.n), lay.n), lay.row0)
            ref = np.repeat(np.where(first < lay.n, x[np.minimum(first, lay.n - 1)], 0.0), lay.lengths)
            xc = x - ref
        else:
            xc = x
        sums = lay.window_sums(xc, squares=True, weighted=weighted)
        return cls(valid=valid, xc=xc, ref=ref, n=lay.counts(valid), s1=sums[0], s2=sums[1],
                   si=sums[2] if weighted else None)


def _std_formula(n, s1, s2):
    """ddof=1 std from count, sum and sum of squares; NaN below 2 values, 0 if rounding went negative."""
    if n < 2.0:
        return np.nan
    v = (s2 - s1 * s1 / n) / (n - 1.0)
    return np.sqrt(v) if v > 0.0 else 0.0


_std_from_sums = ufunc("float64(float64, float64, float64)")(_std_formula)
_std = scalar(_std_formula)


# --------------------------------------------------------------------------- std, as pandas computes it

_INV_COND_TOL = np.finfo(np.float64).eps * 1e3  # pandas: an update leaving < ~3 digits is unstable


@scalar
def _welford(val, nobs, mean, ssq, comp, remove):
    """pandas' ``add_var`` (or, with `remove`, ``remove_var``) once nobs is updated: val into (or out
    of) the running mean and sum of squared deviations, with the Kahan compensation `comp` of that
    direction; returns (mean, ssq, comp)."""
    prev_mean = mean - comp
    y = val - comp
    d = y - mean
    comp = d + mean - y
    if remove:
        mean = mean - d / nobs
        ssq = ssq - (val - prev_mean) * (val - mean)
    else:
        mean = mean + d / nobs
        ssq = ssq + (val - prev_mean) * (val - mean)
    return mean, ssq, comp


@numba.njit(nogil=True, cache=True)
def _pandas_rolling_std(x, row0, lengths, windows, out):
    """pandas 3.1 ``roll_var`` (min_periods=1, ddof=1) + ``zsqrt``, per symbol, operation for operation.

    Welford's online update with Kahan-compensated means (separate compensations for adds and
    removes), removes before adds, and a recompute of the whole window after an update that lost
    all but ~3 significant digits. Replaying the exact recurrence matters: on a window of equal
    values pandas can leave rounding residue (std 0.0104 over twenty zeros that follow volumes of
    5,000) or, after a recompute, exactly 0; Qlib divides that by 1e-12 (VSTD, WVMA) or compares it
    with 2e-5 (the Rsquare and Corr masks). x: compact float64 (NaN missing); out: (len(windows), n).
    """
    tol = _INV_COND_TOL
    for k in range(row0.shape[0]):
        s0 = row0[k]
        for wi in range(windows.shape[0]):
            window = windows[wi]
            nobs = mean = ssq = comp_add = comp_rem = 0.0
            unstable = False
            for i in range(lengths[k]):
                t = s0 + i
                if i > 0:
                    if i >= window:  # the value leaving the window
                        val = x[t - window]
                        if val == val:
                            prev_m2 = ssq
                            nobs -= 1.0
                            if nobs != 0.0:
                                mean, ssq, comp_rem = _welford(val, nobs, mean, ssq, comp_rem, True)
                                if prev_m2 * tol > ssq:
                                    unstable = True
                            else:
                                mean = 0.0
                                ssq = 0.0
                                unstable = False
                    val = x[t]  # the value entering it
                    if val == val:
                        prev_m2 = ssq
                        nobs += 1.0
                        mean, ssq, comp_add = _welford(val, nobs, mean, ssq, comp_add, False)
                        if prev_m2 * tol > ssq:
                            unstable = True
                if i == 0 or unstable:  # (re)compute the window from scratch
                    nobs = mean = ssq = comp_add = comp_rem = 0.0
                    for j in range(max(0, i - window + 1), i + 1):
                        val = x[s0 + j]
                        if val == val:
                            nobs += 1.0
                            mean, ssq, comp_add = _welford(val, nobs, mean, ssq, comp_add, False)
                    unstable = False
                if nobs > 1.0:
                    var = ssq / (nobs - 1.0)
                    out[wi, t] = np.sqrt(var) if var >= 0.0 else 0.0
                else:
                    out[wi, t] = np.nan


def rolling_std(lay: Layout, x: np.ndarray, mom: Moments) -> np.ndarray:
    """What pandas rolling(w, min_periods=1).std() gives, per window, for a compact float64 series.

    Away from windows whose valid values are all equal, pandas' result is the true std to ~1e-15 and
    the window sums give it. On such a window pandas returns the rounding residue of its recurrence
    (or 0 after one of its recomputes), which Qlib then amplifies; so symbols with a run of equal
    values long enough to fill a window get pandas' own recurrence replayed.
    """
    out = _std_from_sums(mom.n, mom.s1, mom.s2)
    replay = lay.equal_run_symbols(x)
    if replay.any():
        _pandas_rolling_std(x, lay.row0[replay], lay.lengths[replay], _WINDOWS, out)
    return out


def pandas_std(lay: Layout, x: np.ndarray) -> np.ndarray:
    """pandas' rolling std replayed for every symbol (the reference for rolling_std)."""
    out = np.empty((len(WINDOWS), lay.n))
    _pandas_rolling_std(x, lay.row0, lay.lengths, _WINDOWS, out)
    return out


# ------------------------------------------------------------------------------- max/min and arg max


def _level(w: int) -> int:
    return 1 << (w.bit_length() - 1)


@ufunc("float64(uint8, int32, float64)")
def _position(age, tl, w):
    """1-based position in the (partial) window of w rows of the value `age` rows before its end."""
    return min(w, tl + 1.0) - age


def idx_extreme(lay: Layout, x: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Qlib Max/Min and IdxMax/IdxMin (1-based, first occurrence, NaN quirk) over every window.

    Sparse table on the padded copy: level k holds, per row i, the extreme of rows [i-k+1, i] and
    its age (rows before i, one byte); a window of w rows is the union of two overlapping level-k
    blocks (k = the largest power of two <= w), the earlier block winning ties. Ages combine with
    wrapping uint8 arithmetic, exact because every result lies in 0..63. x: compact float32 (NaN
    missing). Returns (extreme, position), each (windows, n) float64.
    """
    bad = ~np.isfinite(x)  # pandas turns inf into NaN before rolling.apply
    v = (x if kind == "max" else -x).astype(np.float32)
    v[bad] = -np.inf
    v = lay.padded(v, fill=-np.inf)
    vals, ages = {1: v}, {1: np.zeros(len(v), dtype=np.uint8)}
    left = np.empty(len(v), dtype=bool)
    k = 1
    while 2 * k <= _level(max(WINDOWS)):
        a, b = vals[k][:-k], vals[k][k:]  # block ending k rows earlier, block ending here
        nv = np.empty_like(v)
        nv[:k] = -np.inf  # (rows inside the first symbol's padding)
        np.maximum(a, b, out=nv[k:])
        na = np.empty_like(ages[1])
        na[:k] = 0
        np.greater_equal(a, b, out=left[k:])
        older = ages[k][:-k] + np.uint8(k)
        older -= ages[k][k:]
        older *= left[k:]
        np.add(ages[k][k:], older, out=na[k:])  # branch-free select: the earlier block wins ties
        vals[2 * k], ages[2 * k] = nv, na
        k *= 2
    pos = lay.pos
    ext = np.empty((len(WINDOWS), lay.n))
    arg = np.empty((len(WINDOWS), lay.n))
    for i, w in enumerate(WINDOWS):
        k = _level(w)
        s = w - k  # the earlier block ends s rows before the later one
        va, vb, aa, ab = vals[k][pos - s], vals[k][pos], ages[k][pos - s], ages[k][pos]
        age = ab + (va >= vb) * (aa + np.uint8(s) - ab)
        np.maximum(va, vb, out=ext[i], casting="unsafe")
        _position(age, lay.tl, float(w), out=arg[i])
    if bad.any():
        # numpy's argmax returns the first NaN of a window holding one; no valid value -> NaN
        padded_bad = lay.padded(bad, fill=False)
        cand = np.where(padded_bad, np.arange(len(v)), len(v))
        next_bad = np.minimum.accumulate(cand[::-1])[::-1]
        n_valid = lay.counts(~bad)
        for i, w in enumerate(WINDOWS):
            start = pos - np.minimum(w - 1, lay.tl)
            nb = next_bad[start]
            hit = nb <= pos
            arg[i][hit] = (nb - start + 1)[hit]
            none = n_valid[i] == 0
            arg[i][none] = np.nan
            ext[i][none] = np.nan
    if kind == "min":
        np.negative(ext, out=ext)
    return ext, arg


# -------------------------------------------------------------------------------------------- rank


@ufunc("float64(float64, float64, float64, float32)")
def _pct_rank(less, same, n, last):
    """Average rank of the last value among n valid ones, as a fraction; NaN if it is missing."""
    if last != last:
        return np.nan
    return (less + 1.0 + 0.5 * same) / n


def window_rank(lay: Layout, x: np.ndarray, n_valid: np.ndarray) -> np.ndarray:
    """pandas rolling(w, min_periods=1).rank(pct=True): average rank of the last value / valid count.

    One pass over the window offsets (not over windows): counts of earlier values below and equal to
    the last one accumulate, and are read off when the offset reaches w - 1.
    """
    xc = x.astype(np.float32)
    xc[~np.isfinite(xc)] = np.nan  # comparisons with NaN are False: missing values are not counted
    xp = lay.padded(xc)
    n = len(xp)
    less = np.zeros(n, dtype=np.uint8)
    same = np.zeros(n, dtype=np.uint8)
    tmp = np.empty(n, dtype=bool)
    out = np.empty((len(WINDOWS), lay.n))
    for o in range(1, max(WINDOWS)):
        np.less(xp[:-o], xp[o:], out=tmp[o:])
        less[o:] += tmp[o:]
        np.equal(xp[:-o], xp[o:], out=tmp[o:])
        same[o:] += tmp[o:]
        if o + 1 in WINDOWS:
            i = WINDOWS.index(o + 1)
            _pct_rank(less[lay.pos], same[lay.pos], n_valid[i], xc, out=out[i])
    return out


# ---------------------------------------------------------------------------------------- quantile


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _rolling_quantiles(x, row0, lengths, windows, qs, divisor, out):
    """pandas rolling(w, min_periods=1).quantile(q, 'linear') for each w and q, NaN skipped.

    Keeps each window's valid values sorted: the places of the value leaving and of the one entering
    are found by counting the values below them (a vectorisable scan of at most 60 values) and the
    values in between shift by one. Writes quantile / divisor into out: (len(qs), len(windows), n).
    """
    nq = qs.shape[0]
    buf = np.empty(windows.max() + 1, dtype=x.dtype)
    nan = x.dtype.type(np.nan)  # of x's type: comparisons stay in float32
    for k in range(row0.shape[0]):
        s0 = row0[k]
        for wi in range(windows.shape[0]):
            window = windows[wi]
            n = 0
            for i in range(lengths[k]):
                t = s0 + i
                old = x[t - window] if i >= window else nan
                v = x[t]
                if old == old:
                    po = 0  # place of (one copy of) old
                    for j in range(n):
                        po += buf[j] < old
                    if v == v:
                        pv = 0  # place of v once old is gone
                        for j in range(n):
                            pv += buf[j] < v
                        if old < v:
                            pv -= 1
                        if pv > po:
                            for j in range(po, pv):
                                buf[j] = buf[j + 1]
                        else:
                            for j in range(po, pv, -1):
                                buf[j] = buf[j - 1]
                        buf[pv] = v
                    else:
                        for j in range(po, n - 1):
                            buf[j] = buf[j + 1]
                        n -= 1
                elif v == v:
                    pv = 0
                    for j in range(n):
                        pv += buf[j] < v
                    for j in range(n, pv, -1):
                        buf[j] = buf[j - 1]
                    buf[pv] = v
                    n += 1
                for q in range(nq):
                    if n == 0:
                        out[q, wi, t] = np.nan
                    else:
                        f = qs[q] * (n - 1)
                        idx = int(f)
                        lo_v = np.float64(buf[idx])
                        if f != idx:
                            lo_v = lo_v + (np.float64(buf[idx + 1]) - lo_v) * (f - idx)
                        out[q, wi, t] = lo_v / divisor[t]


def window_quantiles(lay: Layout, x: np.ndarray, qs: tuple[float, ...], divisor: np.ndarray | None = None,
                     out: np.ndarray | None = None) -> np.ndarray:
    """(len(qs), windows, n): rolling linear quantiles of a compact float32 series (inf as NaN, like
    pandas; the values are kept as float32, which orders them as their float64 images), divided by
    `divisor` if given, into `out` (float64 by default, or e.g. float32 rows of the feature buffer)."""
    out = np.empty((len(qs), len(WINDOWS), lay.n)) if out is None else out
    divisor = np.ones(lay.n) if divisor is None else divisor
    x = np.where(np.isfinite(x), x, np.nan).astype(np.float32)
    _rolling_quantiles(x, lay.row0, lay.lengths, _WINDOWS, np.asarray(qs, dtype=np.float64), divisor, out)
    return out


# -------------------------------------------------------------------------------------- regression


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _regression_out(n, si, sy, syy, sx, sxx, tl, last, std, divisor, beta, rsqr, resi):
    """Slope/divisor, Rsquare (NaN where std is ~0) and Resi/divisor as float32, per window and row.

    Slot of row i in the window ending at row t: i - t + w (the newest is w). So the sum of slot*y is
    si - (t - w)*sy with si the window's sum of i*y. Then Qlib's formulas: slope = (N*Sxy - Sx*Sy) /
    (N*Sxx - Sx^2), intercept = Sy/N - slope*Sx/N, Rsquare = r^2, Resi = y_t - (slope*w + intercept).
    """
    for k in range(n.shape[0]):
        w = float(WINDOWS_T[k])
        for t in range(n.shape[1]):
            b0 = float(tl[t]) - w
            b, rsqr[k, t], res = _ols(n[k, t], sx[k, t], sxx[k, t], sy[k, t], syy[k, t], si[k, t] - b0 * sy[k, t],
                                      std[k, t], w, last[t])
            beta[k, t] = b / divisor[t]
            resi[k, t] = res / divisor[t]


@scalar
def _ols(n, sx, sxx, sy, syy, sxy, std, w, last):
    """Qlib's regression of y on the slots x from window sums: (slope, Rsquare (NaN where the std of y
    is ~0), residual of the newest value y_t - (slope*w + intercept))."""
    num = n * sxy - sx * sy
    den = n * sxx - sx * sx
    b = num / den
    if std <= STD_ZERO:
        r2 = np.nan
    else:
        r = num / np.sqrt(den * (n * syy - sy * sy))
        r2 = r * r
    a = sy / n - b * (sx / n)
    return b, r2, last - (b * w + a)


@ufunc("float64(float64, float64)")
def _slot_sum(n, w):
    """Sum of the slots w-n+1 .. w (the valid slots when none is missing)."""
    lo = w - n
    return n * (w + lo + 1.0) / 2.0


@ufunc("float64(float64, float64)")
def _slot_sum_sq(n, w):
    lo = w - n
    return (w * (w + 1.0) * (2.0 * w + 1.0) - lo * (lo + 1.0) * (2.0 * lo + 1.0)) / 6.0


def window_regression(lay: Layout, mom: Moments, std: np.ndarray, divisor: np.ndarray,
                      beta: np.ndarray, rsqr: np.ndarray, resi: np.ndarray) -> None:
    """Qlib Slope/divisor, Rsquare (NaN where `std` is ~0) and Resi/divisor on x = 1..w of the series
    behind `mom` (built with weighted=True), a missing value keeping its slot; written into three
    (windows, n) float32 blocks.

    Sums of slot and slot^2 over the valid slots are closed-form when no value is missing (the valid
    slots are then the highest min(w, t+1)); otherwise they come, exactly, from window sums of the
    validity, i*validity and i^2*validity. Centring the series shifts the intercept only.
    """
    if mom.valid.all():
        sx = _slot_sum(mom.n, W_COL)
        sxx = _slot_sum_sq(mom.n, W_COL)
    else:
        i = lay.tl.astype(np.float64)
        v = mom.valid.astype(np.float64)
        cnt, si = lay.window_sums(v, weighted=True)
        si2 = lay.window_sums(v * i * i)[0]
        b0 = i - W_COL  # slot = i - b0
        sx = si - b0 * cnt
        sxx = si2 - 2.0 * b0 * si + b0 * b0 * cnt
    _regression_out(mom.n, mom.si, mom.s1, mom.s2, sx, sxx, lay.tl, mom.xc, std, divisor, beta, rsqr, resi)


# ------------------------------------------------------------------------------------- correlation


def _corr_formula(n, sx, sy, sxx, syy, sxy, std_x, std_y):
    """Pearson correlation from window sums; NaN below 2 pairs, for a flat side (variance <= 0) and
    where either side's own std is ~0 (Qlib's mask)."""
    if n < 2.0 or std_x <= STD_ZERO or std_y <= STD_ZERO:
        return np.nan
    vx = n * sxx - sx * sx
    vy = n * syy - sy * sy
    if vx <= 0.0 or vy <= 0.0:
        return np.nan
    return (n * sxy - sx * sy) / np.sqrt(vx * vy)


_corr = ufunc("float64(float64, float64, float64, float64, float64, float64, float64, float64)")(_corr_formula)
_corr_at = scalar(_corr_formula)


def window_corr(lay: Layout, mx: Moments, my: Moments, std_x: np.ndarray, std_y: np.ndarray) -> np.ndarray:
    """Qlib Corr(x, y, w): pandas' pairwise-complete rolling Pearson correlation (inf as NaN), set to
    NaN where either side's own rolling std (std_x, std_y) is ~0.

    mx, my: Moments of x and y; their sums serve the pairs when both sides miss the same rows.
    """
    sxy = lay.window_sums(mx.xc * my.xc)[0]  # NaN (a missing side) counts as 0
    if np.array_equal(mx.valid, my.valid):
        n, sx, sy, sxx, syy = mx.n, mx.s1, my.s1, mx.s2, my.s2
    else:
        pair = mx.valid & my.valid
        n = lay.counts(pair)
        sx, sxx = lay.window_sums(np.where(pair, mx.xc, np.nan), squares=True)
        sy, syy = lay.window_sums(np.where(pair, my.xc, np.nan), squares=True)
    return _corr(n, sx, sy, sxx, syy, sxy, std_x, std_y)


# ------------------------------------------------------------------------------------ fused passes
# Corr, the moves, the volume features and the close features each take one pass over a symbol's rows:
# per row up to QUANTITIES values (a count, sums, squares, products; nothing for a missing value) are
# added to running sums that restart every BLOCK rows, which fill one column of a prefix table; then
# every window's sums are read off that table (_window; _wsum one by one where a row needs only some)
# and only each family's formulas differ.

QUANTITIES = 6  # running sums per row in a fused pass
_NOTHING = (0.0,) * QUANTITIES  # what a row adds where its value is missing


@scalar
def _prefix_table(lengths):
    """Scratch for one symbol's prefix table at a time (QUANTITIES x the longest symbol's rows) and the
    running sums to start from (any: _accumulate restarts them at each symbol's first row)."""
    return np.empty((QUANTITIES, lengths.max() if lengths.shape[0] else 0)), _NOTHING


@scalar
def _todo(skip):
    """The symbols a fused pass computes: those not flagged in `skip`."""
    return np.flatnonzero(~skip)


@scalar
def _reference(x, y, s0, n):
    """x and y at the first row where x is valid, in the symbol of n rows starting at s0 (0, 0 if x
    has no valid value): what a series is centred on, nothing from the future."""
    for i in range(n):
        if x[s0 + i] == x[s0 + i]:
            return x[s0 + i], y[s0 + i]
    return 0.0, 0.0


@scalar
def _accumulate(p, i, sums, q):
    """Row i of a prefix table: the running sums (restarted at row 0 and every BLOCK rows, as in
    _window_sums) plus row i's quantities q, stored as column i of p and returned for the next row."""
    if i % BLOCK == 0:
        sums = _NOTHING
    sums = (sums[0] + q[0], sums[1] + q[1], sums[2] + q[2], sums[3] + q[3], sums[4] + q[4], sums[5] + q[5])
    for j in range(QUANTITIES):
        p[j, i] = sums[j]
    return sums


@scalar
def _counted(x):
    """Count, value and square of one value, or nothing where it is missing (NaN)."""
    return (1.0, x, x * x) if x == x else (0.0, 0.0, 0.0)


@scalar
def _wsum(p, i, w):
    """Sum over the window of w rows ending at row i, from block-restarting prefix sums (as in
    _window_sums, with the same rounding)."""
    if i < w:
        return p[i]
    b0 = i - i % BLOCK
    if i - w >= b0:
        return p[i] - p[i - w]
    return p[i] + (p[b0 - 1] - p[i - w])


@scalar
def _window(p, i, w):
    """The QUANTITIES sums over the window of w rows ending at row i, off a prefix table (_wsum each)."""
    return (_wsum(p[0], i, w), _wsum(p[1], i, w), _wsum(p[2], i, w), _wsum(p[3], i, w), _wsum(p[4], i, w),
            _wsum(p[5], i, w))


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _fused_corr(x, y, row0, lengths, windows, skip, out):
    """Qlib Corr(x, y, w) for every window, for the symbols not flagged in `skip`, in one pass: block-
    restarting prefix sums of the pair count, x, y, x^2, y^2 and x*y (x and y centred on their first
    valid value, which Pearson's r ignores), then per window the correlation and each side's std
    for Qlib's ~0 mask. Valid where x and y miss the same rows (pairs = each side's own values) and
    no window holds equal values only (there pandas' std needs replaying). out: (windows, n)."""
    p, sums = _prefix_table(lengths)
    for k in _todo(skip):
        s0, n = row0[k], lengths[k]
        rx, ry = _reference(x, y, s0, n)
        for i in range(n):
            xv, yv = x[s0 + i] - rx, y[s0 + i] - ry
            q = (1.0, xv, yv, xv * xv, yv * yv, xv * yv) if x[s0 + i] == x[s0 + i] else _NOTHING
            sums = _accumulate(p, i, sums, q)
        for wi in range(windows.shape[0]):
            for i in range(n):
                cnt, sx, sy, sxx, syy, sxy = _window(p, i, windows[wi])
                out[wi, s0 + i] = _corr_at(cnt, sx, sy, sxx, syy, sxy, _std(cnt, sx, sxx), _std(cnt, sy, syy))


def corr(lay: Layout, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Qlib Corr(x, y, w) per window: pandas' pairwise-complete rolling Pearson correlation (inf as
    NaN), NaN where either side's own rolling std (as pandas computes it) is ~0.

    x, y: compact float64 (NaN missing, inf already NaN). Symbols whose two sides miss the same rows
    and hold no window of equal values go through one fused pass; the others through the general
    path (each side's Moments, pandas' std where it must be replayed, pairwise sums).
    """
    out = np.empty((len(WINDOWS), lay.n))
    vx, vy = ~np.isnan(x), ~np.isnan(y)
    general = lay.equal_run_symbols(x) | lay.equal_run_symbols(y)
    if lay.n and not np.array_equal(vx, vy):
        general |= np.logical_or.reduceat(vx != vy, lay.row0)
    _fused_corr(x, y, lay.row0, lay.lengths, _WINDOWS, general, out)
    if general.any():
        sub, rows = lay.subset(general)
        xs, ys = x[rows], y[rows]
        mx, my = Moments.of(sub, xs, center=True), Moments.of(sub, ys, center=True)
        out[:, rows] = window_corr(sub, mx, my, rolling_std(sub, xs, mx), rolling_std(sub, ys, my))
    return out


# ------------------------------------------------------------------------------- moves between rows


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _moves(diff, row0, lengths, windows, counts, sump, sumn, sumd, cntp, cntn, cntd):
    """From d = x - Ref(x, 1) (float32, NaN where missing), per window, in one pass over block-restarting
    prefix sums (this module's scheme, so a window of zeros sums to exactly 0):
    SUMP = Sum(Greater(d, 0)) / (Sum(Abs(d)) + 1e-12), SUMN likewise with the losses (= moves - gains:
    equal to Sum(Greater(-d, 0)) to ~1e-16 of the total move, exactly 0 when no move is down), SUMD;
    NaN where the window holds no d (pandas' Sum gives NaN there). With `counts` also CNTP/CNTN/CNTD:
    Mean(x > Ref(x, 1)) etc. over all of the window's rows (a comparison with NaN counts as False)."""
    p, sums = _prefix_table(lengths)
    for k in range(row0.shape[0]):
        s0, n = row0[k], lengths[k]
        for i in range(n):
            d = np.float64(diff[s0 + i])
            q = (1.0, max(d, 0.0), abs(d), np.float64(d > 0.0), np.float64(d < 0.0), 0.0) if d == d else _NOTHING
            sums = _accumulate(p, i, sums, q)  # (the sixth quantity is unused)
        for wi in range(windows.shape[0]):
            w = windows[wi]
            for i in range(n):  # only the sums a row needs are read
                t = s0 + i
                if _wsum(p[0], i, w) == 0.0:
                    sump[wi, t] = sumn[wi, t] = sumd[wi, t] = np.nan
                else:
                    g = _wsum(p[1], i, w)
                    mv = _wsum(p[2], i, w)
                    s = mv - g
                    sump[wi, t] = g / (mv + 1e-12)
                    sumn[wi, t] = s / (mv + 1e-12)
                    sumd[wi, t] = (g - s) / (mv + 1e-12)
                if counts:
                    rows = float(min(w, i + 1))
                    up = _wsum(p[3], i, w) / rows
                    down = _wsum(p[4], i, w) / rows
                    cntp[wi, t] = up
                    cntn[wi, t] = down
                    cntd[wi, t] = up - down


def moves(lay: Layout, diff: np.ndarray, sump, sumn, sumd, cntp=None, cntn=None, cntd=None) -> None:
    """Qlib SUMP/SUMN/SUMD (and, given their outputs, CNTP/CNTN/CNTD) of d = x - Ref(x, 1) for every
    window, written into (windows, n) blocks (float32 rows of the feature buffer, or float64)."""
    counts = cntp is not None
    _moves(diff, lay.row0, lay.lengths, _WINDOWS, counts, sump, sumn, sumd,
           cntp if counts else sump, cntn if counts else sumn, cntd if counts else sumd)


# ------------------------------------------------------------------------- volume level and spread


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _volume_features(v, wv, v_e, row0, lengths, windows, skip, vma, vstd, wvma):
    """For the symbols not flagged in `skip`, per window, in one pass over block-restarting prefix
    sums: VMA = Mean(v)/(v+1e-12), VSTD = Std(v)/(v+1e-12), WVMA = Std(wv)/(Mean(wv)+1e-12); the
    means and ddof=1 stds from count, sum and sum of squares (what pandas gives away from windows of
    equal values; those symbols are flagged). v_e: $volume+1e-12 as float32, like pyqlib."""
    p, sums = _prefix_table(lengths)
    for k in _todo(skip):
        s0, n = row0[k], lengths[k]
        for i in range(n):
            sums = _accumulate(p, i, sums, _counted(v[s0 + i]) + _counted(wv[s0 + i]))
        for wi in range(windows.shape[0]):
            for i in range(n):
                t = s0 + i
                cnt, s1, s2, cnt_w, s1_w, s2_w = _window(p, i, windows[wi])
                vma[wi, t] = s1 / cnt / v_e[t]
                vstd[wi, t] = _std(cnt, s1, s2) / v_e[t]
                wvma[wi, t] = _std(cnt_w, s1_w, s2_w) / (s1_w / cnt_w + 1e-12)


def volume_features(lay: Layout, v: np.ndarray, wv: np.ndarray, v_e: np.ndarray, vma, vstd, wvma) -> None:
    """Qlib VMA, VSTD and WVMA for every window into (windows, n) blocks. v, wv: compact float64 (inf
    as NaN) volume and Abs($close/Ref($close,1)-1)*$volume; v_e: float32 $volume+1e-12. Symbols with a
    window of equal values get pandas' std replayed (the general path)."""
    general = lay.equal_run_symbols(v) | lay.equal_run_symbols(wv)
    _volume_features(v, wv, v_e, lay.row0, lay.lengths, _WINDOWS, general, vma, vstd, wvma)
    if general.any():
        sub, rows = lay.subset(general)
        ve = v_e[rows].astype(np.float64)
        with np.errstate(all="ignore"):
            mv = Moments.of(sub, v[rows])
            vma[:, rows] = (mv.s1 / mv.n) / ve
            vstd[:, rows] = rolling_std(sub, v[rows], mv) / ve
            mw = Moments.of(sub, wv[rows])
            wvma[:, rows] = rolling_std(sub, wv[rows], mw) / (mw.s1 / mw.n + 1e-12)


# ------------------------------------------------------------------------- level, spread and trend


@numba.njit(nogil=True, cache=True, error_model="numpy")
def _close_features(y, c, row0, lengths, windows, skip, ma, std_out, beta, rsqr, resi):
    """For the symbols not flagged in `skip`, per window, in one pass over block-restarting prefix sums
    (y centred on the symbol's first valid value; i: row within the symbol): MA = Mean(y)/c, STD =
    Std(y)/c (ddof=1), and Qlib's regression on the slots x = 1..w (a missing value keeps its slot):
    slot of row i in the window ending at t is i - (t - w), so Sx = Si - (t-w)*N, Sxx = Sii - 2(t-w)Si
    + (t-w)^2 N (exact integers) and Sxy = Siy - (t-w)*Sy; slope = (N Sxy - Sx Sy)/(N Sxx - Sx^2),
    BETA = slope/c, RSQR = r^2 (NaN where the std is ~0), RESI = (y_t - slope*w - intercept)/c."""
    p, sums = _prefix_table(lengths)
    for k in _todo(skip):
        s0, n = row0[k], lengths[k]
        ref, _ = _reference(y, y, s0, n)
        for i in range(n):
            v = y[s0 + i] - ref
            q = (1.0, v, v * v, i * v, float(i), float(i * i)) if y[s0 + i] == y[s0 + i] else _NOTHING
            sums = _accumulate(p, i, sums, q)
        for wi in range(windows.shape[0]):
            w = float(windows[wi])
            for i in range(n):
                t = s0 + i
                cnt, sy, syy, siy, si, sii = _window(p, i, windows[wi])
                ma[wi, t] = (sy / cnt + ref) / c[t]
                sd = _std(cnt, sy, syy)
                std_out[wi, t] = sd / c[t]
                b0 = i - w
                b, rsqr[wi, t], res = _ols(cnt, si - b0 * cnt, sii - 2.0 * b0 * si + b0 * b0 * cnt, sy, syy,
                                           siy - b0 * sy, sd, w, y[t] - ref)
                beta[wi, t] = b / c[t]
                resi[wi, t] = res / c[t]


def close_features(lay: Layout, y: np.ndarray, c: np.ndarray, ma, std, beta, rsqr, resi) -> None:
    """Qlib MA, STD, BETA, RSQR and RESI (Mean, Std, Slope, Rsquare, Resi of y, divided by c except
    RSQR) for every window into (windows, n) blocks. y: compact float64 $close (inf as NaN); c: the
    float32 $close. Symbols with a window of equal values get pandas' std replayed (general path)."""
    general = lay.equal_run_symbols(y)
    _close_features(y, c, lay.row0, lay.lengths, _WINDOWS, general, ma, std, beta, rsqr, resi)
    if general.any():
        sub, rows = lay.subset(general)
        ys, cs = y[rows], c[rows]
        cd = cs.astype(np.float64)
        mom = Moments.of(sub, ys, center=True, weighted=True)
        sd = rolling_std(sub, ys, mom)
        with np.errstate(all="ignore"):
            ma[:, rows] = (mom.s1 / mom.n + mom.ref) / cd
            std[:, rows] = sd / cd
        parts = np.empty((3, len(WINDOWS), sub.n), dtype=beta.dtype)
        window_regression(sub, mom, sd, cs, parts[0], parts[1], parts[2])
        beta[:, rows], rsqr[:, rows], resi[:, rows] = parts
