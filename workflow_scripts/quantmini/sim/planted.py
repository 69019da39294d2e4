"""Planted news sentiment: a known predictive signal and a known leak, to test a research pipeline end to end.

Both are OFF by default (the default market and its news are unchanged, byte for byte). With
`MarketConfig(plant_signal=s, plant_leak=l)`, the signal goes to the securities of even index and the
leak to those of odd index (so one lake holds both, apart: a model trained on either half sees only
one), and each (article, ticker) insight whose ticker has the bars needed gets its sentiment
replaced, with probability s (even) or l (odd), from a uniform of its own stream (seed, 302, day), by:

- even: the SIGNAL: the sign of the Alpha158 label of the article's session a (the first session whose
  close is at or after its publication): adj_close[a+2] / adj_close[a+1] - 1. Public at a's close, it
  predicts the return a model trading on a's data is scored on: a point-in-time model finds it.
- odd: the LEAK: the sign of the label of session a-3, adj_close[a-1] / adj_close[a-2] - 1,
  the last close-to-close move completed when the article is published. A model that reads the data
  point in time sees, on session t, the label of t-3 (already realised, useless for t's label); only a
  model that sees 3 sessions ahead would read t's label from it.

positive/negative by the sign (neutral when the move is exactly 0); the rest of the draw is untouched.
Near the market's end the signal needs two sessions that do not exist yet, so with plant_signal on the
last two sessions' news is not prefix-stable (research mode only).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np

from quantmini import calendar

STREAM = 302
LEAK_LAG = 3  # the leak tells the label of the session this many sessions before the article's


@lru_cache(maxsize=4)
def _returns(market) -> np.ndarray:
    """(session, security) CRSP-adjusted close-to-close return; NaN where either bar is missing."""
    n, k = market.N, len(market.first_idx)
    rows = np.repeat(np.arange(n), k)
    cols = np.tile(np.arange(k), n)
    adj = (market.c[rows, cols].astype(np.float64) * market.crsp_factor(rows, cols)).reshape(n, k)
    t = np.arange(n)[:, None]
    adj[(t < market.first_idx[None, :]) | (t > market.last_idx[None, :])] = np.nan
    out = np.full((n, k), np.nan)
    out[1:] = adj[1:] / adj[:-1] - 1.0
    return out


def article_session(market, day: dt.date, published: dt.datetime) -> int:
    """Offset of the first session whose close is at or after `published` (may be market.N: none yet)."""
    i = int(np.searchsorted(market.session_days, np.datetime64(day, "D"), "left"))
    if i < market.N and market.session_days[i] == np.datetime64(day, "D"):
        if published > calendar.session_bounds_utc(day)[1]:
            i += 1
    return i


def tilt(market, day: dt.date, k: int, published: dt.datetime, picked: np.ndarray,
         sentiment: np.ndarray) -> np.ndarray:
    """The k-th article of `day`: its sentiment codes (0 positive, 1 neutral, 2 negative) per picked security."""
    cfg = market.config
    u = np.random.default_rng(np.random.SeedSequence(cfg.seed, spawn_key=(STREAM, day.toordinal(), k))).random(
        len(picked))
    a = article_session(market, day, published)
    ret = _returns(market)
    out = sentiment.copy()
    for x, j in enumerate(picked):
        if j % 2 == 0 and u[x] < cfg.plant_signal:
            t = a + 2
        elif j % 2 == 1 and u[x] < cfg.plant_leak:
            t = a - LEAK_LAG + 2
        else:
            continue
        if 1 <= t < market.N and np.isfinite(ret[t, j]):
            out[x] = 0 if ret[t, j] > 0 else (2 if ret[t, j] < 0 else 1)
    return out
