"""quantmini.datatypes.stocks_daily.alpha158 against real pyqlib 0.9.7 on the same provider directory.

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
from quantmini.calendar import sessions
from quantmini.datatypes.stocks_daily import alpha158, rolling
from quantmini.qlib_reader import pyqlib_features
from quantmini.qlib_writer import publish

CAL = sessions("2023-01-03", "2024-03-28")  # 312 sessions
RTOL = 1e-5  # |ours - pyqlib| <= RTOL * max(1, |pyqlib|), and NaN exactly where pyqlib has NaN


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
    add("PIN", 0, n, {"open": p, "high": p + 0.01, "low": p - 0.01, "close": p,
                      "volume": rng.integers(1, 50, n) * 100.0, "vwap": p})
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
    # degenerate values: zero prices and volumes for a stretch (x/0 and 0/0 everywhere), no data at all
    d = _walk(rng, 120, 3.0, tick=0.01)
    for col in d:
        d[col][40:70] = 0.0
    add("ZERO", 100, 220, d)
    add("EMPTY", 10, 40, {col: np.full(30, np.nan) for col in alpha158.FIELDS})
    return pl.concat(frames).with_columns(pl.col("date").cast(pl.Date))


def market_bars(cal: list[date] = CAL) -> pl.DataFrame:
    """The simulator's demo market, adjusted, calendar-aligned, one symbol per security."""
    from quantmini.sim.market import Market, MarketConfig

    adj = Market(MarketConfig(n_tickers=50, start=cal[0], end=cal[-1])).daily_adjusted()
    bars = adj.select(
        pl.format("M{}", pl.col("security_id")).alias("symbol"), "date",
        *[pl.col(f"adj_{f}").alias(f) for f in alpha158.FIELDS],
    )
    return calendar_aligned(bars, cal)


def calendar_aligned(bars: pl.DataFrame, cal: list[date]) -> pl.DataFrame:
    """One row per session of each symbol's span, nulls where it has no bar (gold's layout)."""
    grid = pl.DataFrame({"date": cal}).with_columns(pl.col("date").cast(pl.Date))
    spans = bars.group_by("symbol").agg(pl.col("date").min().alias("lo"), pl.col("date").max().alias("hi"))
    full = spans.join(grid, how="cross").filter(pl.col("date").is_between(pl.col("lo"), pl.col("hi")))
    return full.select("symbol", "date").join(bars, on=["symbol", "date"], how="left").sort("symbol", "date")


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
            worst = np.nanmax(np.where(both, err, 0))
            bad[name] = (f"{int(off.sum())} rows, e.g. {ref.index[k]}: ours {a[k]!r} pyqlib {b[k]!r}"
                         f" (nan-mismatch {int((na != nb).sum())}, max rel err {worst:.2e})")
    return bad


# ------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def bars() -> pl.DataFrame:
    return pl.concat([awkward_bars(), market_bars()])


@pytest.fixture(scope="module")
def reference(bars, tmp_path_factory) -> pd.DataFrame:
    return pyqlib_reference(tmp_path_factory.mktemp("alpha158"), bars, CAL)


def ours_indexed(bars: pl.DataFrame) -> pd.DataFrame:
    feats = alpha158.compute(bars)
    return as_pandas(feats.join(alpha158.compute_label(bars), on=["symbol", "date"]))


# ---------------------------------------------------------------------------------------------- tests


def test_names_and_expressions_are_qlibs():
    from qlib.contrib.data.loader import Alpha158DL

    fields, names = Alpha158DL.get_feature_config()
    assert alpha158.FEATURE_NAMES == names
    assert [alpha158.QLIB_EXPRESSIONS[n] for n in names] == fields


def _general_path_everywhere(monkeypatch):
    """Send every symbol through the general path (pandas' std replayed, materialised window sums)."""
    monkeypatch.setattr(rolling.Layout, "equal_run_symbols", lambda self, x: np.ones(len(self.lengths), dtype=bool))


