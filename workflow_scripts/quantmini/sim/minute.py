"""Minute bars of the simulated market, generated lazily per (security, session) from its daily bar.

Why lazily: 12,000 tickers x years of ~600 bars a session cannot be materialised; a session's bars are
a pure function of (seed, security, session offset) and the stored daily bar, drawn from
`_rng(seed, 200, j, i)` (stocks) or `_rng(seed, 201, contract id, i)` (options) and kept in an LRU
cache. The daily bar does not depend on `end`, so neither do the minutes (prefix-stable).

Regular hours (09:30 ET to the XNYS close, 13:00 on half days, from exchange_calendars): one bar per
minute for stocks (390, or 210 on a half day), stamped at the minute's start in UTC epoch ms. They
aggregate EXACTLY to the raw daily bar, in ticks of 1/10,000 dollar:
    open = first minute's open, close = last minute's close, high = max(high), low = min(low),
    volume = sum(volume).
The path is a Brownian bridge from open to close squeezed inside [low, high]; each minute opens at
the previous minute's close; the minutes holding the path's extremes get the day's high and low as wicks.
Minute vwap = (h + l + c) / 3 rounded to the tick and clipped into [l, h]; minute transactions
n = max(1, round(n_day * v / v_day)). Neither aggregates exactly to the daily vw / n (the vendor's
daily vwap and count come from trades, not from minute bars): they agree only approximately.
Volume is split over the minutes with a U-shaped intraday profile, at least 1 share a minute (a day
with fewer shares than minutes trades in fewer minutes).

Extended hours (04:00 ET to the open, the close to 20:00 ET; to 17:00 after a 13:00 close): sparse bars
(each minute trades with a per-(security, session) probability of 10-40 %), a random walk ending at the
open (pre) or starting at the close (post), small volumes; not part of the daily bar.

Options: bars only in regular hours and only in few minutes (min(M, v_day, ~2-25)), the same generator.

Vendor errors (when `MarketConfig.vendor_errors`): about 1 % of (stock, session) pairs are served with a
run of 5-30 regular minutes missing (`vendor_gap`): the truth keeps them, the served response does not.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache

import numpy as np
import polars as pl

from quantmini import calendar
from quantmini.calendar import NY
from quantmini.sim.market import TICK, Market, _rng

MINUTE_MS = 60_000
PRE, REGULAR, POST = 0, 1, 2
SESSION_NAMES = ("pre", "regular", "post")
GAP_RATE = 0.01  # share of (stock, session) pairs served with missing regular minutes
COLUMNS = ("t", "o", "h", "l", "c", "vw", "v", "n", "session")


@lru_cache(maxsize=4096)
def session_window(day: dt.date) -> tuple[int, int, int, int]:
    """(pre start, regular open, regular close, post end) of a session, UTC epoch ms."""
    o, c = calendar.session_bounds_utc(day)
    open_ms, close_ms = int(o.timestamp() * 1000), int(c.timestamp() * 1000)
    pre_ms = int(dt.datetime(day.year, day.month, day.day, 4, tzinfo=NY).timestamp() * 1000)
    return pre_ms, open_ms, close_ms, close_ms + 4 * 3600 * 1000


def _allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Split `total` (>= len(weights)) into positive integers proportional to weights, summing exactly."""
    k = weights.size
    share = (total - k) * weights / weights.sum()
    base = np.floor(share).astype(np.int64)
    rest = int(total - k - base.sum())
    if rest:
        base[np.argsort(-(share - base), kind="stable")[:rest]] += 1
    return base + 1


