"""Vectorised rolling-window kernels with pyqlib 0.9.7 / pandas semantics, over a symbol-padded layout.

Layout: the rows of several symbols lie back to back in one 1-D array, each symbol preceded by
``PAD`` (= the longest window) empty rows. A window of at most ``PAD`` rows ending at a real row then
never reaches the previous symbol, and the empty rows behave exactly like the rows before a series
starts: pandas' ``min_periods=1`` warm-up windows and the NaN-initialised deques of Qlib's Cython
kernels both amount to "missing values in front". So every kernel runs over the whole chunk at once,
with no per-symbol or per-window Python loop.

Semantics reproduced (pandas 3 rolling as called by ``qlib.data.ops``):
- Inputs of pandas rolling ops are float64 with +-inf turned into NaN; NaN is skipped, a window
  without a valid value gives NaN; Std has ddof=1 and is exactly 0 on a constant window.
- Rank: average rank of the last value among the window's valid values divided by their count.
- IdxMax/IdxMin: 1-based position in the (partial) window; a window holding a NaN gives the
  position of its first NaN (numpy's argmax quirk, reached through ``rolling.apply(raw=True)``).
- Quantile: linear interpolation between order statistics of the valid values.
- Slope/Rsquare/Resi: OLS on x = 1..N, a missing value keeps its slot (Qlib's own kernels).

Sums are taken from prefix sums that restart every ``BLOCK`` rows, so rounding depends on the local
magnitude of the data rather than on everything summed before; a window of zeros sums to exactly 0.
"""

from __future__ import annotations

import dataclasses

import numba
import numpy as np

WINDOWS = (5, 10, 20, 30, 60)
PAD = 60  # empty rows before each symbol: the longest window
BLOCK = 128  # prefix sums restart every BLOCK rows (must be >= the longest window)


