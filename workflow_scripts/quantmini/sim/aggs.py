"""Aggregates endpoints: grouped daily (whole market, 16:00 ET stamps) and per-ticker range (00:00 ET).

Grouped bodies are serialised once per (date, adjusted) and kept in an LRU cache, so a repeated
request costs no model work.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from functools import lru_cache

import numpy as np
import orjson

from quantmini.calendar import NY
from quantmini.sim.asgi import Request, Response, bad_request, json_response
from quantmini.sim.bars import bar_dicts
from quantmini.sim.market import Market
from quantmini.sim.options import OptionsEndpoints
from quantmini.sim.paging import decode_cursor, encode_cursor

TIMESPANS = ("second", "minute", "hour", "day", "week", "month", "quarter", "year")
_MS_RE = re.compile(r"^\d{9,14}$")
BAD_FROM = "Could not parse the time parameter: 'from'. Use YYYY-MM-DD or Unix MS Timestamps"
BAD_TO = "Could not parse the time parameter: 'to'. Use YYYY-MM-DD or Unix MS Timestamps"
TO_BEFORE_FROM = "The parameter 'to' cannot be a time that occurs before 'from'"


def _epoch_ms(day: dt.date, hour: int) -> int:
    return int(dt.datetime(day.year, day.month, day.day, hour, tzinfo=NY).timestamp() * 1000)


class Aggregates:
    def __init__(self, market: Market, cache_size: int = 64):
        self.m = market
        self.close_ms = np.array([_epoch_ms(d, 16) for d in market.sessions], dtype=np.int64)
        self.midnight_ms = np.array([_epoch_ms(d, 0) for d in market.sessions], dtype=np.int64)
        self.grouped_body = lru_cache(maxsize=cache_size)(self._grouped_body)

    def routes(self, router) -> None:
        router.add(r"/v2/aggs/grouped/locale/us/market/stocks/(?P<date>[^/]+)", self.grouped)
        router.add(r"/v2/aggs/ticker/(?P<ticker>[^/]+)/range/(?P<mult>[^/]+)/(?P<timespan>[^/]+)"
                   r"/(?P<start>[^/]+)/(?P<end>[^/]+)", self.range)

    # ------------------------------------------------------------------ grouped daily
    def grouped(self, req: Request, date: str) -> Response:
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            raise bad_request(req, "Could not parse the date parameter: 'date'. Use YYYY-MM-DD") from None
        adjusted = req.get_bool("adjusted", True)
        req.get_bool("include_otc", False)  # validated; the simulated market has no OTC securities
        return Response(200, self.grouped_body(day, adjusted))

    def _grouped_body(self, day: dt.date, adjusted: bool) -> bytes:
        i = self.m.session_index(day)
        request_id = hashlib.md5(f"grouped {self.m.config.seed} {day} {adjusted}".encode()).hexdigest()
        if i is None:
            return orjson.dumps({"queryCount": 0, "resultsCount": 0, "adjusted": adjusted, "status": "OK",
                                 "request_id": request_id})
        cols = self.m.traded_at(i)
        b = self.m.bars(np.full(cols.size, i), cols, adjusted)
        results = bar_dicts(b, [int(self.close_ms[i])] * cols.size, self.m.symbols_at(i, cols).tolist())
        for _, _, j, stamp in self.m.bar_errors_at(i):  # vendor errors: a bar stamped on another day
            extra = self.m.bars(np.array([i]), np.array([j]), adjusted)
            results += bar_dicts(extra, [_epoch_ms(stamp, 16)], [self.m.symbol_at(j, i)])
        payload = {"queryCount": len(results), "resultsCount": len(results), "adjusted": adjusted,
                   "status": "OK", "request_id": request_id}
        if results:
            payload["results"] = results
        return orjson.dumps(payload)

    # ------------------------------------------------------------------ range
    def _parse_time(self, req: Request, raw: str, which: str) -> int:
        """A path time as epoch ms (a date means 00:00 New York of that date)."""
        if _MS_RE.match(raw):
            return int(raw)
        try:
            return _epoch_ms(dt.date.fromisoformat(raw), 0)
        except ValueError:
            raise bad_request(req, BAD_FROM if which == "from" else BAD_TO) from None

    def range(self, req: Request, ticker: str, mult: str, timespan: str, start: str, end: str) -> Response:
        if req.params.get("cursor"):
            req.params = {**decode_cursor(req, req.params["cursor"])}
        try:
            multiplier = int(mult)
            if multiplier < 1:
                raise ValueError
        except ValueError:
            raise bad_request(req, f"Could not parse the multiplier parameter: '{mult}'") from None
        if timespan not in TIMESPANS:
            raise bad_request(req, f"Invalid timespan '{timespan}'. Use one of {', '.join(TIMESPANS)}")
        from_ms = self._parse_time(req, start, "from")
        to_ms = self._parse_time(req, end, "to")
        if timespan in ("second", "minute", "hour") and not _MS_RE.match(end):  # a `to` date covers its day
            to_ms = _epoch_ms(dt.date.fromisoformat(end) + dt.timedelta(days=1), 0) - 1
        if to_ms < from_ms:
            raise bad_request(req, TO_BEFORE_FROM)
        adjusted = req.get_bool("adjusted", True)
        order = req.get_choice("sort", "asc", ("asc", "desc"))
        limit = req.get_int("limit", 5000, 1, 50000)
        if ticker.startswith("O:") and timespan == "day" and multiplier == 1:  # sim/options.py
            return OptionsEndpoints(self.m).range_day(req, ticker, start, end, from_ms, to_ms, self.midnight_ms,
                                                      adjusted, order, limit)
        if timespan != "day" or multiplier != 1:
            return self.intraday_or_multi(req, ticker, multiplier, timespan, from_ms, to_ms)
        span = self.m.symbol_spans.get(ticker)
        payload: dict = {"ticker": ticker, "queryCount": 0, "resultsCount": 0, "adjusted": adjusted,
                         "status": "OK", "request_id": req.request_id}
        if span is not None:
            j, first, last = span
            i0 = max(first, int(np.searchsorted(self.midnight_ms, from_ms, "left")))
            i1 = min(last, int(np.searchsorted(self.midnight_ms, to_ms, "right")) - 1)
            rows = np.arange(i0, i1 + 1)
            if order == "desc":
                rows = rows[::-1]
            more = rows.size > limit
            page, rest = rows[:limit], rows[limit:]
            if page.size:
                b = self.m.bars(page, np.full(page.size, j), adjusted)
                results = bar_dicts(b, self.midnight_ms[page].tolist())
                payload.update(queryCount=len(results), resultsCount=len(results), results=results)
            if more:
                cursor = encode_cursor({"adjusted": str(adjusted).lower(), "limit": str(limit), "sort": order})
                nxt = str(int(self.midnight_ms[rest[0]]))
                new_from, new_to = (nxt, end) if order == "asc" else (start, nxt)
                payload["next_url"] = (f"{req.base_url}/v2/aggs/ticker/{ticker}/range/{mult}/{timespan}/"
                                       f"{new_from}/{new_to}?cursor={cursor}")
        if not payload["resultsCount"]:
            payload["count"] = 0
        return json_response(payload)

    def intraday_or_multi(self, req: Request, ticker: str, multiplier: int, timespan: str,
                          from_ms: int, to_ms: int) -> Response:
        """1/minute bars (quantmini.sim.minute); hour bars and multipliers > 1 are not simulated."""
        if timespan != "minute" or multiplier != 1:
            raise bad_request(req, f"The simulator serves 1/day and 1/minute bars only (asked for {multiplier}/{timespan})")
        from quantmini.sim.minute import MinuteMarket, serve_minutes

        if getattr(self, "minute", None) is None:
            self.minute = MinuteMarket(self.m)
        return serve_minutes(self.minute, req, ticker, from_ms, to_ms)