def intraday(g: np.random.Generator, o: int, h: int, l: int, c: int, v: int, n: int,
             k: int) -> dict[str, np.ndarray]:
    """k minute bars (ticks / counts) aggregating exactly to the daily (o, h, l, c, v); see module doc."""
    k = max(1, min(k, v)) if v > 0 else 1
    steps = g.standard_normal(k)
    walk = np.concatenate([[0.0], np.cumsum(steps)])
    frac = np.arange(k + 1) / k
    bridge = walk - frac * walk[-1]
    lin = o + (c - o) * frac
    amp = (h - l) * g.uniform(0.3, 0.9) / max(np.abs(bridge).max(), 1e-9)
    dev = amp * bridge
    with np.errstate(divide="ignore", invalid="ignore"):
        room = np.where(dev > 0, (h - lin) / dev, np.where(dev < 0, (l - lin) / dev, np.inf))
    s = min(1.0, float(room.min()))
    x = np.clip(np.rint(lin + s * dev), l, h).astype(np.int64)
    x[0], x[-1] = o, c
    op, cl = x[:-1], x[1:]
    wick = max(1.0, (h - l) / np.sqrt(k) * 0.35)
    hi = np.minimum(np.maximum(op, cl) + np.rint(np.abs(g.standard_normal(k)) * wick).astype(np.int64), h)
    lo = np.maximum(np.minimum(op, cl) - np.rint(np.abs(g.standard_normal(k)) * wick).astype(np.int64), l)
    hi[int(np.argmax(np.maximum(op, cl)))] = h
    lo[int(np.argmin(np.minimum(op, cl)))] = l
    u = np.linspace(-1.0, 1.0, k)
    weights = (1.0 + 2.0 * u**2) * np.exp(0.5 * g.standard_normal(k))
    vol = _allocate(v, weights) if v >= k else np.ones(k, np.int64)
    trades = np.maximum(1, np.rint(n * vol / max(v, 1))).astype(np.int64)
    vw = np.clip(np.rint((hi + lo + cl) / 3.0), lo, hi).astype(np.int64)
    return {"o": op, "h": hi, "l": lo, "c": cl, "vw": vw, "v": vol, "n": trades}


