"""Qlib's Alpha158 factors computed over a whole frame of bars, with the numbers pyqlib 0.9.7 gives.

Why not call pyqlib: its expression engine evaluates every expression per instrument with pandas
(Rank, IdxMax/IdxMin and Quantile through Python callbacks per window), ~25 s for 500 tickers x
1,260 sessions on two cores. Here every operator is one vectorised kernel over all symbols at once
(``quantmini.rolling``), which reproduces pyqlib's semantics and precision:

- Inputs are rounded to float32 first (pyqlib reads float32 .bin files) and the element-wise parts
  of each expression run in float32 exactly as numpy runs them inside pyqlib (so KMID, ROC5,
  ``$close/Ref($close,1)`` ... are bit-identical); rolling operators work in float64 on those values,
  like pandas; every result is rounded to float32 at the end, like ``D.features``.
- Point in time: a feature at session t reads rows up to t only (windows end at t, Ref looks back).
  The label, the only forward-looking column, is computed separately by ``compute_label``.

Rows: one per (symbol, session) of the symbol's span, a session without a bar being a row of nulls
(as gold holds them). NaN marks a missing value in the output (never null).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl

from quantmini.rolling import (
    PAD,
    STD_ZERO,
    WINDOWS,
    Layout,
    Moments,
    finite_or_nan,
    idx_extreme,
    rolling_std,
    window_corr,
    window_quantiles,
    window_rank,
    window_regression,
)

FIELDS = ("open", "high", "low", "close", "volume", "vwap")
LABEL_NAME = "LABEL0"
LABEL_EXPRESSION = "Ref($close, -2)/Ref($close, -1) - 1"
CHUNK_ROWS = 1 << 16  # padded rows per chunk: working arrays stay in cache, chunks run in threads


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


# ------------------------------------------------------------------------------------- one chunk


def _chunk_features(raw: dict[str, np.ndarray], lengths: np.ndarray, out: np.ndarray) -> None:
    """All 158 features of a run of whole symbols. raw: float32 per field (rows symbol-major, in
    session order); out: (158, rows) float32 view to fill."""
    lay = Layout.for_lengths(lengths)
    o, h, l, c, v, vw = (raw[f] for f in FIELDS)

    def put(name: str, values: np.ndarray) -> None:
        out[_INDEX[name]] = values

    e32, one32, zero32 = np.float32(1e-12), np.float32(1), np.float32(0)
    with np.errstate(all="ignore"):
        # --- element-wise, in float32 like numpy inside pyqlib
        hl = h - l + e32
        for name, num in (("KMID", c - o), ("KUP", h - np.maximum(o, c)), ("KLOW", np.minimum(o, c) - l),
                          ("KSFT", 2 * c - h - l)):
            put(name, num / o)
            put(name + "2", num / hl)
        put("KLEN", (h - l) / o)
        for name, x in (("OPEN0", o), ("HIGH0", h), ("LOW0", l), ("VWAP0", vw)):
            put(name, x / c)
        for d in WINDOWS:
            put(f"ROC{d}", lay.ref(c, d) / c)

        c_prev, v_prev = lay.ref(c, 1), lay.ref(v, 1)
        cd = c.astype(np.float64)  # $close as float64 (the divisor after a rolling op)
        cf = finite_or_nan(c)
        mc = Moments.of(lay, cf, center=True)
        c_std = rolling_std(lay, cf, mc)
        c_flat = {d: s <= STD_ZERO for d, s in c_std.items()}

        # --- Mean / Std / Slope / Rsquare / Resi of $close
        slope, rsq, resi = window_regression(lay, mc)
        for d in WINDOWS:
            put(f"MA{d}", mc.mean(d) / cd)
            put(f"STD{d}", c_std[d] / cd)
            put(f"BETA{d}", slope[d] / cd)
            r = rsq[d]
            r[c_flat[d]] = np.nan
            put(f"RSQR{d}", r)
            put(f"RESI{d}", resi[d] / cd)

        # --- Max/Min/IdxMax/IdxMin of $high / $low, RSV
        hmax, himax = idx_extreme(lay, h, "max")
        lmin, limin = idx_extreme(lay, l, "min")
        for d in WINDOWS:
            put(f"MAX{d}", hmax[d] / cd)
            put(f"MIN{d}", lmin[d] / cd)
            put(f"RSV{d}", (cd - lmin[d]) / (hmax[d] - lmin[d] + 1e-12))
            put(f"IMAX{d}", himax[d] / d)
            put(f"IMIN{d}", limin[d] / d)
            put(f"IMXD{d}", (himax[d] - limin[d]) / d)

        # --- Quantile / Rank of $close
        qs = window_quantiles(lay, c, (0.8, 0.2))
        ranks = window_rank(lay, c, mc.n)
        for d in WINDOWS:
            put(f"QTLU{d}", qs[d][0] / cd)
            put(f"QTLD{d}", qs[d][1] / cd)
            put(f"RANK{d}", ranks[d])

        # --- Corr($close, Log($volume+1)) and Corr of the daily ratios
        def moments_and_flat(x, center=False):
            m = Moments.of(lay, x, center=center)
            return m, {d: s <= STD_ZERO for d, s in rolling_std(lay, x, m).items()}

        my, ly_flat = moments_and_flat(finite_or_nan(np.log(v + one32)))
        corr = window_corr(lay, mc, my, c_flat, ly_flat)
        mrx, rx_flat = moments_and_flat(finite_or_nan(c / c_prev), center=True)
        mry, ry_flat = moments_and_flat(finite_or_nan(np.log(v / v_prev + one32)))
        cord = window_corr(lay, mrx, mry, rx_flat, ry_flat)
        for d in WINDOWS:
            put(f"CORR{d}", corr[d])
            put(f"CORD{d}", cord[d])

        # --- counts of up/down days: Mean of a boolean over all of the symbol's rows
        n_up, n_dn = lay.window_sums((c > c_prev).astype(np.float64), (c < c_prev).astype(np.float64))
        for d in WINDOWS:
            p, q = n_up[d] / lay.full[d], n_dn[d] / lay.full[d]
            put(f"CNTP{d}", p)
            put(f"CNTN{d}", q)
            put(f"CNTD{d}", p - q)

        # --- gains / losses / total moves of $close and $volume
        for prefix, x, x_prev in (("", c, c_prev), ("V", v, v_prev)):
            diff = x - x_prev
            missing = ~np.isfinite(diff)
            n = lay.counts(~missing)
            gain = np.maximum(diff, zero32).astype(np.float64)
            loss = np.maximum(x_prev - x, zero32).astype(np.float64)
            move = np.abs(diff).astype(np.float64)
            for arr in (gain, loss, move):
                arr[missing] = 0.0
            gain, loss, move = lay.window_sums(gain, loss, move)
            for d in WINDOWS:
                none = n[d] == 0
                g, s_, m = gain[d], loss[d], move[d] + 1e-12
                g[none] = s_[none] = m[none] = np.nan
                put(f"{prefix}SUMP{d}", g / m)
                put(f"{prefix}SUMN{d}", s_ / m)
                put(f"{prefix}SUMD{d}", (g - s_) / m)

        # --- volume level, dispersion, and volume-weighted price moves
        vf = finite_or_nan(v)
        mv = Moments.of(lay, vf)
        v_std = rolling_std(lay, vf, mv)
        v_e = (v + e32).astype(np.float64)
        wv = finite_or_nan(np.abs(c / c_prev - one32) * v)
        mw = Moments.of(lay, wv)
        wv_std = rolling_std(lay, wv, mw)
        for d in WINDOWS:
            put(f"VMA{d}", mv.mean(d) / v_e)
            put(f"VSTD{d}", v_std[d] / v_e)
            put(f"WVMA{d}", wv_std[d] / (mw.mean(d) + 1e-12))


# -------------------------------------------------------------------------------------- the frame


def _sorted_bars(bars: pl.DataFrame, symbol_col: str, date_col: str) -> pl.DataFrame:
    missing = [c for c in (symbol_col, date_col, *FIELDS) if c not in bars.columns]
    if missing:
        raise ValueError(f"bars lacks column(s) {missing}")
    df = bars.select(symbol_col, date_col, *FIELDS).sort(symbol_col, date_col, maintain_order=True)
    dup = df.select(
        ((pl.col(symbol_col) == pl.col(symbol_col).shift(1)) & (pl.col(date_col) == pl.col(date_col).shift(1))).any()
    ).item()
    if dup:
        raise ValueError("bars has more than one row for a (symbol, date)")
    return df


def _chunks(lengths: np.ndarray) -> list[tuple[int, int]]:
    """Consecutive symbol ranges of about CHUNK_ROWS padded rows each."""
    out, lo, acc = [], 0, 0
    for i, n in enumerate((lengths + PAD).tolist()):
        if acc and acc + n > CHUNK_ROWS:
            out.append((lo, i))
            lo, acc = i, 0
        acc += n
    if lo < len(lengths):
        out.append((lo, len(lengths)))
    return out


def compute(
    bars: pl.DataFrame, *, symbol_col: str = "symbol", date_col: str = "date", max_workers: int | None = None
) -> pl.DataFrame:
    """symbol, date and the 158 Alpha158 features (Float32, NaN where Qlib gives NaN), sorted by
    (symbol, date). bars: adjusted open, high, low, close, volume, vwap, one row per session of each
    symbol's span (nulls where the symbol has no bar)."""
    df = _sorted_bars(bars, symbol_col, date_col)
    lengths = df.group_by(symbol_col, maintain_order=True).len()["len"].to_numpy().astype(np.int64)
    raw = {f: df[f].cast(pl.Float32).fill_null(np.nan).to_numpy() for f in FIELDS}
    rows = np.concatenate(([0], np.cumsum(lengths)))
    out = np.empty((len(FEATURE_NAMES), len(df)), dtype=np.float32)

    def run(span: tuple[int, int]) -> None:
        a, b = span
        r0, r1 = rows[a], rows[b]
        _chunk_features({f: x[r0:r1] for f, x in raw.items()}, lengths[a:b], out[:, r0:r1])

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
