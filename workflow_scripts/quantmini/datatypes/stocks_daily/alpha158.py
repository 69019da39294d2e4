"""Qlib's Alpha158 factors computed over a whole frame of bars, with the numbers pyqlib 0.9.7 gives.

Why not call pyqlib: its expression engine evaluates every expression per instrument with pandas
(Rank, IdxMax/IdxMin and Quantile through Python callbacks per window), tens of seconds for 500 tickers
x 1,260 sessions (bench/README.md). Here each operator is a vectorised kernel over a chunk of whole symbols
(``rolling``: numpy over a symbol-padded layout, fused numba passes), chunks run in threads,
and the semantics and precision are pyqlib's:

- Inputs are rounded to float32 first (pyqlib reads float32 .bin files) and the element-wise parts
  of each expression run in float32 exactly as numpy runs them inside pyqlib (so KMID, ROC5,
  ``$close/Ref($close,1)`` ... are bit-identical); rolling operators work in float64 on those values,
  like pandas; every result is rounded to float32 at the end, like ``D.features``.
- Where pyqlib's answer is pandas' rounding residue amplified by Qlib (Std of a window of equal values
  divided by 1e-12 in VSTD/WVMA, or compared with 2e-5 in the Rsquare/Corr masks), pandas' recurrence
  is replayed from the symbol's first given row, so the residue is the one pyqlib computes from the
  same rows (pyqlib itself gets a different residue when it is given more history).
- Point in time: a feature at session t reads rows up to t only (windows end at t, Ref looks back);
  with 61 earlier rows (60 for all but CORD60) older history no longer matters, up to rounding. The
  label, the only forward-looking column, is computed separately by ``compute_label``.

Rows: one per (symbol, session) of the symbol's span, a session without a bar being a row of nulls
(as gold holds them). NaN marks a missing value in the output (never null).
"""

from __future__ import annotations

import functools
import mmap
import os
import types
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl

FIELDS = ("open", "high", "low", "close", "volume", "vwap")
WINDOWS = (5, 10, 20, 30, 60)  # Alpha158's rolling windows (rolling is built for these)
LABEL_NAME = "LABEL0"
LABEL_EXPRESSION = "Ref($close, -2)/Ref($close, -1) - 1"
CHUNK_ROWS = 1 << 14  # padded rows per chunk (whole symbols): working arrays stay in cache; chunks run in threads
PAD_ROWS = max(WINDOWS)  # rows rolling pads each symbol with


def _expressions() -> dict[str, str]:
    """Names and expression strings in the order of Alpha158DL.get_feature_config() (default config)."""
    e: dict[str, str] = {
        "KMID": "($close-$open)/$open",
        "KLEN": "($high-$low)/$open",
        "KMID2": "($close-$open)/($high-$low+1e-12)",
        "KUP": "($high-Greater($open, $close))/$open",
        "KUP2": "($high-Greater($open, $close))/($high-$low+1e-12)",
        "KLOW": "(Less($open, $close)-$low)/$open",
        "KLOW2": "(Less($open, $close)-$low)/($high-$low+1e-12)",
        "KSFT": "(2*$close-$high-$low)/$open",
        "KSFT2": "(2*$close-$high-$low)/($high-$low+1e-12)",
    }
    for f in ("open", "high", "low", "vwap"):
        e[f"{f.upper()}0"] = f"${f}/$close"
    dc, dv = "$close-Ref($close, 1)", "$volume-Ref($volume, 1)"
    rolling = {
        "ROC": "Ref($close, {d})/$close",
        "MA": "Mean($close, {d})/$close",
        "STD": "Std($close, {d})/$close",
        "BETA": "Slope($close, {d})/$close",
        "RSQR": "Rsquare($close, {d})",
        "RESI": "Resi($close, {d})/$close",
        "MAX": "Max($high, {d})/$close",
        "MIN": "Min($low, {d})/$close",
        "QTLU": "Quantile($close, {d}, 0.8)/$close",
        "QTLD": "Quantile($close, {d}, 0.2)/$close",
        "RANK": "Rank($close, {d})",
        "RSV": "($close-Min($low, {d}))/(Max($high, {d})-Min($low, {d})+1e-12)",
        "IMAX": "IdxMax($high, {d})/{d}",
        "IMIN": "IdxMin($low, {d})/{d}",
        "IMXD": "(IdxMax($high, {d})-IdxMin($low, {d}))/{d}",
        "CORR": "Corr($close, Log($volume+1), {d})",
        "CORD": "Corr($close/Ref($close,1), Log($volume/Ref($volume, 1)+1), {d})",
        "CNTP": "Mean($close>Ref($close, 1), {d})",
        "CNTN": "Mean($close<Ref($close, 1), {d})",
        "CNTD": "Mean($close>Ref($close, 1), {d})-Mean($close<Ref($close, 1), {d})",
        "SUMP": f"Sum(Greater({dc}, 0), {{d}})/(Sum(Abs({dc}), {{d}})+1e-12)",
        "SUMN": "Sum(Greater(Ref($close, 1)-$close, 0), {d})/(Sum(Abs(" + dc + "), {d})+1e-12)",
        "SUMD": f"(Sum(Greater({dc}, 0), {{d}})-Sum(Greater(Ref($close, 1)-$close, 0), {{d}}))"
        f"/(Sum(Abs({dc}), {{d}})+1e-12)",
        "VMA": "Mean($volume, {d})/($volume+1e-12)",
        "VSTD": "Std($volume, {d})/($volume+1e-12)",
        "WVMA": "Std(Abs($close/Ref($close, 1)-1)*$volume, {d})/(Mean(Abs($close/Ref($close, 1)-1)*$volume, {d})+1e-12)",
        "VSUMP": f"Sum(Greater({dv}, 0), {{d}})/(Sum(Abs({dv}), {{d}})+1e-12)",
        "VSUMN": "Sum(Greater(Ref($volume, 1)-$volume, 0), {d})/(Sum(Abs(" + dv + "), {d})+1e-12)",
        "VSUMD": f"(Sum(Greater({dv}, 0), {{d}})-Sum(Greater(Ref($volume, 1)-$volume, 0), {{d}}))"
        f"/(Sum(Abs({dv}), {{d}})+1e-12)",
    }
    for group, template in rolling.items():
        for d in WINDOWS:
            e[f"{group}{d}"] = template.format(d=d)
    return e


