"""Async HTTP/2 client for the Polygon/Massive REST API (and our Polygon-compatible simulator).

Why it looks like this:
- HTTP/2 by default (h2c with prior knowledge for http:// targets, ALPN for https), HTTP/1.1
  selectable. Connections are opened once per client and reused for the whole run, as "lanes": one
  `httpx.AsyncClient` per connection, each with a pool of exactly one connection, and by default one
  request in flight per connection. Two httpcore 1.0 behaviours make this faster than one shared
  pool: its HTTP/2 connection lets the stream holding the read lock block on the socket while other
  streams' frames wait behind it (a stall of up to one server latency), and its HTTP/1.1 pool slows down
  and over-opens as it grows (figures: bench/README.md).
- Paced starts (`Pacer`): requests start at least 0.8 x the fastest recent round trip / concurrency
  apart, so lanes that finished together do not go out together again and queue behind each other's
  CPU on both ends.
- Bounded concurrency (a semaphore), an exact client-side rate limit (a sliding log of actual start
  times) and retries with exponential backoff and full jitter for 429, 5xx, timeouts, connection
  resets, protocol errors and truncated bodies; Retry-After (seconds or HTTP date) is honoured. The
  first retry after a transport error goes at once (a kept-alive connection closed by GOAWAY or an
  idle timeout is normal life, not an outage). 400/401/403 (and every other 4xx) are never retried.
- The API key travels only in the `Authorization: Bearer` header, to `base_url` only. It is never
  put in a URL, an exception message, a repr or a log record (a logging filter masks it).
- Cheap per-request bookkeeping (`ClientStats` counters, no INFO logging per request).

`next_url` policy: only the path and query of a `next_url` are used; they are resolved against
`base_url`. The real API hands out next_urls on api.polygon.io (sometimes with :443) even when called
on api.massive.com, and a proxy/simulator base must keep receiving the follow-up pages; resolving
against our own base also means the key is never sent to a host we were not configured with.
A full URL passed to `get_*` is treated the same way. An `apiKey` in a next_url is dropped.
"""

from __future__ import annotations

import asyncio
import email.utils
import http
import logging
import os
import random
import ssl
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

import httpx
import orjson

from quantmini import settings

log = logging.getLogger("quantmini.client")

RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
# HTTP/2 streams per connection by default (see the module docstring; bench/ingest.py --streams-per-connection)
DEFAULT_STREAMS_PER_CONNECTION = 1
RETRY_AFTER_CAP = 600.0  # never sleep longer than this on a server's say-so
_MAX_DETAIL = 300


# --------------------------------------------------------------------------------------------- errors
class ApiError(Exception):
    """Any failure talking to the API; the message is a single line and never holds the key."""


class PermanentApiError(ApiError):
    """A 4xx other than 404/408/425/429: our request is wrong or not entitled; retrying cannot help."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class NotFoundError(PermanentApiError):
    """404 where the caller did not ask for `allow_404=True`."""


class RetryExhaustedError(ApiError):
    """A retryable failure (429, 5xx, reset, timeout, truncated body) persisted past max_retries."""


class RepeatedCursorError(ApiError):
    """A `next_url` pointed back at a page already fetched in the same listing (a known server bug)."""


# ------------------------------------------------------------------------------------ key protection
class _Secret:
    """Holds the API key; its repr/str never show it (safe in tracebacks with locals, and in reprs)."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "'***'"

    __str__ = __repr__


