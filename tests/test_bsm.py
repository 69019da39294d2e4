"""Pure-function tests of options.bsm: textbook values, parity, greeks vs finite differences, the solver."""

import numpy as np
import pytest
from quantmini.datatypes.options import bsm


def test_hull_worked_example():
    # Hull, Options Futures and Other Derivatives, Example 15.6: S=42, K=40, r=10%, sigma=20%, T=0.5
    call = bsm.price(42.0, 40.0, 0.5, 0.10, 0.0, 0.20, True)
    put = bsm.price(42.0, 40.0, 0.5, 0.10, 0.0, 0.20, False)
    assert call == pytest.approx(4.76, abs=0.005)
    assert put == pytest.approx(0.81, abs=0.005)
    # by hand: d1 = (ln(1.05) + 0.12*0.5) / (0.2*sqrt(0.5)) = 0.7693, d2 = 0.6278
    d1 = (np.log(42 / 40) + 0.12 * 0.5) / (0.2 * np.sqrt(0.5))
    assert d1 == pytest.approx(0.7693, abs=1e-4)
    g = bsm.greeks(42.0, 40.0, 0.5, 0.10, 0.0, 0.20, True)
    assert g["delta"] == pytest.approx(0.7791, abs=1e-4)  # N(0.7693)


def _grid(n=4000, seed=1):
    g = np.random.default_rng(seed)
    S = g.uniform(5, 500, n)
    K = S * np.exp(g.uniform(-0.5, 0.5, n))
    T = g.uniform(2 / 365, 2.0, n)
    r = g.uniform(-0.01, 0.08, n)
    q = g.uniform(0.0, 0.06, n)
    sig = g.uniform(0.05, 1.5, n)
    call = g.random(n) < 0.5
    return S, K, T, r, q, sig, call


def test_put_call_parity():
    S, K, T, r, q, sig, _ = _grid()
    c = bsm.price(S, K, T, r, q, sig, True)
    p = bsm.price(S, K, T, r, q, sig, False)
    np.testing.assert_allclose(c - p, S * np.exp(-q * T) - K * np.exp(-r * T), atol=1e-9 * S.max())


def test_greeks_match_finite_differences():
    S, K, T, r, q, sig, call = _grid(2000, seed=2)
    g = bsm.greeks(S, K, T, r, q, sig, call)
    hS, hv, hT = 1e-4 * S, 1e-5, 1e-6
    p = lambda s=S, t=T, v=sig: bsm.price(s, K, t, r, q, v, call)  # noqa: E731
    delta = (p(s=S + hS) - p(s=S - hS)) / (2 * hS)
    gamma = (p(s=S + hS) - 2 * p() + p(s=S - hS)) / hS**2
    vega = (p(v=sig + hv) - p(v=sig - hv)) / (2 * hv)
    theta = -(p(t=T + hT) - p(t=T - hT)) / (2 * hT)
    np.testing.assert_allclose(g["delta"], delta, atol=1e-6)
    np.testing.assert_allclose(g["vega"], vega, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(g["theta"], theta, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(g["gamma"], gamma, rtol=2e-3, atol=1e-5)


def test_implied_vol_recovers_sigma():
    S, K, T, r, q, sig, call = _grid(20000, seed=3)
    value = bsm.price(S, K, T, r, q, sig, call)
    iv = bsm.implied_vol(value, S, K, T, r, q, call)
    vega = bsm.greeks(S, K, T, r, q, sig, call)["vega"]
    good = vega > 1e-3 * S  # elsewhere the price barely moves with sigma: the solver may stop anywhere close
    assert good.mean() > 0.8
    np.testing.assert_allclose(iv[good], sig[good], atol=1e-7)
    assert np.isfinite(iv[value > 1e-8]).mean() > 0.99


def test_implied_vol_nan_where_no_vol_fits():
    S, K, T, r, q = 100.0, 100.0, 0.5, 0.03, 0.01
    lower_c = S * np.exp(-q * T) - K * np.exp(-r * T)
    values = np.array([lower_c - 0.5, max(lower_c, 0.0), S * np.exp(-q * T), S * 1.2, -1.0, np.nan, 5.0])
    iv = bsm.implied_vol(values, S, K, T, r, q, True)
    assert np.isnan(iv[:6]).all()
    assert np.isfinite(iv[6])
    # expiry day, zero or negative time: no vol
    assert np.isnan(bsm.implied_vol(1.0, S, K, 0.0, r, q, True))
    # put below intrinsic (deep ITM, rounded down): no vol
    assert np.isnan(bsm.implied_vol(29.0, 70.0, 100.0, 0.1, r, 0.0, False))
    # a price that needs more vol than SIGMA_MAX: NaN, not a clipped number
    near_upper = bsm.price(S, 300.0, 0.01, r, q, bsm.SIGMA_MAX * 1.5, True)
    assert np.isnan(bsm.implied_vol(near_upper, S, 300.0, 0.01, r, q, True))


def test_shapes_and_scalars():
    iv = bsm.implied_vol(np.full((3, 2), 10.0), 100.0, 100.0, 1.0, 0.0, 0.0, np.array([True, False]))
    assert iv.shape == (3, 2) and np.isfinite(iv).all()
