"""The simulator's ASGI application: auth, fault injection, latency, request log, routing.

Endpoint families live in their own modules (aggs, reference, corporate_actions) and register their
routes here; later families (options, news, financials) slot in the same way.
"""

from __future__ import annotations

import asyncio
import gzip
import sys
import time
import traceback
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import orjson

from quantmini.sim.aggs import Aggregates
from quantmini.sim.asgi import ApiError, Request, Response, Router, masked_query
from quantmini.sim.corporate_actions import CorporateActions
from quantmini.sim.faults import FaultInjector
from quantmini.sim.financials import Fundamentals
from quantmini.sim.legacy import LegacyShapes
from quantmini.sim.market import Market
from quantmini.sim.news import News
from quantmini.sim.options import OptionsEndpoints
from quantmini.sim.plan import Plan
from quantmini.sim.reference import Reference
from quantmini.sim.revise import Revision

HEALTH_PATH = "/__sim/health"


def endpoint_families(market: Market) -> list:
    """Every endpoint family the simulator serves; each has `routes(router)`. Add new families here."""
    return [Aggregates(market), Reference(market), CorporateActions(market), OptionsEndpoints(market),
            Fundamentals(market), News(market)]
NOT_ENTITLED_MESSAGE = "You are not entitled to this data. Please upgrade your plan at https://massive.com/pricing"
RATE_LIMIT_MESSAGE = ("You've exceeded the maximum requests per minute, please wait or upgrade your "
                      "subscription to continue. https://massive.com/pricing")


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header admits gzip (a `gzip` or `*` coding without q=0)."""
    for part in accept_encoding.lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "x-gzip", "*"):
            q = params.replace(" ", "")
            return not (q.startswith("q=0") and q.strip("q=0.") == "")
    return False


class ConnectionAbort(Exception):
    """Raised after a partial body when the server offers no way to reset (fallback of `abort_stream`)."""


async def abort_stream(send, body: bytes) -> None:
    """The 'reset' fault: end the request with no response at all.

    ASGI has no abort, so this reaches into hypercorn (the send callable is bound to its HTTPStream):
    an HTTP/2 stream gets RST_STREAM (other streams on the connection live on), an HTTP/1.1
    connection is closed. On another server: a partial body, then an error that drops the stream.
    """
    stream = getattr(send, "__self__", None)
    proto = getattr(getattr(stream, "send", None), "__self__", None)
    if stream is not None and proto is not None and hasattr(stream, "closed"):
        from hypercorn.events import Closed

        stream.closed = True  # hypercorn must not answer 500 when the app returns
        connection = getattr(proto, "connection", None)
        if hasattr(connection, "reset_stream"):  # h2
            import h2.errors

            connection.reset_stream(stream.stream_id, error_code=h2.errors.ErrorCodes.INTERNAL_ERROR)
            await proto._flush()
        else:  # h11: drop the TCP connection
            await proto.send(Closed())
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body[: len(body) // 3], "more_body": True})
    raise ConnectionAbort("injected connection reset")


class SimApp:
    def __init__(self, market: Market, api_key: str | None = None, faults: FaultInjector | None = None,
                 latency_ms: float = 0.0, request_log: str | Path | None = None, gzip_level: int = 1,
                 plan: Plan | None = None, shapes: LegacyShapes | None = None,
                 revision: Revision | None = None):
        self.market = market
        self.revision = (revision or Revision()).bind(market)
        self._served = 0  # requests answered (health probes aside): the clock of `revision`
        self.plan = plan or Plan()
        self.shapes = shapes or LegacyShapes()
        self.gzip_level = gzip_level  # 0: never compress (the switch bench/ingest.py compares against)
        self._api_key = api_key
        self.faults = faults or FaultInjector({})
        self.latency_s = latency_ms / 1000.0
        # one line-buffered append handle for the server's life (closed at lifespan shutdown)
        self._log = open(request_log, "a", buffering=1, encoding="utf-8") if request_log else None  # noqa: SIM115
        self.router = Router()
        for family in endpoint_families(market):
            family.routes(self.router)

    # ------------------------------------------------------------------ ASGI entry point
    async def __call__(self, scope: dict, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    if self._log:
                        self._log.close()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        req = Request.from_scope(scope)
        if req.path == HEALTH_PATH:
            await self._send(send, Response(200, b'{"status":"OK"}'))
            return
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        response, fault = await self._answer(req)
        if fault == "reset":
            self._write_log(req, None, fault, 0)
            await abort_stream(send, response.body)
            return
        size = len(response.body)
        response = self._encode(req, response)
        self._write_log(req, response.status, fault, size, len(response.body))
        await self._send(send, response)

    async def _answer(self, req: Request) -> tuple[Response, str | None]:
        try:
            return await self._answer_counted(req)
        finally:
            self._served += 1

    async def _answer_counted(self, req: Request) -> tuple[Response, str | None]:
        auth_error = self._check_auth(req)
        if auth_error:
            return auth_error, None
        refused = self.plan.refuse(req)
        if refused is not None:
            return refused, "plan"
        if self.faults.forbidden(req.path):
            return Response(403, orjson.dumps({"status": "NOT_AUTHORIZED", "request_id": req.request_id,
                                                "message": NOT_ENTITLED_MESSAGE})), "403"
        key = f"{req.method} {req.path}?{masked_query(req.query_string)}"
        fault = self.faults.decide(key)
        if fault in ("429", "429ra"):
            body = orjson.dumps({"status": "ERROR", "request_id": req.request_id, "error": RATE_LIMIT_MESSAGE})
            headers = [(b"retry-after", str(self.faults.retry_after_s).encode())] if fault == "429ra" else []
            return Response(429, body, headers), fault
        if fault in ("500", "503"):
            body = orjson.dumps({"status": "ERROR", "request_id": req.request_id,
                                 "error": "Internal server error" if fault == "500" else "Service unavailable"})
            return Response(int(fault), body), fault
        if fault == "slow":
            await asyncio.sleep(self.faults.slow_s)
        if fault == "timeout":  # longer than the client waits: it gives up and retries
            await asyncio.sleep(self.faults.timeout_s)
        self._cap_page(req)
        response = self.shapes.rewrite(req, self.plan.mark(req, self._dispatch(req)))
        response = self.revision.rewrite(req, response, self._served)
        if fault == "truncate" and response.status == 200:
            response = Response(200, response.body[: max(1, len(response.body) // 2)], response.headers)
        elif fault == "truncate":
            fault = None
        page_faults = []  # logged with the response fault, e.g. "slow+dup_page"
        paged = response.status == 200 and fault != "truncate" and b'"next_url"' in response.body
        if paged and self.faults.dup_page(key):
            response = self._dup_page(response)
            page_faults.append("dup_page")
        if paged and "cursor=" in req.query_string and self.faults.repeat_cursor(key):
            response = self._repeat_cursor(req, response)
            page_faults.append("repeat_cursor")
        return response, "+".join(f for f in (fault, *page_faults) if f) or None

    def _dispatch(self, req: Request) -> Response:
        if req.method not in ("GET", "HEAD"):
            return Response(405, orjson.dumps({"status": "ERROR", "request_id": req.request_id,
                                                "error": f"Method {req.method} not allowed"}))
        resolved = self.router.resolve(req.path)
        if resolved is None:
            return Response(404, orjson.dumps({"status": "NOT_FOUND", "request_id": req.request_id,
                                                "message": "Data not found."}))
        handler, kwargs = resolved
        try:
            return handler(req, **kwargs)
        except ApiError as err:
            return Response(err.status, orjson.dumps(err.body))
        except Exception:  # noqa: BLE001 -- a simulator bug: answer 500 like a vendor would, keep serving
            traceback.print_exc(file=sys.stderr)
            return Response(500, orjson.dumps({"status": "ERROR", "request_id": req.request_id,
                                                "error": "Internal server error"}))

    def _check_auth(self, req: Request) -> Response | None:
        if not self._api_key:
            return None
        given = None
        auth = req.headers.get("authorization", "")
        if auth[:7].lower() == "bearer ":
            given = auth[7:].strip()
        if given is None:
            given = next((v for k, v in parse_qsl(req.query_string) if k == "apiKey"), None)
        if not given:
            return Response(401, orjson.dumps({"status": "ERROR", "request_id": req.request_id,
                                                "error": "API Key was not provided"}))
        if given != self._api_key:
            return Response(401, orjson.dumps({"status": "ERROR", "request_id": req.request_id,
                                                "error": "Unknown API Key"}))
        return None

    def _cap_page(self, req: Request) -> None:
        """Fault option page_size=N: a first page asks for at most N rows (later pages carry it in the cursor)."""
        cap = self.faults.page_size
        if not cap or "cursor" in req.params:
            return
        try:
            asked = int(req.params.get("limit") or cap)
        except ValueError:
            return  # the endpoint answers 400 for it
        req.params["limit"] = str(min(asked, cap))

    def _dup_page(self, response: Response) -> Response:
        """The 'dup_page' fault: this page also carries the next page's first row (rows repeated across
        pages, as the vendor's range paging does at page boundaries). Truth is unchanged: the row is real."""
        try:
            payload = orjson.loads(response.body)
            parts = urlsplit(payload["next_url"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            return response
        nxt = Request("GET", parts.path, parts.query, {}, "http", None,
                      dict(parse_qsl(parts.query, keep_blank_values=True)))
        following = self._dispatch(nxt)
        rows = orjson.loads(following.body).get("results") if following.status == 200 else None
        if not rows or not isinstance(payload.get("results"), list):
            return response
        payload["results"].append(rows[0])
        for count in ("count", "resultsCount"):
            if count in payload:
                payload[count] = len(payload["results"])
        return Response(200, orjson.dumps(payload), response.headers)

    def _repeat_cursor(self, req: Request, response: Response) -> Response:
        """Point next_url back at the page just served (the vendor's looping-cursor bug)."""
        payload = orjson.loads(response.body)
        if "next_url" not in payload:
            return response
        query = urlencode([(k, v) for k, v in parse_qsl(req.query_string) if k.lower() != "apikey"])
        payload["next_url"] = f"{req.base_url}{req.path}?{query}"
        return Response(200, orjson.dumps(payload), response.headers)

    # ------------------------------------------------------------------ output
    def _encode(self, req: Request, response: Response) -> Response:
        """gzip the body when the request accepts it, as the real API does (compressed after any fault,
        so a truncated body is still a whole gzip stream of half a JSON document)."""
        if not self.gzip_level or not accepts_gzip(req.headers.get("accept-encoding", "")):
            return response
        body = gzip.compress(response.body, compresslevel=self.gzip_level, mtime=0)
        headers = [*response.headers, (b"content-encoding", b"gzip"), (b"vary", b"Accept-Encoding")]
        return Response(response.status, body, headers)

    @staticmethod
    async def _send(send, response: Response) -> None:
        headers = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(response.body)).encode()), *response.headers]
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    def _write_log(self, req: Request, status: int | None, fault: str | None, nbytes: int,
                   wire: int | None = None) -> None:
        if self._log is None:
            return
        line = orjson.dumps({"ts": time.time(), "method": req.method, "path": req.path,
                             "query": masked_query(req.query_string), "status": status, "fault": fault,
                             "bytes": nbytes, "wire_bytes": nbytes if wire is None else wire})
        self._log.write(line.decode() + "\n")