@pytest.mark.parametrize("path", ["as-is", "general-path-everywhere"])
def test_every_feature_and_the_label_match_pyqlib(bars, reference, monkeypatch, path):
    assert len(reference) == len(bars)  # pyqlib has a row for every session of every span, as we do
    if path != "as-is":
        _general_path_everywhere(monkeypatch)
    ours = ours_indexed(bars)
    assert list(ours.columns) == [*alpha158.FEATURE_NAMES, alpha158.LABEL_NAME]
    assert all(ours[n].dtype == np.float32 for n in ours.columns)
    bad = mismatches(ours, reference, [*alpha158.FEATURE_NAMES, alpha158.LABEL_NAME])
    assert not bad, "\n".join(f"{k}: {v}" for k, v in bad.items())
    # the data reaches the awkward branches: NaN warm-ups, masks, zero volume, ties
    assert reference["RSQR20"].loc["FLAT"].isna().sum() > 40  # Rsquare masked on constant prices
    assert reference["CORD5"].loc["ZVOL"].iloc[104:110].isna().all()  # 0/0 and x/0 volume ratios
    doubled = (reference["RANK5"].loc["RW1"].iloc[5:] * 10).round(4)  # 2 * average rank in full windows
    assert (doubled % 2 == 1).sum() > 5  # ties, ranked by their average


def _ddof0(monkeypatch):
    _general_path_everywhere(monkeypatch)
    orig = rolling.rolling_std

    def std_ddof0(lay, x, mom):
        with np.errstate(all="ignore"):
            return orig(lay, x, mom) * np.sqrt((mom.n - 1) / mom.n)

    monkeypatch.setattr(rolling, "rolling_std", std_ddof0)
    return ["STD", "VSTD", "WVMA"]


def _min_rank(monkeypatch):
    @rolling.ufunc("float64(float64, float64, float64, float32)")
    def min_rank(less, same, n, last):
        return np.nan if last != last else (less + 1.0) / n

    monkeypatch.setattr(rolling, "_pct_rank", min_rank)
    return ["RANK"]


def _zero_based_idx(monkeypatch):
    orig = rolling.idx_extreme

    def idx0(lay, x, kind):
        ext, pos = orig(lay, x, kind)
        return ext, pos - 1

    monkeypatch.setattr(rolling, "idx_extreme", idx0)
    return ["IMAX", "IMIN"]


def _corr_unmasked(monkeypatch):
    def corr(lay, x, y):  # Qlib's std ~ 0 mask dropped
        mx, my = rolling.Moments.of(lay, x), rolling.Moments.of(lay, y)
        return rolling.window_corr(lay, mx, my, np.ones_like(mx.s1), np.ones_like(my.s1))

    monkeypatch.setattr(rolling, "corr", corr)
    return ["CORR", "CORD"]


def _full_windows_only(monkeypatch):
    orig = rolling.window_quantiles

    def quantiles(lay, x, qs, divisor=None, out=None):
        q = orig(lay, x, qs, divisor=divisor, out=out)
        q[:, lay.tl[None, :] < np.asarray(rolling.WINDOWS)[:, None] - 1] = np.nan  # min_periods = w
        return q

    monkeypatch.setattr(rolling, "window_quantiles", quantiles)
    return ["QTLU", "QTLD"]


@pytest.mark.parametrize("alter", [_ddof0, _min_rank, _zero_based_idx, _corr_unmasked, _full_windows_only],
                         ids=["std-ddof0", "rank-min-ties", "idxmax-0-based", "corr-no-std-mask", "no-warm-up"])
def test_comparison_catches_a_changed_operator(bars, reference, monkeypatch, alter):
    """The comparison is sharp: one operator with other semantics makes it fail on that operator's
    features (every group named by the alteration) and leaves the others matching."""
    groups = alter(monkeypatch)
    bad = mismatches(ours_indexed(bars), reference, alpha158.FEATURE_NAMES)
    missed = [g for g in groups if not any(n.rstrip("0123456789") == g for n in bad)]
    assert not missed, f"alteration not caught in {missed}; mismatching: {sorted(bad)}"
    assert all(n.rstrip("0123456789") in groups for n in bad), f"collateral mismatches: {sorted(bad)}"


