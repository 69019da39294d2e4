"""Vectorised rolling-window kernels with pyqlib 0.9.7 / pandas 3.1 semantics, for a run of symbols.

A chunk holds whole symbols back to back ("compact" rows, symbol-major, in session order). Every kernel
returns, per window w in WINDOWS, one float64 value per compact row. Kernels that slide over the data
(rank, arg max, the regression's x*y sums) use a padded copy in which each symbol is preceded by PAD
(= the longest window) empty rows: a window ending at a real row then never reaches the previous symbol,
and the empty rows act exactly like the rows before a series starts (pandas' ``min_periods=1`` warm-up,
the NaN-initialised deques of Qlib's Cython kernels). No per-symbol or per-window Python loop anywhere.

Semantics reproduced (pandas rolling as called by ``qlib.data.ops``, Qlib's own Cython kernels):
- pandas inputs are float64 with +-inf turned into NaN; NaN is skipped; a window without a valid value
  gives NaN. Std (ddof=1) is pandas' own online recurrence, replayed operation for operation (numba),
  because Qlib amplifies its rounding residue (division by 1e-12, the 2e-5 masks).
- Rank: average rank of the last value among the window's valid values, divided by their count.
- IdxMax/IdxMin: 1-based position in the (partial) window; a window holding a NaN gives the position of
  its first NaN (numpy's argmax quirk, reached through ``rolling.apply(raw=True)``).
- Quantile: linear interpolation between order statistics of the valid values.
- Slope/Rsquare/Resi: OLS on x = 1..N, a missing value keeping its slot.

Window sums come from prefix sums that restart at every symbol and every BLOCK rows, so rounding depends
on the local magnitude of one symbol's data, not on everything summed before; a window of zeros sums to
exactly 0.
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

    # --- moving between compact and padded rows

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
    def full(self) -> dict[int, np.ndarray]:
        """Rows in the window when no value is missing: min(w, row within symbol + 1)."""
        return {w: np.minimum(self.tl + 1, w).astype(np.float64) for w in WINDOWS}

    def counts(self, valid: np.ndarray) -> dict[int, np.ndarray]:
        """Number of valid rows in each window (exact)."""
        if valid.all():
            return self.full
        return self.window_sums(valid.astype(np.float64))[0]

    def window_sums(self, *series: np.ndarray) -> list[dict[int, np.ndarray]]:
        """Sum over each window of each series (float64, 0 where missing), per compact row."""
        out = np.empty((len(series), len(WINDOWS), self.n))
        _window_sums(np.stack(series), self.row0, self.lengths, _WINDOWS, out)
        return [dict(zip(WINDOWS, o)) for o in out]

    def repeats(self, x: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Rows whose value equals the previous valid value of the same symbol (missing rows skipped)."""
        r = np.arange(self.n)
        last = np.maximum.accumulate(np.where(valid, r, -1))  # last valid row at or before each row
        prev = np.empty(self.n, dtype=np.int64)
        prev[:1] = -1
        prev[1:] = last[:-1]
        ok = valid & (prev >= r - self.tl)  # a previous valid row in the same symbol
        return ok & (x == x[np.maximum(prev, 0)])

    def per_symbol_any(self, flags: np.ndarray) -> np.ndarray:
        """bool per symbol: any flag set among its rows."""
        if self.n == 0:
            return np.zeros(0, dtype=bool)
        return np.logical_or.reduceat(flags, self.row0)


_WINDOWS = np.asarray(WINDOWS, dtype=np.int64)


