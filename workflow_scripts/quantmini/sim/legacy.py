"""Shapes the vendor sent that the default simulated market does not (issue 18, item 5), on switches.

- `legacy_shapes`: splits and dividends listed without `id`, financials without `acceptance_datetime`
  (older responses); the data is otherwise the same, so a lake built from them can be compared with one
  built from the default shapes.
- `bad_month` YYYY-MM: every grouped-daily bar of that month has its high and low swapped (high < low),
  so validation quarantines the whole month (a month whose every row is bad).
Rewrites the JSON of a 200 after the endpoint built it; off by default (the default market unchanged).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import orjson

from quantmini.sim.asgi import Request, Response

_EVENTS = re.compile(r"^/v3/reference/(splits|dividends)/?$")
_FINANCIALS = re.compile(r"^/vX/reference/financials/?$")
_GROUPED = re.compile(r"^/v2/aggs/grouped/locale/\w+/market/\w+/(\d{4}-\d{2})-\d{2}/?$")


@dataclass
class LegacyShapes:
    legacy_shapes: bool = False
    bad_month: str | None = None

    @property
    def active(self) -> bool:
        return self.legacy_shapes or bool(self.bad_month)

    def rewrite(self, req: Request, response: Response) -> Response:
        if not self.active or response.status != 200:
            return response
        drop = None
        if self.legacy_shapes and _EVENTS.match(req.path):
            drop = "id"
        elif self.legacy_shapes and _FINANCIALS.match(req.path):
            drop = "acceptance_datetime"
        grouped = _GROUPED.match(req.path) if self.bad_month else None
        if drop is None and not (grouped and grouped.group(1) == self.bad_month):
            return response
        doc = orjson.loads(response.body)
        for row in doc.get("results") or []:
            if drop is not None:
                row.pop(drop, None)
            else:
                row["h"], row["l"] = row["l"], row["h"]
        return Response(200, orjson.dumps(doc), response.headers)