def test_point_in_time(bars):
    """A feature at session t reads rows up to t only: changing or dropping later rows changes nothing."""
    cut = CAL[200]
    full = alpha158.compute(bars).filter(pl.col("date") <= cut)
    altered = bars.with_columns(
        [pl.when(pl.col("date") > cut).then(pl.col(f) * 3.0 + 1.0).otherwise(pl.col(f)).alias(f)
         for f in alpha158.FIELDS]
    )
    for variant in (altered, bars.filter(pl.col("date") <= cut)):
        got = alpha158.compute(variant).filter(pl.col("date") <= cut)
        a = full.select(alpha158.FEATURE_NAMES).to_numpy()
        b = got.select(alpha158.FEATURE_NAMES).to_numpy()
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-9, equal_nan=True)
    label = alpha158.compute_label(bars)  # the label alone looks ahead: its last two rows are NaN
    assert label.group_by("symbol").agg(pl.col("LABEL0").tail(2).is_nan().all())["LABEL0"].all()


def test_sixty_rows_of_history_suffice():
    """With 60 earlier sessions (61 for CORD60: Ref then a 60-row window) a feature no longer depends
    on older history: what a monthly partition with its look-back rows relies on."""
    rng = np.random.default_rng(3)
    n = 200
    frames = [pl.DataFrame({"symbol": f"S{k}", "date": CAL[:n], **_walk(rng, n, 20.0 + 10 * k)}) for k in range(6)]
    bars = pl.concat(frames).with_columns(pl.col("date").cast(pl.Date))
    full = alpha158.compute(bars)
    tail = alpha158.compute(bars.filter(pl.col("date") >= CAL[n - 80]))
    check = full.filter(pl.col("date") >= CAL[n - 80 + 61])
    got = tail.filter(pl.col("date") >= CAL[n - 80 + 61])
    np.testing.assert_allclose(got.select(alpha158.FEATURE_NAMES).to_numpy(),
                               check.select(alpha158.FEATURE_NAMES).to_numpy(), rtol=1e-6, atol=1e-7)


def test_rows_come_back_sorted_with_any_symbol_type_and_input_order():
    bars = awkward_bars().filter(pl.col("symbol").is_in(["RW0", "GAPS", "TINY"]))
    ref = alpha158.compute(bars)
    keyed = bars.with_columns(pl.col("symbol").replace_strict({"RW0": 3, "GAPS": 1, "TINY": 2}).alias("security"))
    got = alpha158.compute(keyed.drop("symbol").sample(fraction=1.0, shuffle=True, seed=1), symbol_col="security")
    assert got["security"].to_list() == sorted(got["security"].to_list())
    by_symbol = ref.with_columns(pl.col("symbol").replace_strict({"RW0": 3, "GAPS": 1, "TINY": 2}).alias("security"))
    expect = by_symbol.drop("symbol").sort("security", "date").select(got.columns)
    assert got.equals(expect)


def test_bad_input_is_refused():
    bars = awkward_bars().filter(pl.col("symbol") == "SHRT")
    with pytest.raises(ValueError, match="lacks"):
        alpha158.compute(bars.drop("vwap"))
    with pytest.raises(ValueError, match="more than one row"):
        alpha158.compute(pl.concat([bars, bars.head(1)]))
    empty = alpha158.compute(bars.head(0))
    assert empty.height == 0 and empty.columns[2:] == alpha158.FEATURE_NAMES


# ------------------------------------------------------------------ kernels against pandas, one by one


def _kernel_series(seed: int = 5) -> tuple[rolling.Layout, np.ndarray]:
    """Symbols of assorted lengths: ties (cent ticks), NaN gaps, a constant stretch after moves."""
    rng = np.random.default_rng(seed)
    lengths = np.array([1, 3, 7, 59, 60, 61, 130, 300])
    parts = []
    for n in lengths:
        x = np.round(20 + np.cumsum(rng.normal(0, 0.3, n)), 1)
        x[rng.random(n) < 0.05] = np.nan
        if n > 100:
            x[70:95] = x[69] if not np.isnan(x[69]) else 20.0
        parts.append(x.astype(np.float32))
    return rolling.Layout.for_lengths(lengths), np.concatenate(parts)


def _pandas_rolling(lay, x, fn):
    """fn(pandas Rolling) for every window, per symbol, stacked like our kernels."""
    out = np.empty((len(rolling.WINDOWS), lay.n))
    for i, w in enumerate(rolling.WINDOWS):
        for r0, n in zip(lay.row0, lay.lengths):
            out[i, r0 : r0 + n] = fn(pd.Series(x[r0 : r0 + n].astype(np.float64)).rolling(w, min_periods=1))
    return out


