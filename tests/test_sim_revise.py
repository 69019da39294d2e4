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