QLIB_EXPRESSIONS: dict[str, str] = _expressions()
FEATURE_NAMES: list[str] = list(QLIB_EXPRESSIONS)
_INDEX = {name: k for k, name in enumerate(FEATURE_NAMES)}


# ------------------------------------------------------------------------ formulas (float32 results)
# pyqlib evaluates `rolling result (float64) <op> $close (float32)` in float64 and rounds the feature
# to float32 at the end; this does the same in one pass and writes the float32 rows directly. It is
# compiled (numba) on first use, so that importing this module for its names stays cheap.


def _extremes(hmax, himax, lmin, limin, c, mx, mn, rsv, imax, imin, imxd):
    """MAX = Max($high)/$close, MIN, RSV = ($close-Min($low))/(Max($high)-Min($low)+1e-12),
    IMAX = IdxMax($high)/d, IMIN, IMXD = (IdxMax-IdxMin)/d, in float64 rounded to float32 once."""
    for k in range(hmax.shape[0]):
        d = float(WINDOWS[k])
        for t in range(hmax.shape[1]):
            cc = np.float64(c[t])
            mx[k, t] = hmax[k, t] / cc
            mn[k, t] = lmin[k, t] / cc
            rsv[k, t] = (cc - lmin[k, t]) / (hmax[k, t] - lmin[k, t] + 1e-12)
            imax[k, t] = himax[k, t] / d
            imin[k, t] = limin[k, t] / d
            imxd[k, t] = (himax[k, t] - limin[k, t]) / d


@functools.cache
def _kernels() -> types.SimpleNamespace:
    """The rolling kernels and the compiled formulas (imported on first use: numba is slow to import)."""
    import numba

    from quantmini.datatypes.stocks_daily import rolling

    assert rolling.WINDOWS == WINDOWS
    return types.SimpleNamespace(
        rolling=rolling,
        extremes=numba.njit(nogil=True, cache=True, error_model="numpy")(_extremes),
    )


def _rows(out: np.ndarray, group: str) -> np.ndarray:
    """The (windows, rows) block of `out` holding GROUP5 .. GROUP60."""
    k = _INDEX[f"{group}{WINDOWS[0]}"]
    return out[k : k + len(WINDOWS)]


# ------------------------------------------------------------------------------------ one chunk


def _chunk_features(raw: dict[str, np.ndarray], lengths: np.ndarray, out: np.ndarray) -> None:
    """All 158 features of a run of whole symbols. raw: float32 per field (rows symbol-major, in
    session order); out: (158, rows) float32 view to fill."""
    k = _kernels()
    lay = k.rolling.Layout.for_lengths(lengths)
    _numpy_features(k, lay, raw, out)
    _numba_features(k, lay, raw, out)


