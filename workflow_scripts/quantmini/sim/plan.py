"""The simulator playing a vendor plan: limited history and delayed data (issue 18, item 3).

Real plans limit how far back aggregates go (a 403 NOT_AUTHORIZED "Your plan doesn't include this data
timeframe") and delayed plans mark recent data `status: "DELAYED"`. Here both apply to the aggregates
endpoints (/v2/aggs/...: grouped daily, range bars of stocks and options, minute bars), where the
vendor enforces them:
- `plan_start`: a request reaching before it answers 403 (the same body shape as the vendor's);
- `delayed_minutes` N: a 200 whose last day's data is not N minutes past its end (four hours after the
  close: after-hours trading) on the simulator's clock (calendar.current_time(), QUANTMINI_NOW pins it)
  says `"status":"DELAYED"` instead of `"OK"`; the bars are served as they are.
Off by default: the default simulated market is unchanged.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

import orjson

from quantmini import calendar
from quantmini.sim.asgi import Request, Response

PLAN_TIMEFRAME_MESSAGE = ("Your plan doesn't include this data timeframe. Please upgrade your plan at "
                          "https://massive.com/pricing")
AFTER_HOURS = dt.timedelta(hours=4)
_AGGS = re.compile(r"^/v2/aggs/(?:grouped/locale/\w+/market/\w+/(?P<day>[^/]+)"
                   r"|ticker/[^/]+/range/\d+/\w+/(?P<lo>[^/]+)/(?P<hi>[^/]+))/?$")


def _day(raw: str | None) -> dt.date | None:
    """A path date: YYYY-MM-DD or epoch milliseconds (as New York day); None when neither."""
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        pass
    try:
        return dt.datetime.fromtimestamp(int(raw) / 1000, tz=calendar.NY).date()
    except (ValueError, OverflowError, OSError):
        return None


@dataclass
class Plan:
    start: dt.date | None = None
    delayed_minutes: float = 0.0

    @property
    def active(self) -> bool:
        return self.start is not None or self.delayed_minutes > 0

    def _span(self, path: str) -> tuple[dt.date, dt.date] | None:
        m = _AGGS.match(path)
        if not m:
            return None
        if m["day"]:
            day = _day(m["day"])
            return (day, day) if day else None
        lo, hi = _day(m["lo"]), _day(m["hi"])
        return (lo, hi) if lo and hi else None

    def refuse(self, req: Request) -> Response | None:
        """403 NOT_AUTHORIZED when the request reaches before the plan's first day."""
        if self.start is None:
            return None
        span = self._span(req.path)
        if span is None or span[0] >= self.start:
            return None
        return Response(403, orjson.dumps({"status": "NOT_AUTHORIZED", "request_id": req.request_id,
                                           "message": PLAN_TIMEFRAME_MESSAGE}))

    def mark(self, req: Request, response: Response) -> Response:
        """`status: DELAYED` on a 200 whose data ends less than delayed_minutes ago."""
        if not self.delayed_minutes or response.status != 200:
            return response
        span = self._span(req.path)
        if span is None:
            return response
        days = calendar.sessions(span[1] - dt.timedelta(days=10), span[1])
        if not days:
            return response
        data_end = calendar.session_bounds_utc(days[-1])[1] + AFTER_HOURS
        if calendar.current_time() >= data_end + dt.timedelta(minutes=self.delayed_minutes):
            return response
        body = response.body.replace(b'"status":"OK"', b'"status":"DELAYED"', 1)
        return Response(response.status, body, response.headers)