def _extended(g: np.random.Generator, anchor: int, count: int, p: float, backwards: bool,
              minute_volume: float) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Sparse extended-hours bars: (minute offsets, bars) of a walk that ends (pre) or starts (post) at anchor."""
    offs = np.flatnonzero(g.random(count) < p)
    m = offs.size
    sd = max(1.0, anchor * 0.0006)
    steps = np.rint(g.standard_normal(m + 1) * sd).astype(np.int64)
    if backwards:  # level[m] = anchor: a walk back from the open
        level = anchor - np.concatenate([np.cumsum(steps[1:][::-1])[::-1], [0]])
    else:
        level = anchor + np.concatenate([[0], np.cumsum(steps[1:])])
    level = np.maximum(level, 100)
    op, cl = level[:-1], level[1:]
    wick = np.rint(np.abs(g.standard_normal((2, m))) * sd * 0.5).astype(np.int64)
    hi = np.maximum(op, cl) + wick[0]
    lo = np.maximum(np.minimum(op, cl) - wick[1], 1)
    vol = np.maximum(1, np.rint(np.exp(g.normal(np.log(max(minute_volume * 0.03, 1.0)), 1.0, m)))).astype(np.int64)
    trades = np.maximum(1, np.rint(vol / 120.0)).astype(np.int64)
    vw = np.clip(np.rint((hi + lo + cl) / 3.0), lo, hi).astype(np.int64)
    return offs, {"o": op, "h": hi, "l": lo, "c": cl, "vw": vw, "v": vol, "n": trades}


def _stack(parts: list[tuple[np.ndarray, dict[str, np.ndarray], int]]) -> dict[str, np.ndarray]:
    """Concatenate (timestamps, bars, session code) parts in time order."""
    out = {name: np.concatenate([p[1][name] for p in parts]).astype(np.int64) for name in COLUMNS[1:-1]}
    out["t"] = np.concatenate([p[0] for p in parts]).astype(np.int64)
    out["session"] = np.concatenate([np.full(p[0].size, p[2], np.int8) for p in parts])
    return out


def _empty() -> dict[str, np.ndarray]:
    out = {name: np.zeros(0, np.int64) for name in COLUMNS}
    out["session"] = np.zeros(0, np.int8)
    return out


def contract_key(ticker: str) -> int:
    """A stable integer for an option ticker (an RNG key)."""
    return int.from_bytes(hashlib.sha256(ticker.encode()).digest()[:7], "big")


class _LRU:
    def __init__(self, size: int):
        self.size, self.data = size, OrderedDict()

    def get(self, key, make: Callable[[], dict]):
        hit = self.data.get(key)
        if hit is None:
            hit = self.data[key] = make()
            if len(self.data) > self.size:
                self.data.popitem(last=False)
        else:
            self.data.move_to_end(key)
        return hit


class MinuteMarket:
    """Minute bars of a `Market` (and of option contracts given their daily bars); see the module doc."""

    def __init__(self, market: Market, cache_size: int = 2048):
        self.m = market
        self.seed = market.config.seed
        self._cache = _LRU(cache_size)

    # ------------------------------------------------------------------ stocks
    def true_bars(self, j: int, i: int) -> dict[str, np.ndarray]:
        """Every minute bar of security j on session offset i (raw ticks), in time order."""
        return self._cache.get(("s", j, i), lambda: self._make_stock(j, i))

    def _make_stock(self, j: int, i: int) -> dict[str, np.ndarray]:
        m = self.m
        if not (m.first_idx[j] <= i <= m.last_idx[j]):
            return _empty()
        day = m.sessions[i]
        pre_ms, open_ms, close_ms, post_ms = session_window(day)
        k = (close_ms - open_ms) // MINUTE_MS
        g = _rng(self.seed, 200, j, i)
        o, h, l, c = (int(a[i, j]) for a in (m.o, m.h, m.l, m.c))
        v, n = int(m.v[i, j]), int(m.tx[i, j])
        reg = intraday(g, o, h, l, c, v, n, k)
        n_reg = reg["o"].size  # == k unless the day traded fewer shares than minutes
        reg_t = open_ms + MINUTE_MS * np.arange(n_reg)
        p_pre, p_post = g.uniform(0.10, 0.40, 2)
        per_minute = v / max(n_reg, 1)
        pre_off, pre = _extended(g, o, (open_ms - pre_ms) // MINUTE_MS, p_pre, True, per_minute)
        post_off, post = _extended(g, c, (post_ms - close_ms) // MINUTE_MS, p_post, False, per_minute)
        return _stack([(pre_ms + MINUTE_MS * pre_off, pre, PRE), (reg_t, reg, REGULAR),
                       (close_ms + MINUTE_MS * post_off, post, POST)])

    def vendor_gap(self, j: int, i: int) -> tuple[int, int] | None:
        """(first, last+1) regular-minute indices the vendor drops for (j, i), or None (see module doc)."""
        if not self.m.config.vendor_errors:
            return None
        g = _rng(self.seed, 202, j, i)
        if g.random() >= GAP_RATE:
            return None
        length = int(g.integers(5, 31))
        first = int(g.integers(1, 150))
        return first, first + length

    def served_bars(self, j: int, i: int) -> dict[str, np.ndarray]:
        """What the vendor serves for (j, i): the true bars without the vendor gap's minutes."""
        bars = self.true_bars(j, i)
        gap = self.vendor_gap(j, i)
        if gap is None or not bars["t"].size:
            return bars
        reg = np.flatnonzero(bars["session"] == REGULAR)
        keep = np.ones(bars["t"].size, bool)
        keep[reg[gap[0]:gap[1]]] = False
        return {name: a[keep] for name, a in bars.items()}

    # ------------------------------------------------------------------ options
    def option_bars(self, ticker: str, i: int, daily: tuple) -> dict[str, np.ndarray]:
        """Sparse regular-hours minutes of an option contract aggregating to its daily (o,h,l,c,v,vw,n)
        (dollar prices, converted to ticks exactly as 4-decimal values)."""

        def make() -> dict[str, np.ndarray]:
            o, h, l, c, v, _vw, n = daily
            day = self.m.sessions[i]
            _, open_ms, close_ms, _ = session_window(day)
            minutes = (close_ms - open_ms) // MINUTE_MS
            g = _rng(self.seed, 201, contract_key(ticker), i)
            t = [int(round(x * TICK)) for x in (o, h, l, c)]
            k = int(min(minutes, max(1, int(v)), g.integers(2, 26)))
            bars = intraday(g, *t, int(v), int(n), k)
            k = bars["o"].size
            offs = np.sort(g.choice(minutes, size=k, replace=False))
            return _stack([(open_ms + MINUTE_MS * offs, bars, REGULAR)])

        return self._cache.get(("o", ticker, i), make)

    # ------------------------------------------------------------------ ground truth frames
    def truth(self, tickers: list[str], days: list[dt.date], *, served: bool = False,
              extended: bool = True) -> pl.DataFrame:
        """Raw minute bars (dollars) of stock `tickers` on `days`, as the bronze columns; served=True
        removes the vendor gaps (what the API returns), else the true, complete minutes."""
        frames = []
        for ticker in tickers:
            span = self.m.symbol_spans.get(ticker)
            if span is None:
                continue
            j, first, last = span
            for day in days:
                i = self.m.session_index(day)
                if i is None or not first <= i <= last:
                    continue
                b = self.served_bars(j, i) if served else self.true_bars(j, i)
                frames.append(bars_frame(b, ticker, day))
        df = pl.concat(frames) if frames else bars_frame(_empty(), "", dt.date(2000, 1, 1)).clear()
        if not extended:
            df = df.filter(pl.col("session") == "regular")
        return df.sort("ticker", "timestamp")


