"""Reference endpoints: the tickers list (point in time, cursor paging), one ticker's details, and a
security's ticker-change events."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import numpy as np

from quantmini.calendar import NY
from quantmini.sim.asgi import Request, Response, bad_request, json_response, not_found
from quantmini.sim.market import _SIC, NEVER, Market
from quantmini.sim.paging import effective_params, page

RANGE_OPS = {"gte": np.greater_equal, "gt": np.greater, "lte": np.less_equal, "lt": np.less}


class Reference:
    def __init__(self, market: Market):
        self.m = market
        self._listing = lru_cache(maxsize=32)(self._build_listing)

    def routes(self, router) -> None:
        router.add(r"/v3/reference/tickers", self.tickers)
        router.add(r"/v3/reference/tickers/(?P<ticker>[^/]+)", self.ticker_details)
        router.add(r"/vX/reference/tickers/(?P<ident>[^/]+)/events", self.events)

    # ------------------------------------------------------------------ point-in-time state
    def _as_of(self, day: dt.date | None) -> int:
        """Session offset of the last session on or before day (default: the market's last session)."""
        if day is None:
            return self.m.N - 1
        return int(np.clip(np.searchsorted(self.m.session_days, np.datetime64(day, "D"), "right") - 1,
                           0, self.m.N - 1))

    def _state(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(listed by i, active at i, symbol at i) for every security."""
        m = self.m
        listed = m.visible & (m.list_off <= i)
        delisted = m.delist_off < i
        at = np.minimum(i, m.last_idx)
        symbol = np.where(at >= m.change_off, m.sym1, m.sym0)
        return listed, listed & ~delisted, symbol

    def _delisted_utc(self, j: int) -> str | None:
        m = self.m
        if m.delist_off[j] >= NEVER or m.delist_off[j] > m.N - 1:
            return None
        day = m.sessions[int(m.delist_off[j])] + dt.timedelta(days=1)  # midnight New York after the last bar
        stamp = dt.datetime(day.year, day.month, day.day, tzinfo=NY).astimezone(dt.UTC)
        return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")

    def _row(self, j: int, symbol: str, active: bool) -> dict:
        m = self.m
        row = {
            "ticker": symbol, "name": m.names[j], "market": "stocks", "locale": "us",
            "primary_exchange": m.exchange[j], "type": m.sec_type[j], "active": bool(active),
            "currency_name": "usd", "cik": m.cik[j], "composite_figi": m.figi[j],
            "share_class_figi": m.share_class_figi[j], "last_updated_utc": f"{m.end:%Y-%m-%d}T00:00:00Z",
        }
        if not active:
            delisted = self._delisted_utc(j)
            if delisted:
                row["delisted_utc"] = delisted
        return row

    # ------------------------------------------------------------------ /v3/reference/tickers
    def tickers(self, req: Request) -> Response:
        params = effective_params(req)
        limit = req.get_int("limit", 100, 1, 1000)
        order = req.get_choice("order", "asc", ("asc", "desc"))
        sort = req.get_choice("sort", "ticker", ("ticker", "name", "type", "primary_exchange", "cik",
                                                 "composite_figi", "market", "locale"))
        active = req.get_bool("active", True)
        day = req.get_date("date")
        filters = tuple(sorted((k, v) for k, v in params.items() if k not in ("offset", "limit", "cursor")))
        rows = self._listing(filters, self._as_of(day), active, sort, order)
        chunk, next_url = page(req, rows, limit)
        payload = {"results": chunk, "status": "OK", "request_id": req.request_id, "count": len(chunk)}
        if next_url:
            payload["next_url"] = next_url
        return json_response(payload)

    def _build_listing(self, filters: tuple, i: int, active: bool | None, sort: str, order: str) -> list[dict]:
        """Every row matching the (validated) filters, sorted; cached so each page is a slice."""
        params = dict(filters)
        listed, is_active, symbol = self._state(i)
        mask = listed & (is_active == active) if active is not None else listed.copy()
        market = params.get("market")
        if market and market != "stocks":
            mask[:] = False
        for name, values in (("type", self.m.sec_type), ("cik", self.m.cik), ("exchange", self.m.exchange)):
            if params.get(name):
                mask &= values == params[name]
        if params.get("ticker"):
            mask &= symbol == params["ticker"]
        for op, fn in RANGE_OPS.items():
            bound = params.get(f"ticker.{op}")
            if bound:
                mask &= fn(symbol.astype(str), bound)
        search = params.get("search", "").lower()
        js = np.flatnonzero(mask)
        if search:
            js = np.array([j for j in js if search in symbol[j].lower() or search in self.m.names[j].lower()],
                          dtype=np.int64)
        rows = [self._row(int(j), symbol[j], is_active[j]) for j in js]
        rows.sort(key=lambda r: (r[sort], r["ticker"]), reverse=order == "desc")
        return rows

    # ------------------------------------------------------------------ /v3/reference/tickers/{ticker}
    def _resolve(self, symbol: str, day: dt.date | None) -> int | None:
        """The security holding symbol at day (default: now, or its last day if it was delisted)."""
        span = self.m.symbol_spans.get(symbol)
        if span is None:
            return None
        j, first, last = span
        i = self._as_of(day)
        if day is not None and self.m.session_days[0] > np.datetime64(day, "D"):
            return None
        if i < first:
            return None
        ends_with_security = last == self.m.last_idx[j]
        if i > last and not ends_with_security:
            return None  # an old symbol after the ticker change
        return j

    def ticker_details(self, req: Request, ticker: str) -> Response:
        day = req.get_date("date")
        j = self._resolve(ticker, day)
        if j is None:
            raise not_found(req, "Ticker not found.")
        m = self.m
        i = min(self._as_of(day), int(m.last_idx[j]))
        active = not (m.delist_off[j] < self._as_of(day))
        row = self._row(j, ticker, active)
        shares = m.shares_outstanding(j, i)
        close = float(m.c[i, j]) / 1e4
        sic_code, sic_desc = _SIC[int(m.sic[j])]
        row.update({
            "list_date": str(m.list_date[j]),
            "market_cap": round(shares * close, 2),
            "share_class_shares_outstanding": int(shares),
            "weighted_shares_outstanding": int(shares * 0.995),
            "sic_code": sic_code, "sic_description": sic_desc,
            "ticker_root": ticker, "round_lot": 100,
            "description": f"{m.names[j]} is a synthetic company of the QuantMini simulator.",
            "homepage_url": f"https://www.{ticker.lower()}.example.com",
            "total_employees": int(shares / 20_000) + 10,
            "phone_number": f"(555) {int(m.security_id[j]) % 900 + 100:03d}-{int(m.cik[j][-4:]):04d}",
            "address": {"address1": f"{int(m.security_id[j]) % 900 + 1} Market Street", "city": "New York",
                        "postal_code": "10005", "state": "NY"},
            "branding": {"icon_url": f"https://api.massive.com/v1/reference/company-branding/{m.figi[j]}/icon.png",
                         "logo_url": f"https://api.massive.com/v1/reference/company-branding/{m.figi[j]}/logo.svg"},
        })
        return json_response({"request_id": req.request_id, "results": row, "status": "OK"})

    # ------------------------------------------------------------------ /vX/reference/tickers/{id}/events
    def events(self, req: Request, ident: str) -> Response:
        m = self.m
        types = req.params.get("types", "ticker_change")
        if ident.startswith("BBG"):
            hits = np.flatnonzero((m.figi == ident) & m.visible)
            j = int(hits[0]) if hits.size else None
        else:
            span = m.symbol_spans.get(ident)
            j = span[0] if span else None
        if j is None:
            raise not_found(req, "Ticker not found.")
        events = []
        if "ticker_change" in types.split(","):
            events.append({"ticker_change": {"ticker": m.sym0[j]}, "type": "ticker_change",
                           "date": str(m.list_date[j])})
            if m.change_off[j] < NEVER:
                events.append({"ticker_change": {"ticker": m.sym1[j]}, "type": "ticker_change",
                               "date": str(m.sessions[int(m.change_off[j])])})
        elif types:
            raise bad_request(req, f"Unsupported event types '{types}'. Use ticker_change")
        events.sort(key=lambda e: e["date"], reverse=True)
        results = {"name": m.names[j], "composite_figi": m.figi[j], "cik": m.cik[j], "events": events}
        return json_response({"results": results, "status": "OK", "request_id": req.request_id})