def test_std_equals_pandas_bit_for_bit_where_it_matters():
    lay, x = _kernel_series()
    xf = rolling.finite_or_nan(x)
    ours = rolling.rolling_std(lay, xf, rolling.Moments.of(lay, xf))
    ref = _pandas_rolling(lay, x, lambda r: r.std().to_numpy())
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-12, equal_nan=True)
    replayed = rolling.pandas_std(lay, xf)  # pandas' recurrence for every symbol: identical bits
    assert np.array_equal(replayed, ref, equal_nan=True)


def test_rank_quantile_idxmax_equal_pandas():
    lay, x = _kernel_series()
    n_valid = lay.counts(~np.isnan(x))
    np.testing.assert_array_equal(rolling.window_rank(lay, x, n_valid),
                                  _pandas_rolling(lay, x, lambda r: r.rank(pct=True).to_numpy()))
    q80, q20 = rolling.window_quantiles(lay, x, (0.8, 0.2))
    np.testing.assert_array_equal(q80, _pandas_rolling(lay, x, lambda r: r.quantile(0.8).to_numpy()))
    np.testing.assert_array_equal(q20, _pandas_rolling(lay, x, lambda r: r.quantile(0.2).to_numpy()))
    for kind, pick in (("max", np.argmax), ("min", np.argmin)):
        ext, pos = rolling.idx_extreme(lay, x, kind)
        ref_pos = _pandas_rolling(lay, x, lambda r: r.apply(lambda a: pick(a) + 1, raw=True).to_numpy())
        np.testing.assert_array_equal(pos, ref_pos)
        np.testing.assert_array_equal(ext, _pandas_rolling(lay, x, lambda r: getattr(r, kind)().to_numpy()))


def _pandas_corr_masked(lay, x, y):
    """What qlib.data.ops.Corr computes: pandas' rolling corr, NaN where either side's std is ~0."""
    ref = np.empty((len(rolling.WINDOWS), lay.n))
    masked = 0
    for i, w in enumerate(rolling.WINDOWS):
        for r0, n in zip(lay.row0, lay.lengths):
            a, b = pd.Series(x[r0 : r0 + n]), pd.Series(y[r0 : r0 + n])
            c = a.rolling(w, min_periods=1).corr(b).to_numpy()
            flat = np.isclose(a.rolling(w, min_periods=1).std(), 0, atol=2e-5) | np.isclose(
                b.rolling(w, min_periods=1).std(), 0, atol=2e-5)
            masked += int((flat & ~np.isnan(c)).sum())
            ref[i, r0 : r0 + n] = np.where(flat, np.nan, c)
    return ref, masked


@pytest.mark.parametrize("path", ["fused", "general"])
def test_corr_equals_pandas_with_qlibs_mask(path):
    """Both paths of rolling.corr: the fused one (both sides miss the same rows, no run of equal
    values) and the general one (here: rows where only y is missing)."""
    rng = np.random.default_rng(9)
    lay = rolling.Layout.for_lengths(np.array([1, 7, 61, 130, 300]))
    x = (30 + np.cumsum(rng.normal(0, 0.5, lay.n))).astype(np.float32)
    y = (x * 0.3 + rng.normal(0, 1, lay.n)).astype(np.float32)
    x[rng.random(lay.n) < 0.04] = np.nan
    y[np.isnan(x)] = np.nan
    r0 = lay.row0[-1]
    y[r0 + 150 : r0 + 200] = 5 + np.float32(4.76837158e-07) * rng.integers(0, 3, 50)  # std > 0 but < 2e-5
    if path == "general":
        y[rng.random(lay.n) < 0.03] = np.nan
    xf, yf = rolling.finite_or_nan(x), rolling.finite_or_nan(y)
    if path == "fused":  # every symbol takes the fused pass: no run of equal values, same missing rows
        assert not (lay.equal_run_symbols(xf) | lay.equal_run_symbols(yf)).any()
    ref, masked = _pandas_corr_masked(lay, xf, yf)
    assert masked > 0  # the nearly flat stretch reaches Qlib's mask
    np.testing.assert_allclose(rolling.corr(lay, xf, yf), ref, rtol=1e-9, atol=1e-12, equal_nan=True)
