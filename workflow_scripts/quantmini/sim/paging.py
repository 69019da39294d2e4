"""Cursor paging as the vendor does it: an opaque base64url `cursor=` that carries the filters and the
position, in an absolute `next_url` that never contains the API key."""

from __future__ import annotations

import base64
import re
from urllib.parse import parse_qsl, urlencode

from quantmini.sim.asgi import Request, bad_request

CURSOR_SKIP = {"cursor", "apikey"}
_CURSOR_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def encode_cursor(params: dict[str, str]) -> str:
    raw = urlencode(sorted(params.items())).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(req: Request, cursor: str) -> dict[str, str]:
    try:
        if not _CURSOR_RE.match(cursor):
            raise ValueError(cursor)
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        params = dict(parse_qsl(raw, keep_blank_values=True, strict_parsing=True))
        if not params:
            raise ValueError(cursor)
        return params
    except (ValueError, UnicodeDecodeError):
        raise bad_request(req, "Could not parse the 'cursor' parameter") from None


def effective_params(req: Request) -> dict[str, str]:
    """The request's filters: those in the cursor when one is given (the vendor ignores re-sent ones)."""
    cursor = req.params.get("cursor")
    if cursor:
        params = decode_cursor(req, cursor)
    else:
        params = {k: v for k, v in req.params.items() if k.lower() not in CURSOR_SKIP}
    req.params = params
    return params


def page(req: Request, rows: list, limit: int) -> tuple[list, str | None]:
    """Slice rows at the cursor's offset; return the page and the next_url (None on the last page)."""
    params = dict(req.params)
    try:
        offset = int(params.pop("offset", "0"))
    except ValueError:
        raise bad_request(req, "Could not parse the 'cursor' parameter") from None
    chunk = rows[offset: offset + limit]
    if offset + limit >= len(rows):
        return chunk, None
    params["offset"] = str(offset + limit)
    return chunk, f"{req.base_url}{req.path}?cursor={encode_cursor(params)}"