@numba.njit(nogil=True, cache=True)
def _window_sums(x0, row0, lengths, windows, out):
    """Window sums from prefix sums that restart at each symbol's first row and every BLOCK rows.

    P[i]: sum from the start of i's block to i; Q[i] = P[i] - the block's total. With j the row before
    the window: same block -> P[i] - P[j]; previous block -> P[i] - Q[j]; no row before -> P[i].
    Rounding is relative to at most two blocks of one symbol, and a window of zeros gives exactly 0.
    x0: (series, n); out: (series, windows, n).
    """
    m = lengths.max() if lengths.shape[0] else 0
    p = np.empty(m)
    q = np.empty(m)
    for s in range(x0.shape[0]):
        for k in range(row0.shape[0]):
            s0 = row0[k]
            n = lengths[k]
            for b0 in range(0, n, BLOCK):
                b1 = min(b0 + BLOCK, n)
                acc = 0.0
                for i in range(b0, b1):
                    acc += x0[s, s0 + i]
                    p[i] = acc
                for i in range(b0, b1):
                    q[i] = p[i] - acc
            for wi in range(windows.shape[0]):
                w = windows[wi]
                for i in range(min(w, n)):
                    out[s, wi, s0 + i] = p[i]
                for i in range(w, n):
                    j = i - w
                    if (j // BLOCK) == (i // BLOCK):
                        out[s, wi, s0 + i] = p[i] - p[j]
                    else:
                        out[s, wi, s0 + i] = p[i] - q[j]


def finite_or_nan(x: np.ndarray) -> np.ndarray:
    """float64 copy with +-inf as NaN: what pandas' rolling feeds its C kernels."""
    x = x.astype(np.float64)
    x[np.isinf(x)] = np.nan
    return x


@dataclasses.dataclass
class Moments:
    """Count, sum and sum of squares of a series' valid values over each window (compact rows).

    The sums are of ``xc = x - ref`` (0 where missing): a per-symbol reference (its largest value)
    for price-like series keeps the squares small when a price hardly moves, so variances and
    covariances of nearly flat windows keep their digits; ref = 0 keeps a window of zeros exact.
    """

    valid: np.ndarray
    xc: np.ndarray
    ref: np.ndarray | float
    n: dict[int, np.ndarray]
    s1: dict[int, np.ndarray]
    s2: dict[int, np.ndarray]

    @classmethod
    def of(cls, lay: Layout, x: np.ndarray, valid: np.ndarray | None = None, center: bool = False) -> Moments:
        valid = ~np.isnan(x) if valid is None else valid
        ref: np.ndarray | float = 0.0
        if center and lay.n:
            peak = np.fmax.reduceat(np.where(valid, x, np.nan), lay.row0)
            ref = np.repeat(np.nan_to_num(peak, nan=0.0), lay.lengths)
            xc = x - ref
        else:
            xc = x.copy()
        xc[~valid] = 0.0
        s1, s2 = lay.window_sums(xc, xc * xc)
        return cls(valid=valid, xc=xc, ref=ref, n=lay.counts(valid), s1=s1, s2=s2)

    def mean(self, w: int) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            m = self.s1[w] / self.n[w]  # 0/0 -> NaN where the window has no value
        return m + self.ref if isinstance(self.ref, np.ndarray) else m

    def var(self, w: int) -> np.ndarray:
        """ddof=1 from the sums; NaN below 2 values, never negative."""
        n = self.n[w]
        with np.errstate(invalid="ignore", divide="ignore"):
            v = (self.s2[w] - self.s1[w] * self.s1[w] / n) / (n - 1.0)
        np.maximum(v, 0.0, out=v)
        v[n < 2] = np.nan
        return v


# --------------------------------------------------------------------------- std, as pandas computes it

_INV_COND_TOL = np.finfo(np.float64).eps * 1e3  # pandas: an update leaving < ~3 digits is unstable


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
            nobs = 0.0
            mean = 0.0
            ssq = 0.0
            comp_add = 0.0
            comp_rem = 0.0
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
                    val = x[t]  # the value entering it
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
                if nobs > 1.0:
                    var = ssq / (nobs - 1.0)
                    out[wi, t] = np.sqrt(var) if var >= 0.0 else 0.0
                else:
                    out[wi, t] = np.nan


def rolling_std(lay: Layout, x: np.ndarray, mom: Moments) -> dict[int, np.ndarray]:
    """{w: what pandas rolling(w, min_periods=1).std() gives} for a compact float64 series (inf as NaN).

    Where no window can hold equal values only (no valid value equals the previous valid one),
    pandas' result is the true std to ~1e-15 and the window sums give it. Symbols that can have such
    a window get pandas' own recurrence replayed, because there pandas returns its rounding residue
    (or 0), which Qlib then amplifies.
    """
    out = np.empty((len(WINDOWS), lay.n))
    for k, w in enumerate(WINDOWS):
        np.sqrt(mom.var(w), out=out[k])
    replay = lay.per_symbol_any(lay.repeats(x, mom.valid))
    if replay.any():
        _pandas_rolling_std(x, lay.row0[replay], lay.lengths[replay], _WINDOWS, out)
    return dict(zip(WINDOWS, out))


def pandas_std(lay: Layout, x: np.ndarray) -> dict[int, np.ndarray]:
    """pandas' rolling std replayed for every symbol (reference path of rolling_std)."""
    out = np.empty((len(WINDOWS), lay.n))
    _pandas_rolling_std(x, lay.row0, lay.lengths, _WINDOWS, out)
    return dict(zip(WINDOWS, out))


# ------------------------------------------------------------------------------- max/min and arg max


def _level(w: int) -> int:
    return 1 << (w.bit_length() - 1)


def idx_extreme(lay: Layout, x: np.ndarray, kind: str) -> tuple[dict, dict]:
    """Qlib Max/Min and IdxMax/IdxMin (1-based, first occurrence, NaN quirk) over every window.

    Sparse table on the padded copy: level k holds, per row i, the extreme of rows [i-k+1, i] and
    its first position; a window of w rows is the union of two overlapping level-k blocks
    (k = largest power of two <= w), the earlier block winning ties.
    x: compact float32 (NaN missing). Returns ({w: extreme}, {w: position}), float64 per compact row.
    """
    bad = ~np.isfinite(x)  # pandas turns inf into NaN before rolling.apply
    v = (x if kind == "max" else -x).astype(np.float32)
    v[bad] = -np.inf
    v = lay.padded(v, fill=-np.inf)
    vals, idxs = {1: v}, {1: np.arange(len(v), dtype=np.int32)}
    k = 1
    while 2 * k <= _level(max(WINDOWS)):
        a, b = vals[k][:-k], vals[k][k:]
        ia, ib = idxs[k][:-k], idxs[k][k:]
        nv = np.full_like(v, -np.inf)
        np.maximum(a, b, out=nv[k:])
        ni = np.zeros_like(idxs[1])
        ni[k:] = ib + (ia - ib) * (a >= b)  # branch-free select
        vals[2 * k], idxs[2 * k] = nv, ni
        k *= 2
    pos = lay.pos
    tl = lay.tl.astype(np.int64)
    any_bad = bool(bad.any())
    if any_bad:
        # first missing real row at or after each padded row: numpy's argmax returns it
        padded_bad = lay.padded(bad, fill=False)
        cand = np.where(padded_bad, np.arange(len(v)), len(v))
        next_bad = np.minimum.accumulate(cand[::-1])[::-1]
        n_valid = lay.counts(~bad)
    ext, arg = {}, {}
    for w in WINDOWS:
        k = _level(w)
        lo = pos - w + k  # end of the earlier block
        la, ra = vals[k][lo], vals[k][pos]
        li, ri = idxs[k][lo], idxs[k][pos]
        first = ri + (li - ri) * (la >= ra)
        span = np.minimum(w - 1, tl)  # rows before t inside the (partial) window
        p = (first - pos + span + 1).astype(np.float64)
        m = np.maximum(la, ra).astype(np.float64)
        if any_bad:
            start = pos - span
            nb = next_bad[start]
            hit = nb <= pos
            p[hit] = (nb - start + 1)[hit]
            none = n_valid[w] == 0
            p[none] = np.nan
            m[none] = np.nan
        ext[w] = m if kind == "max" else -m
        arg[w] = p
    return ext, arg


# -------------------------------------------------------------------------------------------- rank


def window_rank(lay: Layout, x: np.ndarray, n_valid: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
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
    out = {}
    last_missing = np.isnan(xc)
    for o in range(1, max(WINDOWS)):
        np.less(xp[:-o], xp[o:], out=tmp[o:])
        less[o:] += tmp[o:]
        np.equal(xp[:-o], xp[o:], out=tmp[o:])
        same[o:] += tmp[o:]
        if o + 1 in WINDOWS:
            with np.errstate(invalid="ignore", divide="ignore"):
                r = (less[lay.pos] + 1.0 + 0.5 * same[lay.pos]) / n_valid[o + 1]
            r[last_missing] = np.nan
            out[o + 1] = r
    return out


# ---------------------------------------------------------------------------------------- quantile


@numba.njit(nogil=True, cache=True)
def _rolling_quantiles(x, row0, lengths, windows, qs, out):
    """pandas rolling(w, min_periods=1).quantile(q, 'linear') for each w and q, NaN skipped.

    Keeps each window's valid values sorted: the value leaving and the one entering are swapped in
    with one shift of the values between their places. out: (len(windows) * len(qs), n).
    """
    nq = qs.shape[0]
    buf = np.empty(windows.max(), dtype=np.float64)
    for k in range(row0.shape[0]):
        s0 = row0[k]
        for wi in range(windows.shape[0]):
            window = windows[wi]
            n = 0
            for i in range(lengths[k]):
                t = s0 + i
                old = x[t - window] if i >= window else np.nan
                v = x[t]
                if old == old:  # remove: find it, then
                    lo, hi = 0, n
                    while lo < hi:
                        mid = (lo + hi) >> 1
                        if buf[mid] < old:
                            lo = mid + 1
                        else:
                            hi = mid
                    if v == v:  # ... replace it by v, shifting the values in between
                        j = lo
                        while j + 1 < n and buf[j + 1] < v:
                            buf[j] = buf[j + 1]
                            j += 1
                        while j > 0 and buf[j - 1] > v:
                            buf[j] = buf[j - 1]
                            j -= 1
                        buf[j] = v
                    else:
                        for j in range(lo, n - 1):
                            buf[j] = buf[j + 1]
                        n -= 1
                elif v == v:  # insert
                    j = n
                    while j > 0 and buf[j - 1] > v:
                        buf[j] = buf[j - 1]
                        j -= 1
                    buf[j] = v
                    n += 1
                for q in range(nq):
                    row = wi * nq + q
                    if n == 0:
                        out[row, t] = np.nan
                    else:
                        f = qs[q] * (n - 1)
                        idx = int(f)
                        if f == idx:
                            out[row, t] = buf[idx]
                        else:
                            lo_v = buf[idx]
                            out[row, t] = lo_v + (buf[idx + 1] - lo_v) * (f - idx)


def window_quantiles(lay: Layout, x: np.ndarray, qs: tuple[float, ...]) -> dict[int, np.ndarray]:
    """{w: array (len(qs), n)} of rolling linear quantiles of a compact series (inf as NaN, like pandas)."""
    out = np.empty((len(WINDOWS) * len(qs), lay.n))
    _rolling_quantiles(finite_or_nan(x), lay.row0, lay.lengths, _WINDOWS, np.asarray(qs, dtype=np.float64), out)
    return {w: out[i * len(qs) : (i + 1) * len(qs)] for i, w in enumerate(WINDOWS)}


# -------------------------------------------------------------------------------------- regression


def window_regression(lay: Layout, mom: Moments):
    """Qlib Slope, Rsquare (unmasked) and Resi on x = 1..w of the series behind `mom`, a missing value
    keeping its slot.

    The sum of x*y is a correlation of the padded (centred) series with the ramp 1..w; sums of x and
    x^2 over the valid slots are closed-form when no value is missing (the valid slots are then the
    highest min(w, t+1)), else correlations of the validity mask. Centring shifts the intercept only.
    """
    yc = mom.xc
    yp = lay.padded(yc, fill=0.0)
    gaps = not mom.valid.all()
    if gaps:
        vp = lay.padded(mom.valid.astype(np.float64), fill=0.0)
    last = np.where(mom.valid, yc, np.nan)
    slope, rsq, resi = {}, {}, {}
    for w in WINDOWS:
        ramp = np.arange(1, w + 1, dtype=np.float64)
        at = lay.pos - (w - 1)  # correlate(..., 'valid')[i] is the window starting at row i
        sxy = np.correlate(yp, ramp, "valid")[at]
        n = mom.n[w]
        if gaps:
            sx = np.correlate(vp, ramp, "valid")[at]
            sxx = np.correlate(vp, ramp * ramp, "valid")[at]
        else:  # slots w-n+1 .. w
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
            resi[w] = last - (b * w + a)
        slope[w], rsq[w] = b, r * r
    return slope, rsq, resi


# ------------------------------------------------------------------------------------- correlation


def window_corr(lay: Layout, mx: Moments, my: Moments, flat_x: dict[int, np.ndarray],
                flat_y: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """Qlib Corr(x, y, w): pandas' pairwise-complete rolling Pearson correlation (inf as NaN), set to
    NaN where either side's own rolling std is ~0 (flat_x, flat_y: those masks per window).

    mx, my: Moments of x and y (inf already NaN); their sums serve the pairs when one side has no
    missing value where the other has one.
    """
    pair = mx.valid & my.valid
    xc, yc = mx.xc, my.xc
    if not np.array_equal(pair, mx.valid):
        xc = np.where(pair, xc, 0.0)
    if not np.array_equal(pair, my.valid):
        yc = np.where(pair, yc, 0.0)
    if xc is mx.xc and yc is my.xc:
        n, (sx, sy, sxy) = mx.n, (mx.s1, my.s1, *lay.window_sums(xc * yc))
        sxx, syy = mx.s2, my.s2
    else:
        n = lay.counts(pair)
        sx, sy, sxx, syy, sxy = lay.window_sums(xc, yc, xc * xc, yc * yc, xc * yc)
    out = {}
    for w in WINDOWS:
        nw = n[w]
        with np.errstate(invalid="ignore", divide="ignore"):
            cov = nw * sxy[w] - sx[w] * sy[w]
            varx = nw * sxx[w] - sx[w] * sx[w]
            vary = nw * syy[w] - sy[w] * sy[w]
            c = cov / np.sqrt(varx * vary)
        c[(varx <= 0) | (vary <= 0) | (nw < 2) | flat_x[w] | flat_y[w]] = np.nan
        out[w] = c
    return out
