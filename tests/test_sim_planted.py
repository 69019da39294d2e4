"""The simulator's planted news signal and leak (sim/planted.py), on the ground truth itself.

Off (the default) nothing changes; on, only sentiment changes, and with share 1 every insight of an even
security names the sign of its session's Alpha158 label, every insight of an odd one the sign of the
label three sessions earlier.
"""

from __future__ import annotations

import bisect
import datetime as dt

import polars as pl
from quantmini import calendar
from quantmini.sim.market import Market, MarketConfig
from quantmini.sim.news import News

CFG = dict(seed=4, n_tickers=12, start="2024-01-02", end="2024-03-28")


def truth(**plant):
    m = Market(MarketConfig(**CFG, **plant))
    return m, News(m).truth()


def test_off_by_default_and_only_sentiment_changes():
    _, (a0, p0) = truth()
    _, (a1, p1) = truth(plant_signal=0.0, plant_leak=0.0)
    assert a0.equals(a1) and p0.equals(p1)
    m, (a2, p2) = truth(plant_signal=0.5, plant_leak=0.5)
    assert a0.equals(a2)
    assert p0.drop("sentiment", "sentiment_reasoning").equals(p2.drop("sentiment", "sentiment_reasoning"))
    assert (p0["sentiment"] != p2["sentiment"]).sum() > 20
    assert p0["sentiment"].is_null().equals(p2["sentiment"].is_null())  # insights stay where they were
    base = Market(MarketConfig(**CFG)).daily_raw()
    assert base.equals(m.daily_raw())


def test_full_share_names_the_label_sign():
    m, (_, pairs) = truth(plant_signal=1.0, plant_leak=1.0)
    adj = m.daily_adjusted().select("security_id", "date", "adj_close").sort("security_id", "date")
    sessions = calendar.sessions(CFG["start"], CFG["end"])
    closes = [calendar.session_bounds_utc(d)[1] for d in sessions]
    px = {(s, d): c for s, d, c in adj.iter_rows()}
    sym = {}  # ticker on a date -> security
    for s, t, d in m.daily_raw().select("security_id", "ticker", "date").iter_rows():
        sym[(t, d)] = s
    checked = {0: 0, 1: 0}
    for ticker, sentiment, published in pairs.filter(pl.col("sentiment").is_not_null()).select(
            "ticker", "sentiment", "published_utc").iter_rows():
        a = bisect.bisect_left(closes, published)  # the first session whose close is at or after it
        if a >= len(sessions):
            continue
        sec = sym.get((ticker, sessions[a]))
        if sec is None:
            continue
        half = (sec - 10_001) % 2
        t = a + 2 if half == 0 else a - 1  # the label of a (signal) or of a-3 (leak) ends on session t
        if not 1 <= t < len(sessions):
            continue
        c1, c0 = px.get((sec, sessions[t])), px.get((sec, sessions[t - 1]))
        if c1 is None or c0 is None or c1 == c0:
            continue
        assert sentiment == ("positive" if c1 > c0 else "negative"), (ticker, published, half)
        checked[half] += 1
    assert checked[0] > 50 and checked[1] > 50, checked


def test_article_session_follows_the_close():
    from quantmini.sim.planted import article_session

    m = Market(MarketConfig(**CFG))
    day = dt.date(2024, 1, 5)
    close = calendar.session_bounds_utc(day)[1]
    i = m.session_index(day)
    assert article_session(m, day, close) == i
    assert article_session(m, day, close + dt.timedelta(seconds=1)) == i + 1
    assert article_session(m, dt.date(2024, 1, 6), close + dt.timedelta(days=1)) == i + 1  # Saturday