def _numpy_features(k: types.SimpleNamespace, lay, raw: dict[str, np.ndarray], out: np.ndarray) -> None:
    """Element-wise features, Rank and the Max/Min/IdxMax/IdxMin family (numpy kernels)."""
    R = k.rolling
    o, h, l, c, v, vw = (raw[f] for f in FIELDS)
    e32 = np.float32(1e-12)
    with np.errstate(all="ignore"):
        # --- element-wise, in float32 exactly as numpy runs it inside pyqlib
        hl = h - l + e32
        for name, num in (("KMID", c - o), ("KUP", h - np.maximum(o, c)), ("KLOW", np.minimum(o, c) - l),
                          ("KSFT", 2 * c - h - l)):
            np.divide(num, o, out=out[_INDEX[name]])
            np.divide(num, hl, out=out[_INDEX[name + "2"]])
        np.divide(h - l, o, out=out[_INDEX["KLEN"]])
        for name, x in (("OPEN0", o), ("HIGH0", h), ("LOW0", l), ("VWAP0", vw)):
            np.divide(x, c, out=out[_INDEX[name]])
        for i, d in enumerate(WINDOWS):
            np.divide(lay.ref(c, d), c, out=_rows(out, "ROC")[i])

        # --- Rank of $close
        _rows(out, "RANK")[:] = R.window_rank(lay, c, lay.counts(np.isfinite(c)))

        # --- Max/Min/IdxMax/IdxMin of $high / $low, RSV
        hmax, himax = R.idx_extreme(lay, h, "max")
        lmin, limin = R.idx_extreme(lay, l, "min")
        k.extremes(hmax, himax, lmin, limin, c, *(_rows(out, g) for g in ("MAX", "MIN", "RSV", "IMAX", "IMIN", "IMXD")))


def _numba_features(k: types.SimpleNamespace, lay, raw: dict[str, np.ndarray], out: np.ndarray) -> None:
    """The features from the fused numba passes over each symbol's rows."""
    R = k.rolling
    c, v = raw["close"], raw["volume"]
    e32, one32 = np.float32(1e-12), np.float32(1)
    with np.errstate(all="ignore"):
        c_prev, v_prev = lay.ref(c, 1), lay.ref(v, 1)

        # --- Mean / Std / Slope / Rsquare / Resi of $close
        cf = R.finite_or_nan(c)
        R.close_features(lay, cf, c, *(_rows(out, g) for g in ("MA", "STD", "BETA", "RSQR", "RESI")))

        # --- Quantile of $close
        qtl = out[_INDEX["QTLU5"] : _INDEX["QTLD5"] + len(WINDOWS)].reshape(2, len(WINDOWS), -1)
        assert np.shares_memory(qtl, out)  # QTLU5..60 then QTLD5..60, written in place
        R.window_quantiles(lay, c, (0.8, 0.2), divisor=c.astype(np.float64), out=qtl)

        # --- Corr($close, Log($volume+1)) and Corr of the daily ratios
        _rows(out, "CORR")[:] = R.corr(lay, cf, R.finite_or_nan(np.log(v + one32)))
        rx = R.finite_or_nan(c / c_prev)
        _rows(out, "CORD")[:] = R.corr(lay, rx, R.finite_or_nan(np.log(v / v_prev + one32)))

        # --- up/down days, gains / losses / total moves of $close and $volume
        for prefix, x, x_prev in (("", c, c_prev), ("V", v, v_prev)):
            sums = [_rows(out, prefix + g) for g in ("SUMP", "SUMN", "SUMD")]
            counts = [_rows(out, g) for g in ("CNTP", "CNTN", "CNTD")]
            R.moves(lay, x - x_prev, *sums, *(counts if not prefix else ()))

        # --- volume level, dispersion, and volume-weighted price moves
        wv = R.finite_or_nan(np.abs(c / c_prev - one32) * v)
        R.volume_features(lay, R.finite_or_nan(v), wv, v + e32, _rows(out, "VMA"), _rows(out, "VSTD"),
                          _rows(out, "WVMA"))


# -------------------------------------------------------------------------------------- the frame