def bars_frame(b: dict[str, np.ndarray], ticker: str, day: dt.date) -> pl.DataFrame:
    """Simulator arrays -> the bronze minute columns (prices in dollars)."""
    return pl.DataFrame({
        "ticker": pl.Series([ticker] * b["t"].size, dtype=pl.Utf8),
        "timestamp": pl.Series(b["t"], dtype=pl.Int64).cast(pl.Datetime("ms", "UTC")),
        "date": pl.Series([day] * b["t"].size, dtype=pl.Date),
        "open": b["o"] / TICK, "high": b["h"] / TICK, "low": b["l"] / TICK, "close": b["c"] / TICK,
        "volume": b["v"].astype(np.float64), "vwap": b["vw"] / TICK,
        "transactions": pl.Series(b["n"], dtype=pl.Int64),
        "session": pl.Series(np.array(SESSION_NAMES)[b["session"]], dtype=pl.Utf8),
    })


# ---------------------------------------------------------------------- the range endpoint, timespan minute
def _ny_date(ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(ms / 1000, tz=NY).date()


def serve_minutes(mm: MinuteMarket, req, ticker: str, from_ms: int, to_ms: int):
    """`/v2/aggs/ticker/{ticker}/range/1/minute/{from}/{to}`: bars with from <= t <= to (a `to` date
    means through the end of that day), `limit` base bars a page, `next_url` rewriting {from} (asc) or
    {to} (desc) to the next bar's ms; `adjusted` is split-only (stocks; options are never adjusted)."""
    from quantmini.sim.asgi import json_response
    from quantmini.sim.bars import bar_dicts
    from quantmini.sim.paging import encode_cursor

    *head, start_raw, end_raw = req.path.split("/")  # Aggregates.range made a `to` date inclusive
    adjusted = req.get_bool("adjusted", True)
    order = req.get_choice("sort", "asc", ("asc", "desc"))
    limit = req.get_int("limit", 5000, 1, 50000)
    m = mm.m
    lo = int(np.searchsorted(m.session_days, np.datetime64(_ny_date(from_ms), "D"), "left"))
    hi = int(np.searchsorted(m.session_days, np.datetime64(_ny_date(to_ms), "D"), "right")) - 1
    makers: list[tuple[int, Callable[[], dict]]] = []
    factor: Callable[[int], float | None] = lambda i: None
    if ticker.startswith("O:"):
        from quantmini.sim.options import OptionsMarket

        daily = OptionsMarket.of(m).daily_bars(ticker)
        for row in np.flatnonzero((daily["session"] >= lo) & (daily["session"] <= hi)):
            bar = tuple(float(daily[k][row]) for k in ("o", "h", "l", "c", "v", "vw", "n"))
            i = int(daily["session"][row])
            makers.append((i, lambda i=i, bar=bar: mm.option_bars(ticker, i, bar)))
    else:
        span = m.symbol_spans.get(ticker)
        if span is not None:
            j, first, last = span
            makers = [(i, lambda i=i: mm.served_bars(j, i)) for i in range(max(lo, first), min(hi, last) + 1)]
            if adjusted:
                factor = lambda i: float(m.split_factor(np.array([i]), np.array([j]))[0])
    if order == "desc":
        makers.reverse()
    chunks, rows = [], 0
    for i, make in makers:  # generate sessions only until the page (and the next bar) is known
        b = make()
        keep = (b["t"] >= from_ms) & (b["t"] <= to_ms)
        if not keep.any():
            continue
        b = {name: a[keep] for name, a in b.items()}
        if order == "desc":
            b = {name: a[::-1] for name, a in b.items()}
        raw = [b[x] for x in ("o", "h", "l", "c", "vw", "v", "n")]
        f = factor(i)
        served = Market._served(raw, None if f is None else np.full(b["t"].size, f))
        chunks.append((b["t"], served))
        rows += b["t"].size
        if rows > limit:
            break
    payload: dict = {"ticker": ticker, "queryCount": 0, "resultsCount": 0, "adjusted": adjusted,
                     "status": "OK", "request_id": req.request_id}
    if chunks:
        t = np.concatenate([c[0] for c in chunks])
        cols = {name: np.concatenate([c[1][name] for c in chunks]) for name in chunks[0][1]}
        page = {name: a[:limit] for name, a in cols.items()}
        results = bar_dicts(page, t[:limit].tolist())
        payload.update(queryCount=len(results), resultsCount=len(results), results=results)
        if t.size > limit:
            cursor = encode_cursor({"adjusted": str(adjusted).lower(), "limit": str(limit), "sort": order})
            nxt = str(int(t[limit]))
            new_from, new_to = (nxt, end_raw) if order == "asc" else (start_raw, nxt)
            payload["next_url"] = f"{req.base_url}{'/'.join(head)}/{new_from}/{new_to}?cursor={cursor}"
    else:
        payload["count"] = 0
    return json_response(payload)
