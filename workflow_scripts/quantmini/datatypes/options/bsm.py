"""Black-Scholes-Merton for European options on a stock with a continuous dividend yield, vectorised.

    d1 = (ln(S/K) + (r - q + sigma^2/2) T) / (sigma sqrt T),   d2 = d1 - sigma sqrt T
    call = S e^{-qT} N(d1) - K e^{-rT} N(d2),   put = K e^{-rT} N(-d2) - S e^{-qT} N(-d1)

Units: T in years (calendar days / 365), r and q continuous annual rates, sigma annual.
Greeks: delta = dV/dS, gamma = d2V/dS2, vega = dV/dsigma (per 1.00 of vol, i.e. per 100 vol points),
theta = dV/dt (per year of calendar time, = -dV/dT; divide by 365 for a per-day figure).

`implied_vol` is a safeguarded Newton solver over whole arrays: Newton steps on sigma, kept inside a
bracket [lo, hi] that always holds the root (price is increasing in sigma), with a bisection step
whenever Newton would leave it or vega is tiny. It returns NaN -- never a made-up number -- where no
volatility fits: T <= 0, a non-finite or non-positive input, a price on or outside the no-arbitrage
bounds (call: max(0, S e^{-qT} - K e^{-rT}) < price < S e^{-qT}; put: max(0, K e^{-rT} - S e^{-qT}) <
price < K e^{-rT}), or a price that needs a vol beyond [SIGMA_MIN, SIGMA_MAX].
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

SIGMA_MIN = 1e-6
SIGMA_MAX = 20.0
_SQRT_2PI = np.sqrt(2.0 * np.pi)


def _pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / _SQRT_2PI


def _arrays(*xs):
    return np.broadcast_arrays(*(np.asarray(x, dtype=np.float64) for x in xs))


def _d1d2(S, K, T, r, q, sigma):
    sq = sigma * np.sqrt(T)
    d1 = (np.log(S / K) + (r - q + 0.5 * sigma * sigma) * T) / sq
    return d1, d1 - sq


def price(S, K, T, r, q, sigma, is_call) -> np.ndarray:
    """BSM price; NaN where T <= 0 or sigma <= 0 (use the intrinsic value there if you need one)."""
    S, K, T, r, q, sigma = _arrays(S, K, T, r, q, sigma)
    is_call = np.broadcast_to(np.asarray(is_call, dtype=bool), S.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        d1, d2 = _d1d2(S, K, T, r, q, sigma)
        fq, fr = S * np.exp(-q * T), K * np.exp(-r * T)
        out = np.where(is_call, fq * ndtr(d1) - fr * ndtr(d2), fr * ndtr(-d2) - fq * ndtr(-d1))
    return np.where((T > 0) & (sigma > 0), out, np.nan)


def greeks(S, K, T, r, q, sigma, is_call) -> dict[str, np.ndarray]:
    """delta, gamma, vega, theta (units in the module docstring); NaN where sigma is NaN or T <= 0."""
    S, K, T, r, q, sigma = _arrays(S, K, T, r, q, sigma)
    is_call = np.broadcast_to(np.asarray(is_call, dtype=bool), S.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        d1, d2 = _d1d2(S, K, T, r, q, sigma)
        eq, er = np.exp(-q * T), np.exp(-r * T)
        sqt = np.sqrt(T)
        pdf1 = _pdf(d1)
        delta = np.where(is_call, eq * ndtr(d1), eq * (ndtr(d1) - 1.0))
        gamma = eq * pdf1 / (S * sigma * sqt)
        vega = S * eq * pdf1 * sqt
        decay = -S * eq * pdf1 * sigma / (2.0 * sqt)
        theta = np.where(is_call,
                         decay + q * S * eq * ndtr(d1) - r * K * er * ndtr(d2),
                         decay - q * S * eq * ndtr(-d1) + r * K * er * ndtr(-d2))
    ok = (T > 0) & (sigma > 0)
    return {k: np.where(ok, v, np.nan) for k, v in
            (("delta", delta), ("gamma", gamma), ("vega", vega), ("theta", theta))}


def bounds(S, K, T, r, q, is_call) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) no-arbitrage bounds of a European price (module docstring)."""
    S, K, T, r, q = _arrays(S, K, T, r, q)
    fq, fr = S * np.exp(-q * T), K * np.exp(-r * T)
    lower = np.where(is_call, np.maximum(fq - fr, 0.0), np.maximum(fr - fq, 0.0))
    upper = np.where(is_call, fq, fr)
    return lower, upper


def implied_vol(value, S, K, T, r, q, is_call, *, tol: float = 1e-10, max_iter: int = 100) -> np.ndarray:
    """The sigma with price(sigma) == value, elementwise; NaN where none fits (module docstring)."""
    value, S, K, T, r, q = _arrays(value, S, K, T, r, q)
    is_call = np.broadcast_to(np.asarray(is_call, dtype=bool), value.shape)
    out = np.full(value.shape, np.nan)
    finite = np.isfinite(value) & np.isfinite(S) & np.isfinite(K) & np.isfinite(T) & np.isfinite(r) & np.isfinite(q)
    ok = finite & (S > 0) & (K > 0) & (T > 0) & (value > 0)
    lower, upper = bounds(np.where(ok, S, 1.0), np.where(ok, K, 1.0), np.where(ok, T, 1.0), r, q, is_call)
    ok &= (value > lower) & (value < upper)
    idx = np.flatnonzero(ok)
    if not idx.size:
        return out
    v, s, k, t, rr, qq, c = (a.ravel()[idx] for a in (value, S, K, T, r, q, is_call))
    lo = np.full(idx.size, SIGMA_MIN)
    hi = np.full(idx.size, SIGMA_MAX)
    fits = (price(s, k, t, rr, qq, lo, c) < v) & (price(s, k, t, rr, qq, hi, c) > v)
    # start from the Brenner-Subrahmanyam ATM approximation, kept inside the bracket
    sigma = np.clip(np.sqrt(2.0 * np.pi / t) * v / s, 0.05, 3.0)
    active = fits.copy()
    for _ in range(max_iter):
        if not active.any():
            break
        a = np.flatnonzero(active)
        sa = sigma[a]
        f = price(s[a], k[a], t[a], rr[a], qq[a], sa, c[a]) - v[a]
        vega = greeks(s[a], k[a], t[a], rr[a], qq[a], sa, c[a])["vega"]
        done = np.abs(f) <= tol * np.maximum(1.0, v[a])
        lo[a] = np.where(f < 0, sa, lo[a])
        hi[a] = np.where(f > 0, sa, hi[a])
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            newton = sa - f / vega
        inside = np.isfinite(newton) & (newton > lo[a]) & (newton < hi[a]) & (vega > 1e-12)
        nxt = np.where(inside, newton, 0.5 * (lo[a] + hi[a]))
        done |= (hi[a] - lo[a]) <= 1e-14 * np.maximum(1.0, hi[a])
        sigma[a] = np.where(done, sa, nxt)
        active[a[done]] = False
    result = np.where(fits, sigma, np.nan)
    flat = out.ravel()
    flat[idx] = result
    return flat.reshape(value.shape)