@dataclasses.dataclass
class Layout:
    """Where the real rows of a chunk of symbols sit in the padded 1-D array."""

    length: int  # padded length, a multiple of BLOCK
    pos: np.ndarray  # int64 position of every real row, in input order (symbol-major)
    t_local: np.ndarray  # int32 per padded row: index of the row within its symbol (pads: -1)
    starts: np.ndarray  # int64 position of each symbol's first row
    lengths: np.ndarray  # int64 rows per symbol

    @classmethod
    def for_lengths(cls, lengths: np.ndarray) -> Layout:
        lengths = np.asarray(lengths, dtype=np.int64)
        starts = PAD + np.concatenate(([0], np.cumsum(lengths + PAD)[:-1]))  # first real row per symbol
        total = int(starts[-1] + lengths[-1]) if len(lengths) else PAD
        length = -(-(total + 1) // BLOCK) * BLOCK
        row0 = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        t_in = np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(row0, lengths)
        pos = np.repeat(starts, lengths) + t_in
        t_local = np.full(length, -1, dtype=np.int32)
        t_local[pos] = t_in
        return cls(length=length, pos=pos, t_local=t_local, starts=starts, lengths=lengths)

    def spread(self, values: np.ndarray, fill: float = np.nan) -> np.ndarray:
        """Real-row values -> padded array (pads get `fill`)."""
        out = np.full(self.length, fill, dtype=values.dtype)
        out[self.pos] = values
        return out

    def shift(self, x: np.ndarray, n: int) -> np.ndarray:
        """x[t - n] (Ref(x, n), n >= 1): pads in front make the first n rows of a symbol NaN."""
        out = np.empty_like(x)
        out[:n] = np.nan
        out[n:] = x[:-n]
        return out


# ------------------------------------------------------------------------------------ sums and counts


def window_counts(valid: np.ndarray, windows=WINDOWS) -> dict[int, np.ndarray]:
    """Number of True in each window ending at t (float64; exact). Defined for t >= w."""
    c = np.cumsum(valid, dtype=np.int32)
    out = {}
    for w in windows:
        n = np.zeros(len(valid), dtype=np.float64)
        np.subtract(c[w:], c[:-w], out=n[w:], casting="unsafe")
        out[w] = n
    return out


def window_sums(x0: np.ndarray, windows=WINDOWS) -> dict[int, np.ndarray]:
    """Sum of x0 over each window ending at t (x0: float64, 0 where missing). Defined for t >= w.

    Prefix sums restart every BLOCK rows; a window that starts in the previous block adds that
    block's remaining sum (P[t] - (P_prev[t-w] - total_prev)), so the rounding stays local.
    """
    nb = len(x0) // BLOCK
    p2 = x0.reshape(nb, BLOCK).cumsum(axis=1)
    p = p2.ravel()
    q2 = p2 - p2[:, -1:]  # minus the rest of the block after each row
    out = {}
    for w in windows:
        s = np.empty(len(x0))
        s[:w] = np.nan
        np.subtract(p[w:], p[:-w], out=s[w:])
        s2 = s.reshape(nb, BLOCK)
        # rows t with t % BLOCK < w start their window in the previous block
        np.subtract(p2[1:, :w], q2[:-1, BLOCK - w :], out=s2[1:, :w])
        out[w] = s
    return out


def finite_or_nan(x: np.ndarray) -> np.ndarray:
    """float64 copy with +-inf as NaN: what pandas' rolling feeds its C kernels."""
    x = x.astype(np.float64)
    x[np.isinf(x)] = np.nan
    return x


@dataclasses.dataclass
class Moments:
    """Count, sum and sum of squares of the valid values of a series over each window."""

    n: dict[int, np.ndarray]
    s1: dict[int, np.ndarray]
    s2: dict[int, np.ndarray]

    @classmethod
    def of(cls, x: np.ndarray, valid: np.ndarray) -> Moments:
        x0 = np.where(valid, x, 0.0)
        return cls(n=window_counts(valid), s1=window_sums(x0), s2=window_sums(x0 * x0))

    def mean(self, w: int) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.s1[w] / self.n[w]  # 0/0 -> NaN where the window has no value


# --------------------------------------------------------------------------- std, as pandas computes it


_INV_COND_TOL = np.finfo(np.float64).eps * 1e3  # pandas: an update leaving < ~3 digits is unstable


@numba.njit(nogil=True, cache=True)
def _pandas_rolling_var(x, starts, lengths, window, out):
    """pandas 3.1 ``roll_var`` (min_periods=1, ddof=1) per symbol, operation for operation.

    Welford's online update with Kahan-compensated means (separate compensations for adds and
    removes), removes before adds, and a recompute of the whole window after an update that lost
    all but ~3 significant digits. Reproducing the exact recurrence matters: on a window whose
    values are all equal pandas can leave rounding residue (std 0.0104 over twenty zeros following
    volumes of 5,000) or, after a recompute, exactly 0; Qlib divides that by 1e-12 (VSTD, WVMA) or
    compares it with 2e-5 (the Rsquare and Corr masks).
    """
    tol = _INV_COND_TOL
    for k in range(starts.shape[0]):
        s0 = starts[k]
        nobs = 0.0
        mean = 0.0
        ssq = 0.0
        comp_add = 0.0
        comp_rem = 0.0
        unstable = False
        for i in range(lengths[k]):
            t = s0 + i
            if i > 0:
                if i >= window:  # remove the value leaving the window
                    val = x[t - window]
                    if val == val:
                        prev_m2 = ssq
                        nobs -= 1.0
                        if nobs != 0.0:
                            prev_mean = mean - comp_rem
                            y = val - comp_rem
                            d = y - mean
                            comp_rem = d + mean - y
                            mean = mean - d / nobs
                            ssq = ssq - (val - prev_mean) * (val - mean)
                            if prev_m2 * tol > ssq:
                                unstable = True
                        else:
                            mean = 0.0
                            ssq = 0.0
                            unstable = False
                val = x[t]  # add the new value
                if val == val:
                    prev_m2 = ssq
                    nobs += 1.0
                    prev_mean = mean - comp_add
                    y = val - comp_add
                    d = y - mean
                    comp_add = d + mean - y
                    mean = mean + d / nobs
                    ssq = ssq + (val - prev_mean) * (val - mean)
                    if prev_m2 * tol > ssq:
                        unstable = True
            if i == 0 or unstable:  # (re)compute the window from scratch
                nobs = 0.0
                mean = 0.0
                ssq = 0.0
                comp_add = 0.0
                comp_rem = 0.0
                for j in range(max(0, i - window + 1), i + 1):
                    val = x[s0 + j]
                    if val == val:
                        nobs += 1.0
                        prev_mean = mean - comp_add
                        y = val - comp_add
                        d = y - mean
                        comp_add = d + mean - y
                        mean = mean + d / nobs
                        ssq = ssq + (val - prev_mean) * (val - mean)
                unstable = False
            out[t] = ssq / (nobs - 1.0) if nobs > 1.0 else np.nan


def pandas_std(x: np.ndarray, lay: Layout) -> dict[int, np.ndarray]:
    """{w: pandas rolling(w, min_periods=1).std()} of a padded float64 series (inf already NaN)."""
    out = {}
    for w in WINDOWS:
        var = np.full(lay.length, np.nan)
        _pandas_rolling_var(x, lay.starts, lay.lengths, w, var)
        std = np.sqrt(np.maximum(var, 0.0))  # pandas' zsqrt: a negative variance gives 0
        out[w] = std
    return out


def std_is_zero(std: np.ndarray) -> np.ndarray:
    """np.isclose(std, 0, atol=2e-5): the mask Qlib applies to Rsquare and Corr (NaN std: False)."""
    return std <= 2e-5


# ------------------------------------------------------------------------------- max/min and arg max


def _sparse_levels(v: np.ndarray, with_index: bool):
    """Level k (k = 1, 2, 4, .., 32): max of v over [i-k+1, i] and its first position."""
    vals = {1: v}
    idxs = {1: np.arange(len(v), dtype=np.int32)} if with_index else None
    k = 1
    while 2 * k <= _level(max(WINDOWS)):
        a, b = vals[k][:-k], vals[k][k:]
        nv = np.empty_like(v)
        nv[:k] = -np.inf
        if with_index:
            left = a >= b  # ties go to the earlier block: first occurrence
            np.copyto(nv[k:], np.where(left, a, b))
            ni = np.zeros(len(v), dtype=np.int32)
            ni[k:] = np.where(left, idxs[k][:-k], idxs[k][k:])
            idxs[2 * k] = ni
        else:
            np.maximum(a, b, out=nv[k:])
        vals[2 * k] = nv
        k *= 2
    return vals, idxs


def _level(w: int) -> int:
    return 1 << (w.bit_length() - 1)


def window_max(v: np.ndarray, windows=WINDOWS) -> dict[int, np.ndarray]:
    """Max over each window of v (missing values must be -inf). Defined for t >= w - 1."""
    vals, _ = _sparse_levels(v, with_index=False)
    out = {}
    for w in windows:
        k = _level(w)
        m = np.full_like(v, -np.inf)
        np.maximum(vals[k][k - 1 : len(v) - w + k], vals[k][w - 1 :], out=m[w - 1 :])
        out[w] = m
    return out


def window_argmax(v: np.ndarray, windows=WINDOWS) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """(max, position of its first occurrence) over each window of v (missing values must be -inf)."""
    vals, idxs = _sparse_levels(v, with_index=True)
    mx, arg = {}, {}
    for w in windows:
        k = _level(w)
        la, ra = vals[k][k - 1 : len(v) - w + k], vals[k][w - 1 :]
        li, ri = idxs[k][k - 1 : len(v) - w + k], idxs[k][w - 1 :]
        left = la >= ra
        m = np.full_like(v, -np.inf)
        np.maximum(la, ra, out=m[w - 1 :])
        a = np.zeros(len(v), dtype=np.int32)
        a[w - 1 :] = np.where(left, li, ri)
        mx[w], arg[w] = m, a
    return mx, arg


def idx_extreme(x: np.ndarray, lay: Layout, n_valid: dict[int, np.ndarray], kind: str):
    """Qlib IdxMax/IdxMin (1-based, first occurrence, NaN quirk) and Max/Min, over every window.

    x: float32/float64 padded series (NaN missing). Returns ({w: extreme}, {w: 1-based position}).
    """
    bad = ~np.isfinite(x)  # pandas turns inf into NaN before rolling.apply
    v = np.where(bad, -np.inf, x if kind == "max" else -x).astype(np.float64)
    ext, arg = window_argmax(v)
    real_bad = bad & (lay.t_local >= 0)
    if real_bad.any():
        # first missing real row at or after each row: numpy's argmax returns it when a window has one
        cand = np.where(real_bad, np.arange(lay.length), lay.length)
        next_bad = np.minimum.accumulate(cand[::-1])[::-1]
    t = np.arange(lay.length)
    out_v, out_p = {}, {}
    for w in WINDOWS:
        span = np.minimum(w - 1, lay.t_local)  # rows before t inside the (partial) window
        start = t - span
        pos = (arg[w] - start + 1).astype(np.float64)
        if real_bad.any():
            nb = next_bad[np.clip(start, 0, lay.length - 1)]
            hit = nb <= t
            pos[hit] = (nb - start + 1)[hit]
        none = n_valid[w] == 0
        pos[none] = np.nan
        val = ext[w] if kind == "max" else -ext[w]
        val[none] = np.nan
        out_v[w], out_p[w] = val, pos
    return out_v, out_p


# -------------------------------------------------------------------------------------------- rank


def window_rank(x: np.ndarray, n_valid: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """pandas rolling(w, min_periods=1).rank(pct=True): average rank of the last value / valid count.

    One pass over the window offsets (not over windows): counts of earlier values below and equal
    to the last one accumulate, and are read off when the offset reaches w - 1.
    """
    x = np.where(np.isfinite(x), x, np.nan).astype(np.float32)  # comparisons with NaN are False
    n = len(x)
    less = np.zeros(n, dtype=np.uint8)
    same = np.zeros(n, dtype=np.uint8)
    tmp = np.empty(n, dtype=bool)
    out = {}
    last_valid = np.isfinite(x)
    for o in range(1, max(WINDOWS)):
        np.less(x[:-o], x[o:], out=tmp[o:])
        less[o:] += tmp[o:]
        np.equal(x[:-o], x[o:], out=tmp[o:])
        same[o:] += tmp[o:]
        if o + 1 in WINDOWS:
            with np.errstate(invalid="ignore", divide="ignore"):
                r = (less + 1.0 + 0.5 * same) / n_valid[o + 1]
            r[~last_valid] = np.nan
            out[o + 1] = r
    return out


# ---------------------------------------------------------------------------------------- quantile


@numba.njit(nogil=True, cache=True)
def _rolling_quantiles(x, window, qs, out):
    """pandas rolling(window, min_periods=1).quantile(q, 'linear') for each q, NaN skipped.

    Keeps the window's valid values sorted (insert/remove by binary search); out: (len(qs), len(x)).
    """
    buf = np.empty(window, dtype=np.float64)
    n = 0
    for t in range(x.shape[0]):
        if t >= window:
            old = x[t - window]
            if old == old:
                lo, hi = 0, n
                while lo < hi:
                    mid = (lo + hi) >> 1
                    if buf[mid] < old:
                        lo = mid + 1
                    else:
                        hi = mid
                for j in range(lo, n - 1):
                    buf[j] = buf[j + 1]
                n -= 1
        v = x[t]
        if v == v:
            lo, hi = 0, n
            while lo < hi:
                mid = (lo + hi) >> 1
                if buf[mid] <= v:
                    lo = mid + 1
                else:
                    hi = mid
            for j in range(n, lo, -1):
                buf[j] = buf[j - 1]
            buf[lo] = v
            n += 1
        for k in range(qs.shape[0]):
            if n == 0:
                out[k, t] = np.nan
            else:
                f = qs[k] * (n - 1)
                i = int(f)
                if f == i:
                    out[k, t] = buf[i]
                else:
                    lo_v = buf[i]
                    out[k, t] = lo_v + (buf[i + 1] - lo_v) * (f - i)


def window_quantiles(x: np.ndarray, qs: tuple[float, ...]) -> dict[int, np.ndarray]:
    """{w: array (len(qs), n)} of rolling linear quantiles (inf as NaN, like pandas)."""
    x = finite_or_nan(x)
    qv = np.asarray(qs, dtype=np.float64)
    out = {}
    for w in WINDOWS:
        o = np.empty((len(qs), len(x)))
        _rolling_quantiles(x, w, qv, o)
        out[w] = o
    return out


# -------------------------------------------------------------------------------------- regression


def window_regression(y: np.ndarray, lay: Layout, mom: Moments):
    """Qlib Slope, Rsquare (unmasked) and Resi of y on x = 1..w, missing values keeping their slots.

    y: float64 padded close (NaN missing); mom: its Moments (count, sum, sum of squares). Sum of x*y
    is a correlation with the ramp 1..w; sums of x and x^2 over the valid slots are closed-form when
    the chunk has no missing real row (then the valid slots are the highest min(w, t+1)), else
    correlations of the validity mask with the ramps.
    """
    valid = ~np.isnan(y)
    y0 = np.where(valid, y, 0.0)
    gaps = bool((~valid & (lay.t_local >= 0)).any())
    vm = valid.astype(np.float64)
    slope, rsq, resi = {}, {}, {}
    for w in WINDOWS:
        ramp = np.arange(1, w + 1, dtype=np.float64)
        sxy = np.full(len(y), np.nan)
        sxy[w - 1 :] = np.correlate(y0, ramp, "valid")
        n = mom.n[w]
        if gaps:
            sx = np.full(len(y), np.nan)
            sxx = np.full(len(y), np.nan)
            sx[w - 1 :] = np.correlate(vm, ramp, "valid")
            sxx[w - 1 :] = np.correlate(vm, ramp * ramp, "valid")
        else:
            # slots w-n+1 .. w: sum j = n(2w-n+1)/2, sum j^2 = S2(w) - S2(w-n)
            lo = w - n
            sx = n * (w + lo + 1) / 2.0
            sxx = (w * (w + 1) * (2 * w + 1) - lo * (lo + 1) * (2 * lo + 1)) / 6.0
        sy, syy = mom.s1[w], mom.s2[w]
        with np.errstate(invalid="ignore", divide="ignore"):
            num = n * sxy - sx * sy
            den = n * sxx - sx * sx
            b = num / den
            r = num / np.sqrt(den * (n * syy - sy * sy))
            a = sy / n - b * (sx / n)
            resi[w] = y - (b * w + a)
        slope[w], rsq[w] = b, r * r
    return slope, rsq, resi


# ------------------------------------------------------------------------------------- correlation


def window_corr(x: np.ndarray, y: np.ndarray, mx: Moments, my: Moments,
                zero_x: dict[int, np.ndarray], zero_y: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """Qlib Corr(x, y, w): pandas' pairwise-complete rolling Pearson correlation (inf as NaN), set to
    NaN where either side's own rolling std is ~0 (zero_x, zero_y: those masks per window).

    x, y: float64 padded (NaN missing, inf already NaN); mx, my: their own Moments, reused for the
    pairs when no value of one side is missing where the other has one.
    """
    vx, vy = ~np.isnan(x), ~np.isnan(y)
    pair = vx & vy
    px = mx if np.array_equal(pair, vx) else Moments.of(x, pair)
    py = my if np.array_equal(pair, vy) else Moments.of(y, pair)
    x0, y0 = np.where(pair, x, 0.0), np.where(pair, y, 0.0)
    sxy = window_sums(x0 * y0)
    out = {}
    for w in WINDOWS:
        n = px.n[w]
        sx, sy = px.s1[w], py.s1[w]
        with np.errstate(invalid="ignore", divide="ignore"):
            cov = n * sxy[w] - sx * sy
            varx = n * px.s2[w] - sx * sx
            vary = n * py.s2[w] - sy * sy
            c = cov / np.sqrt(varx * vary)
        c[(varx <= 0) | (vary <= 0) | (n < 2)] = np.nan
        c[zero_x[w] | zero_y[w]] = np.nan
        out[w] = c
    return out
