"""The simulator's revision switch (issue 18, item 2's test instrument), over HTTP.

Reference: the unrevised body of a default simulator of the same market, and a simulator revising from
its first request (`@0`: the revised market a fresh build would see).
"""

from __future__ import annotations

import httpx
from quantmini.sim.revise import LATE_TICKER, revised
from quantmini.sim.server import SimProcess

MARKET = dict(tickers=20, seed=4, start="2024-01-02", end="2024-02-29")
PATH = "/v2/aggs/grouped/locale/us/market/stocks/{}?adjusted=false"
S, OTHER = "2024-02-07", "2024-02-08"


def results(c: httpx.Client, day: str) -> list[dict]:
    return c.get(PATH.format(day)).json()["results"]


def test_session_is_revised_after_the_chosen_request_count():
    with SimProcess(**MARKET) as plain, httpx.Client(base_url=plain.url) as c:
        original, other = results(c, S), results(c, OTHER)
    with SimProcess(**MARKET, revise=f"{S}@3") as sim, httpx.Client(base_url=sim.url) as c:
        before = [results(c, S), results(c, OTHER), results(c, S)]  # requests 1-3: as first published
        after, other_after = results(c, S), results(c, OTHER)
    with SimProcess(**MARKET, revise=S) as fresh, httpx.Client(base_url=fresh.url) as c:
        from_start = results(c, S)
    assert before == [original, other, original] and other_after == other
    assert after == from_start != original
    by_ticker = {r["T"]: r for r in original}
    changed = [r for r in after if r["T"] in by_ticker and r != by_ticker[r["T"]]]
    assert {r["T"] for r in changed} == {t for t in by_ticker if revised(t)} and 0 < len(changed) < len(original)
    for r in changed:
        o = by_ticker[r["T"]]
        assert r["c"] == round(o["c"] * 1.003, 4) and r["v"] > o["v"] and r["o"] == o["o"]
    assert [r["T"] for r in after if r["T"] not in by_ticker] == [LATE_TICKER]
    assert all(r["l"] <= min(r["o"], r["c"]) <= max(r["o"], r["c"]) <= r["h"] for r in after)


def _bars(c: httpx.Client, ticker: str, span: str, lo: str, hi: str) -> list[dict]:
    return c.get(f"/v2/aggs/ticker/{ticker}/range/1/{span}/{lo}/{hi}",
                 params={"adjusted": "false", "limit": "50000"}).json().get("results") or []


def _dividends(c: httpx.Client, lo: str, hi: str) -> list[dict]:
    return c.get("/v3/reference/dividends", params={"ex_dividend_date.gte": lo, "ex_dividend_date.lte": hi,
                                                    "limit": "1000"}).json()["results"]


def test_minute_options_bars_and_dividends_are_revised_too():
    """Minute bars of the session, an option contract's daily bars and the dividends listing: the session's
    bars of hashed tickers are revised (others and other sessions unchanged), a late dividend appears."""
    from quantmini.sim.revise import DIVIDEND_CASH, session_of

    stock_of = {}
    with SimProcess(**MARKET) as plain, httpx.Client(base_url=plain.url) as c:
        stocks = sorted(r["T"] for r in results(c, S))
        hashed, other = next(t for t in stocks if revised(t)), next(t for t in stocks if not revised(t))
        chain = c.get("/v3/reference/options/contracts",
                      params={"underlying_ticker": hashed, "as_of": S, "limit": "1000"}).json()["results"]
        contracts = [r["ticker"] for r in chain]
        before = {t: _bars(c, t, "minute", S, S) for t in (hashed, other)}
        before_other_day = _bars(c, hashed, "minute", OTHER, OTHER)
        opt_before = {t: _bars(c, t, "day", "2024-02-01", "2024-02-29") for t in contracts}
        div_before = _dividends(c, "2024-02-01", "2024-02-29")
        stock_of = {r["T"]: r for r in results(c, S)}
    with SimProcess(**MARKET, revise=S) as sim, httpx.Client(base_url=sim.url) as c:
        after = {t: _bars(c, t, "minute", S, S) for t in (hashed, other)}
        after_other_day = _bars(c, hashed, "minute", OTHER, OTHER)
        opt_after = {t: _bars(c, t, "day", "2024-02-01", "2024-02-29") for t in contracts}
        div_after = _dividends(c, "2024-02-01", "2024-02-29")
        div_elsewhere = _dividends(c, "2024-02-08", "2024-02-29")
    assert before[hashed] and after[other] == before[other] and after_other_day == before_other_day
    assert len(after[hashed]) == len(before[hashed])
    for o, r in zip(before[hashed], after[hashed]):
        assert r["t"] == o["t"] and r["c"] == round(o["c"] * 1.003, 4) and r["v"] > o["v"] and r["o"] == o["o"]
    changed = {t for t in contracts if opt_after[t] != opt_before[t]}
    traded = {t for t in contracts if any(session_of(r["t"]).isoformat() == S for r in opt_before[t])}
    assert changed == {t for t in traded if revised(t)} and changed
    for t in changed:  # only the session's bar of the contract
        diff = [(o, r) for o, r in zip(opt_before[t], opt_after[t]) if o != r]
        assert len(diff) <= 1 and all(r["c"] == round(o["c"] * 1.003, 4) for o, r in diff)
    (late,) = [r for r in div_after if r not in div_before]
    assert len(div_after) == len(div_before) + 1 and late["ex_dividend_date"] == S
    assert late["ticker"] == min(t for t in stock_of if revised(t) and t != LATE_TICKER)
    assert late["cash_amount"] == DIVIDEND_CASH and late not in div_elsewhere
