"""The vendor revising a settled session (issue 18, item 2): a simulator switch, off by default.

`--revise YYYY-MM-DD[@N]`: from the (N+1)-th request the simulator answers on, the grouped daily bars of
that session are served revised, as the vendor's late corrections do: about a third of the tickers
(chosen by a hash of the symbol) get a close 0.3 % higher (high and low widened to hold it) and 1 % more
volume, and a late ticker `LATEQ` appears with one bar. N = 0 (the default) serves the revised session
from the start: the "fresh build from the revised data" a test compares a revised lake with.
Grouped daily only (what stocks_daily lands); every revised bar is valid (low <= open, close <= high).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

import orjson

from quantmini.sim.asgi import Request, Response

LATE_TICKER = "LATEQ"
_GROUPED = re.compile(r"^/v2/aggs/grouped/locale/\w+/market/\w+/(\d{4}-\d{2}-\d{2})/?$")


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


def revise_results(results: list[dict]) -> list[dict]:
    out = []
    for row in results:
        row = dict(row)
        if revised(row["T"]):
            row["c"] = round(row["c"] * 1.003, 4)
            row["h"], row["l"] = max(row["h"], row["c"]), min(row["l"], row["c"])
            row["v"] = row["v"] + max(1, round(row["v"] * 0.01))
        out.append(row)
    if out:
        t = out[0]["t"]
        out.append({"T": LATE_TICKER, "o": 10.0, "h": 10.2, "l": 9.9, "c": 10.1, "v": 1200, "vw": 10.05,
                    "n": 3, "t": t})
    return out


@dataclass
class Revision:
    session: dt.date | None = None
    after: int = 0

    def rewrite(self, req: Request, response: Response, served: int) -> Response:
        """`served`: requests answered before this one."""
        if self.session is None or response.status != 200 or served < self.after:
            return response
        m = _GROUPED.match(req.path)
        if not m or m.group(1) != self.session.isoformat():
            return response
        doc = orjson.loads(response.body)
        if not doc.get("results"):
            return response
        doc["results"] = revise_results(doc["results"])
        doc["queryCount"] = doc["resultsCount"] = len(doc["results"])
        return Response(200, orjson.dumps(doc), response.headers)