def _sorted_bars(bars: pl.DataFrame, symbol_col: str, date_col: str) -> pl.DataFrame:
    """The needed columns, sorted by (symbol, date) (a frame already in that order is not re-sorted)."""
    missing = [c for c in (symbol_col, date_col, *FIELDS) if c not in bars.columns]
    if missing:
        raise ValueError(f"bars lacks column(s) {missing}")
    df = bars.select(symbol_col, date_col, *FIELDS)
    if df[symbol_col].null_count() or df[date_col].null_count():
        raise ValueError("bars has a null symbol or date")

    def strictly_increasing(frame: pl.DataFrame) -> bool:
        sym, day = pl.col(symbol_col), pl.col(date_col)
        step = (sym > sym.shift(1)) | ((sym == sym.shift(1)) & (day > day.shift(1)))
        return bool(frame.select(step.slice(1).all()).item())

    if not strictly_increasing(df):
        df = df.sort(symbol_col, date_col, maintain_order=True)
        if not strictly_increasing(df):
            raise ValueError("bars has more than one row for a (symbol, date)")
    return df


def _chunks(lengths: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive symbol ranges of about CHUNK_ROWS padded rows each."""
    out, lo, acc = [], 0, 0
    for i, n in enumerate((lengths + PAD_ROWS).tolist()):
        if acc and acc + n > CHUNK_ROWS:
            out.append((lo, i))
            lo, acc = i, 0
        acc += n
    if lo < len(lengths):
        out.append((lo, len(lengths)))
    return out


def _feature_buffer(rows: int) -> np.ndarray:
    """(158, rows) float32 holding the result (the returned frame's columns are views of its rows)."""
    return anonymous_empty((len(FEATURE_NAMES), rows), np.float32)


def anonymous_empty(shape: tuple[int, ...], dtype) -> np.ndarray:
    """np.empty(shape, dtype) in a plain anonymous mapping, for arrays of hundreds of MB.

    Why not np.empty: numpy asks Linux for transparent huge pages on large arrays, and where the
    kernel then compacts memory on each fault (defrag=madvise), filling ~400 MB chunk by chunk costs
    several times the CPU of ordinary pages (bench/README.md).
    """
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    if not size or not hasattr(mmap, "MAP_ANONYMOUS"):
        return np.empty(shape, dtype=dtype)
    buf = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    return np.frombuffer(buf, dtype=dtype).reshape(shape)


def compute(
    bars: pl.DataFrame, *, symbol_col: str = "symbol", date_col: str = "date", max_workers: int | None = None
) -> pl.DataFrame:
    """symbol, date and the 158 Alpha158 features (Float32, NaN where Qlib gives NaN), sorted by
    (symbol, date). bars: adjusted open, high, low, close, volume, vwap, one row per session of each
    symbol's span (nulls where the symbol has no bar); symbol_col may hold any sortable type.

    Chunks of whole symbols run on `max_workers` threads (default: the CPU count, at most 8). The
    result's feature columns are views of one float32 buffer (158 x 4 bytes per row).
    """
    df = _sorted_bars(bars, symbol_col, date_col)
    lengths = df.group_by(symbol_col, maintain_order=True).len()["len"].to_numpy().astype(np.int64)
    raw = {f: df[f].cast(pl.Float32).fill_null(np.nan).to_numpy() for f in FIELDS}
    rows = np.concatenate(([0], np.cumsum(lengths)))
    out = _feature_buffer(len(df))

    def run(span: tuple[int, int]) -> None:
        a, b = span
        r0, r1 = rows[a], rows[b]
        _chunk_features({f: x[r0:r1] for f, x in raw.items()}, lengths[a:b], out[:, r0:r1])

    if len(df):
        workers = max_workers or min(os.cpu_count() or 1, 8)
        with ThreadPoolExecutor(workers) as ex:
            list(ex.map(run, _chunks(lengths)))
    cols = [pl.Series(name, out[k]) for k, name in enumerate(FEATURE_NAMES)]
    return df.select(symbol_col, date_col).with_columns(cols)


def compute_label(bars: pl.DataFrame, *, symbol_col: str = "symbol", date_col: str = "date") -> pl.DataFrame:
    """symbol, date, LABEL0 = Ref($close, -2)/Ref($close, -1) - 1 in float32 (forward-looking: NaN on
    the last two rows of each symbol)."""
    missing = [c for c in (symbol_col, date_col, "close") if c not in bars.columns]
    if missing:
        raise ValueError(f"bars lacks column(s) {missing}")
    df = bars.select(symbol_col, date_col, "close").sort(symbol_col, date_col, maintain_order=True)
    c = pl.col("close").cast(pl.Float32).fill_null(float("nan"))
    label = c.shift(-2).over(symbol_col) / c.shift(-1).over(symbol_col) - pl.lit(1.0, dtype=pl.Float32)
    return df.select(symbol_col, date_col, label.fill_null(float("nan")).alias(LABEL_NAME))