class SecretMaskFilter(logging.Filter):
    """Replaces every registered API key with *** in log records; drops hpack's header dumps.

    hpack logs encoded header blocks at DEBUG (Huffman-coded, so a text mask cannot catch them),
    so its records are dropped outright.
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def register(self, secret: str) -> None:
        if secret:
            self._secrets.add(secret)

    def mask(self, text: str) -> str:
        for s in self._secrets:
            if s in text:
                text = text.replace(s, "***")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("hpack"):
            return False
        if not self._secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to logging's own error path
            return True
        masked = self.mask(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_text:
            record.exc_text = self.mask(record.exc_text)
        return True


SECRET_FILTER = SecretMaskFilter()
# Loggers that can see request details. Logger filters do not apply to child loggers, so each
# is listed; `install_secret_filter` also covers quantmini.* loggers created later.
_FILTERED_LOGGERS = (
    "quantmini",
    "quantmini.client",
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "hpack",
    "hpack.hpack",
    "hpack.table",
)


def install_secret_filter(target: logging.Logger | logging.Handler | None = None) -> None:
    """Attach the key-masking filter to `target`, or to every quantmini/httpx/httpcore/hpack logger."""
    if target is not None:
        if SECRET_FILTER not in target.filters:
            target.addFilter(SECRET_FILTER)
        return
    names = set(_FILTERED_LOGGERS)
    names.update(n for n in logging.Logger.manager.loggerDict if n.startswith("quantmini."))
    for name in names:
        logger = logging.getLogger(name)
        if SECRET_FILTER not in logger.filters:
            logger.addFilter(SECRET_FILTER)


def quiet_httpx_request_log() -> None:
    """httpx logs every request at INFO; under an INFO root logger that is a line and CPU per request.
    Raise its threshold to WARNING unless someone configured the `httpx` logger explicitly."""
    httpx_log = logging.getLogger("httpx")
    if httpx_log.level == logging.NOTSET:
        httpx_log.setLevel(logging.WARNING)


def resolve_api_key(env: Mapping[str, str] = os.environ) -> str | None:
    """settings.api_key, and the key registered with the log filter that masks it."""
    value = settings.api_key(env)
    if value:
        SECRET_FILTER.register(value)
    return value


# ------------------------------------------------------------------------------------------- stats
@dataclass(slots=True)
class ClientStats:
    """Cheap counters, updated in place per attempt; `on_response` hooks read them."""

    requests: int = 0  # HTTP attempts sent (retries included)
    responses: int = 0  # HTTP responses received (any status)
    ok: int = 0  # successful (2xx, complete JSON) responses
    retries: int = 0  # attempts that were followed by a retry
    bytes: int = 0  # response body bytes received (decoded)
    wire_bytes: int = 0  # response body bytes as sent (gzip-compressed when the server compressed them)
    transport_errors: int = 0  # timeouts, resets, protocol errors
    truncated: int = 0  # 2xx bodies that were not complete JSON
    cursor_restarts: int = 0  # listings restarted because of a repeated cursor
    http_version: str = ""  # protocol of the last response ("HTTP/2", "HTTP/1.1")
    status: dict[int, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def rate(self) -> float:
        """Responses per second since the client was opened."""
        e = self.elapsed
        return self.responses / e if e > 0 else 0.0

    def summary(self) -> str:
        codes = ", ".join(f"{k}:{v}" for k, v in sorted(self.status.items()))
        return (
            f"{self.requests} requests ({self.retries} retries, {self.transport_errors} transport errors, "
            f"{self.truncated} truncated), {self.bytes / 1e6:.1f} MB in {self.elapsed:.1f} s; status {codes}"
        )


# ------------------------------------------------------------------------------------- rate limit
class RateLimiter:
    """Exact requests-per-minute limit, measured on actual start times (a sliding log).

    At most `burst` requests start in any window of burst * 60/rate seconds; with burst=1 (the
    default) consecutive starts are at least 60/rate apart (Polygon's free plan: 5/min -> 12 s).
    Start times are recorded after waking, so a late wake-up (busy event loop) can never be
    followed by a catch-up burst, unlike a schedule of pre-booked slots.
    """

    def __init__(self, rate_per_minute: float, burst: int = 1):
        if not rate_per_minute > 0:
            raise ValueError(f"rate_per_minute must be > 0, got {rate_per_minute}")
        if burst < 1:
            raise ValueError(f"rate burst must be >= 1, got {burst}")
        self.interval = 60.0 / rate_per_minute
        self._burst = burst
        self._window = burst * self.interval
        self._starts: deque[float] = deque(maxlen=burst)
        self._lock = asyncio.Lock()  # FIFO: waiters start in arrival order

    async def acquire(self) -> None:
        async with self._lock:
            while len(self._starts) == self._burst:
                wait = self._starts[0] + self._window - time.monotonic()
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            self._starts.append(time.monotonic())


class Pacer:
    """Keeps request starts at least `share * min_rtt / concurrency` apart, so lanes do not run in step.

    Without it, requests that complete together are sent again together: each event-loop pass (ours
    and the server's) handles the whole bunch before any follow-up request leaves, so bunches merge and
    never split, and each request waits for the CPU of the others (bench/README.md has the gain). The
    round trip is the minimum of the last `window` successful requests, so slow responses or faults
    cannot throttle the pace; the gap caps the start rate at concurrency / (share * min_rtt), 1.25x the
    latency limit with share=0.8 (0.5 spaced the CPU-heavy grouped bodies too little).
    Gaps under `min_gap` are not kept: asyncio's timers wake with ~1 ms resolution (epoll), so a shorter
    gap cannot be held, and at such rates the client is CPU-bound and the timers only cost CPU.
    """

    min_gap = 0.001

    def __init__(self, concurrency: int, share: float = 0.8, window: int = 64):
        self._per_rtt = share / concurrency
        self._rtts: deque[float] = deque(maxlen=window)
        self.gap = 0.0  # seconds between starts; 0 until a round trip has been measured
        self._next = 0.0

    def observe(self, rtt: float) -> None:
        self._rtts.append(rtt)
        gap = self._per_rtt * min(self._rtts)
        self.gap = gap if gap >= self.min_gap else 0.0

    async def wait(self) -> None:
        if not self.gap:
            return
        now = time.monotonic()
        start = self._next if self._next > now else now
        self._next = start + self.gap
        if start > now:
            await asyncio.sleep(start - now)


# -------------------------------------------------------------------------------------------- client
def _retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), RETRY_AFTER_CAP)


def _ssl_context(verify: bool | str | ssl.SSLContext, trust_env: bool) -> ssl.SSLContext:
    """verify=True: httpx's default CAs (certifi, or SSL_CERT_FILE/DIR when trust_env); a str: that CA
    file or directory; False: no checks."""
    if isinstance(verify, ssl.SSLContext):
        return verify
    if isinstance(verify, bool):
        return httpx.create_ssl_context(verify=verify, trust_env=trust_env)
    if os.path.isdir(verify):
        return ssl.create_default_context(capath=verify)
    if not os.path.isfile(verify):
        raise ValueError(f"verify: no CA file or directory at {verify!r}")
    return ssl.create_default_context(cafile=verify)


def _is_certificate_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(8):  # httpx -> httpcore -> ssl: a short cause/context chain
        if seen is None:
            return False
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _one_line(text: str, limit: int = _MAX_DETAIL) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _param_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _reject_query_key(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Drop `apiKey` from a query (auth is the Bearer header only; a key in a URL ends up in logs)."""
    return [(k, v) for k, v in pairs if k.lower() != "apikey"]


class PolygonClient:
    """Async context manager; see the module docstring. One instance per run (reuses connections)."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        max_concurrency: int = 10,
        rate_per_minute: float | None = None,
        rate_burst: int = 1,
        max_retries: int = 8,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        timeout: float | None = None,
        http2: bool = True,
        verify: bool | str | ssl.SSLContext = True,
        max_repeat_restarts: int = 3,
        trust_env: bool = True,
        streams_per_connection: int | None = None,
        on_response: Callable[[ClientStats], None] | None = None,
        pacing: bool = True,
        user_agent: str = "quantmini/0.1",
        compression: bool = True,
    ):
        parts = urlsplit(base_url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"base_url must be http(s)://host[:port][/prefix], got {base_url!r}")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("base_url must not carry a query, fragment or credentials")
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency}")
        if max_retries < 0 or max_repeat_restarts < 0:
            raise ValueError("max_retries and max_repeat_restarts must be >= 0")
        quiet_httpx_request_log()
        timeout = settings.http_timeout() if timeout is None else timeout
        self.base_url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._prefix = parts.path.rstrip("/")
        self._key = _Secret(api_key) if api_key else None
        if api_key:
            SECRET_FILTER.register(api_key)
            install_secret_filter()
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_repeat_restarts = max_repeat_restarts
        self.on_response = on_response
        self.http2 = http2
        self.stats = ClientStats()
        self._limiter = RateLimiter(rate_per_minute, rate_burst) if rate_per_minute else None
        self._pacer = Pacer(max_concurrency) if max_concurrency > 1 and pacing else None
        self._sem = asyncio.Semaphore(max_concurrency)
        self._random = random.Random()
        cleartext = parts.scheme == "http"
        # gzip, as the real API serves it (fewer bytes on the wire; bench/README.md). Bodies are
        # decoded by httpx, so what we land and parse is the same JSON either way. `identity` turns it off.
        headers = {"User-Agent": user_agent, "Accept": "application/json",
                   "Accept-Encoding": "gzip" if compression else "identity"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        if streams_per_connection is None:
            streams_per_connection = DEFAULT_STREAMS_PER_CONNECTION if http2 else 1
        if streams_per_connection < 1:
            raise ValueError(f"streams_per_connection must be >= 1, got {streams_per_connection}")
        ssl_context = _ssl_context(verify, trust_env)  # one context for all lanes (loading CAs costs ms each)
        n_lanes = -(-max_concurrency // streams_per_connection)
        per_lane = -(-max_concurrency // n_lanes)
        # One httpx.AsyncClient per connection ("lane"), each with a pool of exactly one connection.
        self._lanes = [
            httpx.AsyncClient(
                http2=http2,
                http1=not (http2 and cleartext),  # h2c needs prior knowledge: no HTTP/1.1 upgrade dance
                verify=ssl_context,
                timeout=httpx.Timeout(timeout),
                limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
                headers=headers,
                follow_redirects=False,  # a redirect is a permanent error, and must not carry the key away
                trust_env=trust_env,
            )
            for _ in range(n_lanes)
        ]
        # free request slots, interleaved so that consecutive requests spread over the connections
        self._free = deque(lane for _ in range(per_lane) for lane in self._lanes)

    def __repr__(self) -> str:
        key = "***" if self._key else None
        return (
            f"PolygonClient(base_url={self.base_url!r}, api_key={key!r}, http2={self.http2}, "
            f"max_concurrency={self.max_concurrency})"
        )

    async def __aenter__(self) -> PolygonClient:
        self.stats.started = time.monotonic()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for lane in self._lanes:
            await lane.aclose()

    # ---------------------------------------------------------------- URL handling
    def url_for(self, path_or_url: str, params: Mapping[str, Any] | None = None) -> str:
        """Absolute URL on base_url for a path (or for the path+query of a full URL) plus params."""
        parts = urlsplit(path_or_url)
        path = parts.path if parts.path.startswith("/") else "/" + parts.path
        if self._prefix and not path.startswith(self._prefix + "/"):
            path = self._prefix + path
        pairs = _reject_query_key(parse_qsl(parts.query, keep_blank_values=True)) if parts.query else []
        if params:
            for k, v in params.items():
                if k.lower() == "apikey":
                    raise ValueError("pass the API key as api_key=..., never as an apiKey query parameter")
                if v is not None:
                    pairs.append((k, _param_value(v)))
        query = urlencode(pairs, quote_via=quote, safe=",:") if pairs else ""
        return f"{self._origin}{path}?{query}" if query else f"{self._origin}{path}"

    def _where(self, url: str) -> str:
        """`GET /path?query` for messages (no host; the key is never in a URL anyway)."""
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        return f"GET {_one_line(target, 200)}"

    def _mask(self, text: str) -> str:
        if self._key:
            text = text.replace(self._key.reveal(), "***")
        return text

    def _error_line(self, response: httpx.Response, url: str) -> str:
        status = response.status_code
        try:
            phrase = http.HTTPStatus(status).phrase
        except ValueError:
            phrase = response.reason_phrase or "Unknown"
        detail = ""
        body = response.content
        try:
            obj = orjson.loads(body)
            if isinstance(obj, dict):
                detail = str(obj.get("error") or obj.get("message") or obj.get("status") or "")
        except orjson.JSONDecodeError:
            detail = body[:200].decode("utf-8", "replace")
        line = f"HTTP {status} {phrase} from {self._where(url)}"
        if detail:
            line += f": {_one_line(detail)}"
        return self._mask(line)

    # ---------------------------------------------------------------- core request loop
    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform(0, min(backoff_max, base * 2**attempt))."""
        return self._random.uniform(0.0, min(self.backoff_max, self.backoff_base * (2.0**attempt)))

    async def _fetch(self, url: str, allow_404: bool) -> tuple[bytes, Any] | None:
        """One logical GET with retries -> (body, parsed JSON), or None for an allowed 404."""
        stats = self.stats
        hook = self.on_response
        attempt = 0
        while True:
            retry_after: float | None = None
            async with self._sem:
                if self._limiter is not None:
                    await self._limiter.acquire()
                pacer = self._pacer
                if pacer is not None:
                    await pacer.wait()
                stats.requests += 1
                lane = self._free.popleft()  # never empty: the semaphore admits at most len(_free) holders
                try:
                    sent = time.monotonic()
                    response = await lane.get(url)
                except httpx.TimeoutException as exc:
                    stats.transport_errors += 1
                    failure = f"timeout ({type(exc).__name__})"
                except httpx.DecodingError as exc:  # a cut gzip stream: a truncated body, retried
                    stats.responses += 1
                    stats.truncated += 1
                    failure = f"undecodable body ({_one_line(str(exc), 120)})"
                except httpx.TransportError as exc:
                    stats.transport_errors += 1
                    failure = f"{type(exc).__name__}: {_one_line(self._mask(str(exc)), 120) or 'connection failed'}"
                    if _is_certificate_error(exc):  # retrying cannot make an untrusted certificate trusted
                        raise PermanentApiError(f"TLS certificate rejected for {self._where(url)}: {failure}") from None
                    if attempt == 0:
                        retry_after = 0.0  # a kept-alive connection was closed (GOAWAY, idle close): retry now
                else:
                    status = response.status_code
                    body = response.content
                    stats.responses += 1
                    stats.bytes += len(body)
                    stats.wire_bytes += response.num_bytes_downloaded
                    stats.status[status] = stats.status.get(status, 0) + 1
                    stats.http_version = response.http_version
                    if 200 <= status < 300:
                        if pacer is not None:
                            pacer.observe(time.monotonic() - sent)
                        try:
                            obj = orjson.loads(body)
                        except orjson.JSONDecodeError:
                            stats.truncated += 1
                            failure = f"HTTP {status} with a truncated or invalid JSON body ({len(body)} bytes)"
                        else:
                            stats.ok += 1
                            if hook is not None:
                                hook(stats)
                            return body, obj
                    elif status == 404 and allow_404:
                        if hook is not None:
                            hook(stats)
                        return None
                    elif status in RETRY_STATUSES or status >= 500:
                        failure = self._error_line(response, url)
                        retry_after = _retry_after_seconds(response.headers.get("retry-after"))
                    else:
                        if hook is not None:
                            hook(stats)
                        error_cls = NotFoundError if status == 404 else PermanentApiError
                        raise error_cls(self._error_line(response, url), status) from None
                finally:
                    self._free.append(lane)
                if hook is not None:
                    hook(stats)
            # retryable failure: back off outside the semaphore so other requests keep flowing
            if attempt >= self.max_retries:
                raise RetryExhaustedError(
                    f"{self._where(url)}: gave up after {attempt + 1} attempts; last: {failure}"
                ) from None
            delay = retry_after if retry_after is not None else self._backoff(attempt)
            stats.retries += 1
            if log.isEnabledFor(logging.DEBUG):
                log.debug("retry %d of %s in %.2f s: %s", attempt + 1, self._where(url), delay, failure)
            attempt += 1
            if delay > 0:
                await asyncio.sleep(delay)

    # ---------------------------------------------------------------- public API
    async def get_bytes(
        self, path_or_url: str, params: Mapping[str, Any] | None = None, *, allow_404: bool = False
    ) -> bytes | None:
        """Body of a successful response, checked to be complete JSON. None only for an allowed 404."""
        got = await self._fetch(self.url_for(path_or_url, params), allow_404)
        return None if got is None else got[0]

    async def get_json(
        self, path_or_url: str, params: Mapping[str, Any] | None = None, *, allow_404: bool = False
    ) -> dict | list | None:
        """Parsed JSON of a successful response. None only for an allowed 404 ("no such object")."""
        got = await self._fetch(self.url_for(path_or_url, params), allow_404)
        return None if got is None else got[1]

    async def get_pages(self, path: str, params: Mapping[str, Any] | None = None) -> list[bytes]:
        """Raw bodies of every page of a listing, following next_url (see the module docstring).

        A repeated cursor restarts the listing from page 1, at most max_repeat_restarts times.
        """
        return [body for body, _ in await self._listing(path, params)]

    async def get_all(self, path: str, params: Mapping[str, Any] | None = None) -> list[dict]:
        """`results` of every page of a listing, concatenated (absent/null results count as none)."""
        out: list[dict] = []
        for _, obj in await self._listing(path, params):
            results = obj.get("results") if isinstance(obj, dict) else None
            if isinstance(results, list):
                out.extend(results)
            elif isinstance(results, dict):
                out.append(results)
        return out

    async def _listing(self, path: str, params: Mapping[str, Any] | None) -> list[tuple[bytes, Any]]:
        first = self.url_for(path, params)
        for restart in range(self.max_repeat_restarts + 1):
            try:
                return await self._listing_once(first)
            except RepeatedCursorError as exc:
                last = exc
                if restart < self.max_repeat_restarts:
                    self.stats.cursor_restarts += 1
                    log.warning("%s; restarting the listing from page 1", exc)
        raise RepeatedCursorError(
            f"{self._where(first)}: next_url repeated a cursor on {self.max_repeat_restarts + 1} "
            f"attempts of the listing; giving up ({last})"
        ) from None

    async def _listing_once(self, first: str) -> list[tuple[bytes, Any]]:
        pages: list[tuple[bytes, Any]] = []
        seen = {first}
        url = first
        while True:
            got = await self._fetch(url, False)
            assert got is not None
            pages.append(got)
            obj = got[1]
            next_url = obj.get("next_url") if isinstance(obj, dict) else None
            if not next_url:
                return pages
            url = self.url_for(next_url)  # path + query only, on our base; the filters live in the cursor
            if url in seen:
                raise RepeatedCursorError(
                    f"page {len(pages) + 1} repeats an earlier next_url ({self._where(url)})"
                )
            seen.add(url)
