"""Minimal ASGI plumbing shared by the endpoint modules: requests, JSON responses, vendor error bodies.

No web framework: the simulator needs a handful of routes and must stay cheap per request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode

import orjson


@dataclass
class Request:
    method: str
    path: str
    query_string: str
    headers: dict[str, str]
    scheme: str
    server: tuple[str, int] | None
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_scope(cls, scope: dict) -> Request:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        qs = scope.get("query_string", b"").decode("latin-1")
        params: dict[str, str] = {}
        for k, v in parse_qsl(qs, keep_blank_values=True):
            params.setdefault(k, v)
        server = scope.get("server")
        return cls(scope["method"], scope["path"], qs, headers, scope.get("scheme", "http"),
                   tuple(server) if server else None, params)

    @property
    def base_url(self) -> str:
        host = self.headers.get("host") or self.headers.get(":authority")
        if not host and self.server:
            host = f"{self.server[0]}:{self.server[1]}"
        return f"{self.scheme}://{host}"

    @property
    def request_id(self) -> str:
        """Deterministic per request (method + path + query without the key): equal across servers."""
        return hashlib.md5(f"{self.method} {self.path}?{masked_query(self.query_string)}".encode()).hexdigest()

    # -- typed parameter access: a bad value is a 400 naming the parameter
    def get_bool(self, name: str, default: bool | None) -> bool | None:
        raw = self.params.get(name)
        if raw is None or raw == "":
            return default
        low = raw.lower()
        if low in ("true", "1"):
            return True
        if low in ("false", "0"):
            return False
        raise bad_request(self, f"Could not parse the '{name}' parameter: '{raw}' is not a boolean (true/false)")

    def get_int(self, name: str, default: int, lo: int, hi: int) -> int:
        raw = self.params.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise bad_request(self, f"Could not parse the '{name}' parameter: '{raw}' is not an integer") from None
        if not lo <= value <= hi:
            raise bad_request(self, f"The parameter '{name}' must be between {lo} and {hi}, got {value}")
        return value

    def get_date(self, name: str) -> dt.date | None:
        raw = self.params.get(name)
        if raw is None or raw == "":
            return None
        return parse_date_or_400(self, raw, name)

    def get_choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        raw = self.params.get(name) or default
        if raw not in choices:
            raise bad_request(self, f"The parameter '{name}' must be one of {', '.join(choices)}, got '{raw}'")
        return raw


@dataclass
class Response:
    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)


class ApiError(Exception):
    """A vendor-shaped error response (raised from handlers, turned into a Response by the app)."""

    def __init__(self, status: int, body: dict):
        super().__init__(body.get("error") or body.get("message"))
        self.status = status
        self.body = body


def json_response(payload: object, status: int = 200) -> Response:
    return Response(status, orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY))


def error_body(req: Request, message: str, status: str = "ERROR") -> dict:
    return {"status": status, "request_id": req.request_id, "error": message}


def bad_request(req: Request, message: str) -> ApiError:
    return ApiError(400, error_body(req, message))


def not_found(req: Request, message: str = "Data not found.") -> ApiError:
    return ApiError(404, {"status": "NOT_FOUND", "request_id": req.request_id, "message": message})


def parse_date_or_400(req: Request, raw: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise bad_request(req, f"Could not parse the date parameter: '{name}'. Use YYYY-MM-DD") from None


def masked_query(query_string: str) -> str:
    """The query string with any apiKey value replaced by '***' (for logs and request ids)."""
    if "apikey" not in query_string.lower():
        return query_string
    pairs = [(k, "***" if k.lower() == "apikey" else v) for k, v in parse_qsl(query_string, keep_blank_values=True)]
    return urlencode(pairs, safe="*,:")


Handler = Callable[..., Response]


class Router:
    """Path regexes -> handlers; the named groups become keyword arguments."""

    def __init__(self) -> None:
        self.routes: list[tuple[re.Pattern, Handler]] = []

    def add(self, pattern: str, handler: Handler) -> None:
        self.routes.append((re.compile(pattern + r"/?$"), handler))

    def resolve(self, path: str) -> tuple[Handler, dict[str, str]] | None:
        for pattern, handler in self.routes:
            m = pattern.match(path)
            if m:
                return handler, m.groupdict()
        return None
