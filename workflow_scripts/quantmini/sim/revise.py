"""The vendor revising a settled session (issue 18, item 2): a simulator switch, off by default.

`--revise YYYY-MM-DD[@N]`: from the (N+1)-th request the simulator answers on, that session is served
revised, as the vendor's late corrections do, in every endpoint the lake lands it from:
- grouped daily bars: about a third of the tickers (chosen by a hash of the symbol) get a close 0.3 %
  higher (high and low widened to hold it) and 1 % more volume, and a late ticker `LATEQ` appears;
- per-ticker bars (`/v2/aggs/ticker/T/range/1/{minute,day}/...`: minute bars, options daily bars): the
  session's bars of the tickers (stocks or option contracts) the same hash picks, revised the same way;
- dividends: a late-announced cash dividend of `DIVIDEND_CASH` going ex on the session, for the first
  hashed ticker (alphabetically) trading that day, appears in the listings whose window holds it.
N = 0 (the default) serves the revised session from the start: the "fresh build from the revised data" a
test compares a revised lake with. Every revised bar is valid (low <= open, close <= high).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

import orjson

from quantmini.calendar import NY
from quantmini.sim.asgi import Request, Response

LATE_TICKER = "LATEQ"
DIVIDEND_CASH = 0.05
_GROUPED = re.compile(r"^/v2/aggs/grouped/locale/\w+/market/\w+/(\d{4}-\d{2}-\d{2})/?$")
_RANGE = re.compile(r"^/v2/aggs/ticker/([^/]+)/range/1/(?:minute|day)/")
_DIVIDENDS = "/v3/reference/dividends"


def parse_spec(spec: str) -> tuple[dt.date, int]:
    """'YYYY-MM-DD[@N]' -> (session, N); ValueError naming the problem."""
    day, _, after = spec.partition("@")
    try:
        session = dt.date.fromisoformat(day)
    except ValueError:
        raise ValueError(f"bad revise '{spec}': use YYYY-MM-DD[@N]") from None
    try:
        n = int(after) if after else 0
    except ValueError:
        raise ValueError(f"bad revise '{spec}': N after @ must be a whole number") from None
    if n < 0:
        raise ValueError(f"bad revise '{spec}': N must be >= 0")
    return session, n


def revised(symbol: str) -> bool:
    return hashlib.blake2b(symbol.encode(), digest_size=2).digest()[0] % 3 == 0


def revise_bar(row: dict) -> dict:
    row = dict(row)
    row["c"] = round(row["c"] * 1.003, 4)
    row["h"], row["l"] = max(row["h"], row["c"]), min(row["l"], row["c"])
    row["v"] = row["v"] + max(1, round(row["v"] * 0.01))
    return row


def revise_results(results: list[dict]) -> list[dict]:
    out = [revise_bar(row) if revised(row["T"]) else dict(row) for row in results]
    if out:
        t = out[0]["t"]
        out.append({"T": LATE_TICKER, "o": 10.0, "h": 10.2, "l": 9.9, "c": 10.1, "v": 1200, "vw": 10.05,
                    "n": 3, "t": t})
    return out


def session_of(ms: int) -> dt.date:
    return dt.datetime.fromtimestamp(ms / 1000, NY).date()


def late_dividend(session: dt.date, ticker: str) -> dict:
    """The dividend the vendor adds to the revised session (the simulator's listing shape)."""
    day = session.isoformat()
    return {"id": "E" + hashlib.blake2b(f"late dividend {ticker} {day}".encode(), digest_size=16).hexdigest(),
            "ticker": ticker, "cash_amount": DIVIDEND_CASH, "currency": "USD",
            "declaration_date": (session - dt.timedelta(days=14)).isoformat(), "ex_dividend_date": day,
            "record_date": (session + dt.timedelta(days=1)).isoformat(),
            "pay_date": (session + dt.timedelta(days=14)).isoformat(), "frequency": 4, "dividend_type": "CD"}


@dataclass
class Revision:
    session: dt.date | None = None
    after: int = 0
    dividend_ticker: str | None = None  # set by bind(): who gets the late dividend

    def bind(self, market) -> Revision:
        """Pick the late dividend's ticker: the first hashed stock trading on the session."""
        i = market.session_index(self.session) if self.session else None
        if i is not None:
            self.dividend_ticker = next((t for t, (_, first, last) in sorted(market.symbol_spans.items())
                                         if first <= i <= last and revised(t) and not t.startswith("O:")), None)
        return self

    def rewrite(self, req: Request, response: Response, served: int) -> Response:
        """`served`: requests answered before this one."""
        if self.session is None or response.status != 200 or served < self.after:
            return response
        m = _GROUPED.match(req.path)
        if m and m.group(1) == self.session.isoformat():
            return self._edit(response, revise_results)
        m = _RANGE.match(req.path)
        if m and revised(m.group(1)):
            return self._edit(response, lambda rows: [revise_bar(r) if session_of(r["t"]) == self.session
                                                      else r for r in rows])
        if req.path.rstrip("/") == _DIVIDENDS and self.dividend_ticker and self._lists_late_dividend(req):
            doc = orjson.loads(response.body)
            doc["results"] = [*(doc.get("results") or []), late_dividend(self.session, self.dividend_ticker)]
            return Response(200, orjson.dumps(doc), response.headers)
        return response

    def _lists_late_dividend(self, req: Request) -> bool:
        """The first page of a dividends listing whose filters hold the late dividend."""
        p, day = req.params, self.session.isoformat()
        if p.get("cursor") or p.get("ticker", self.dividend_ticker) != self.dividend_ticker:
            return False
        return (p.get("ex_dividend_date", day) == day and p.get("ex_dividend_date.gte", day) <= day
                <= p.get("ex_dividend_date.lte", day) and p.get("ex_dividend_date.gt", "0") < day
                < p.get("ex_dividend_date.lt", "9"))

    @staticmethod
    def _edit(response: Response, revise) -> Response:
        doc = orjson.loads(response.body)
        if not doc.get("results"):
            return response
        doc["results"] = revise(doc["results"])
        doc["queryCount"] = doc["resultsCount"] = len(doc["results"])
        return Response(200, orjson.dumps(doc), response.headers)
