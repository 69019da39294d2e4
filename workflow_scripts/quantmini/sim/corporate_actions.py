"""Splits and dividends reference endpoints. They serve the VENDOR lists, errors included
(a duplicated split, an absurd ratio, a split the bars do not show): clients must validate them."""

from __future__ import annotations

import datetime as dt

from quantmini.sim.asgi import Request, Response, bad_request, json_response
from quantmini.sim.market import Market
from quantmini.sim.paging import effective_params, page

OPS = {"gte": lambda a, b: a >= b, "gt": lambda a, b: a > b, "lte": lambda a, b: a <= b, "lt": lambda a, b: a < b}


def _typed(req: Request, name: str, raw: str, kind: str):
    if kind == "date":
        try:
            return dt.date.fromisoformat(raw).isoformat()
        except ValueError:
            raise bad_request(req, f"Could not parse the '{name}' parameter: '{raw}'. Use YYYY-MM-DD") from None
    if kind == "number":
        try:
            return float(raw)
        except ValueError:
            raise bad_request(req, f"Could not parse the '{name}' parameter: '{raw}' is not a number") from None
    if kind == "int":
        try:
            return int(raw)
        except ValueError:
            raise bad_request(req, f"Could not parse the '{name}' parameter: '{raw}' is not an integer") from None
    return raw


def filter_rows(req: Request, rows: list[dict], fields: dict[str, str]) -> list[dict]:
    """Apply `field=`, `field.gte=` ... filters (dates compare as ISO strings) for the given fields."""
    out = rows
    for name, kind in fields.items():
        raw = req.params.get(name)
        if raw:
            value = _typed(req, name, raw, kind)
            out = [r for r in out if r.get(name) == value]
        for op, fn in OPS.items():
            raw = req.params.get(f"{name}.{op}")
            if raw:
                value = _typed(req, f"{name}.{op}", raw, kind)
                out = [r for r in out if r.get(name) is not None and fn(r[name], value)]
    return out


def _listing(req: Request, rows: list[dict], sorts: tuple[str, ...], default_sort: str) -> Response:
    limit = req.get_int("limit", 10, 1, 1000)
    order = req.get_choice("order", "desc", ("asc", "desc"))
    sort = req.get_choice("sort", default_sort, sorts)
    rows = sorted(rows, key=lambda r: (r[sort], r["ticker"], r["id"]), reverse=order == "desc")
    chunk, next_url = page(req, rows, limit)
    payload = {"results": chunk, "status": "OK", "request_id": req.request_id}
    if next_url:
        payload["next_url"] = next_url
    return json_response(payload)


class CorporateActions:
    def __init__(self, market: Market):
        self.split_rows = [
            {"id": r["id"], "ticker": r["ticker"], "execution_date": r["execution_date"].isoformat(),
             "split_from": r["split_from"], "split_to": r["split_to"]}
            for r in market.vendor_split_rows
        ]
        self.dividend_rows = [
            {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in r.items() if k != "security_id"}
            for r in market.dividends().iter_rows(named=True)
        ]

    def routes(self, router) -> None:
        router.add(r"/v3/reference/splits", self.splits)
        router.add(r"/v3/reference/dividends", self.dividends)

    def splits(self, req: Request) -> Response:
        effective_params(req)
        rows = filter_rows(req, self.split_rows, {"ticker": "str", "execution_date": "date"})
        reverse = req.get_bool("reverse_split", None)
        if reverse is not None:
            rows = [r for r in rows if (r["split_from"] > r["split_to"]) == reverse]
        return _listing(req, rows, ("execution_date", "ticker"), "execution_date")

    def dividends(self, req: Request) -> Response:
        effective_params(req)
        rows = filter_rows(req, self.dividend_rows, {
            "ticker": "str", "ex_dividend_date": "date", "record_date": "date", "declaration_date": "date",
            "pay_date": "date", "cash_amount": "number", "frequency": "int", "dividend_type": "str"})
        return _listing(req, rows, ("ex_dividend_date", "pay_date", "declaration_date", "record_date",
                                    "cash_amount", "ticker"), "ex_dividend_date")
