"""Landing documents: the landing plumbing of every listing and snapshot data type.

Corporate actions, fundamentals, news, options_daily, ticker_details and the minute types land the same
way: one gzip JSON document per request unit (a month window, a chunk of days, a (ticker, session)),
holding every page of each of its requests verbatim,
    {"dtype": ..., "window": [lo, hi], "requests": [{"path": ..., "params": {...}, "pages": [<body>...]}]}
written atomically as soon as its requests are complete (`land_files`: one client for all the files of a
job). The readers check each page's envelope (status) before handing the rows on.

Light on imports on purpose (no pandera, no exchange_calendars): landing jobs load it, and the workflow
while it builds its DAG (the HTTP client, httpx, is imported only where a job lands). The bronze error
type is imported only when a document turns out bad.
"""

from __future__ import annotations

import asyncio
import gzip
import io
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
import polars as pl

from quantmini import atomic, settings

if TYPE_CHECKING:
    from quantmini.client import PolygonClient

log = logging.getLogger("quantmini.landing_documents")

OK_STATUSES = ("OK", "DELAYED")  # a page with another status fails its document

Request = tuple[str, dict[str, str]]  # path, query params
Landed = tuple[Path, str, list[str], list[Request]]  # file, dtype, window, requests


# ------------------------------------------------------------------------------------------ landing
@dataclass
class ClientOptions:
    base_url: str
    api_key: str | None
    max_concurrency: int = 10
    rate_per_minute: float | None = None
    retries: int = 8
    verify: bool | str = True

    @classmethod
    def from_config(cls, cfg: dict) -> ClientOptions:
        """The run's client settings: endpoint and TLS from the environment, key from MASSIVE/POLYGON_API_KEY,
        limits from the validated config (what every landing job uses)."""
        from quantmini.client import resolve_api_key  # httpx: only where a job lands (not at DAG build)

        return cls(base_url=settings.api_url(cfg), api_key=resolve_api_key(), max_concurrency=cfg["max_concurrency"],
                   rate_per_minute=cfg["rate_limit_per_minute"], retries=cfg["retries"], verify=settings.api_verify())


async def fetch_pages(client: PolygonClient, requests: list[Request], listing: bool) -> list[list[bytes]]:
    """Every page of every request (a 404 of a single-object request counts as no page)."""

    async def one(path: str, params: dict) -> list[bytes]:
        if listing:
            return await client.get_pages(path, params)
        body = await client.get_bytes(path, params, allow_404=True)
        return [] if body is None else [body]

    tasks = [asyncio.create_task(one(p, q)) for p, q in requests]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def landing_document(dtype: str, window: list[str], requests: list[Request], pages: list[list[bytes]]) -> bytes:
    """The landing JSON: the raw page bodies spliced in verbatim (the client checked each is JSON)."""
    parts = []
    for (path, params), bodies in zip(requests, pages, strict=True):
        head = orjson.dumps({"path": path, "params": params})[:-1]
        parts.append(head + b',"pages":[' + b",".join(b.strip() for b in bodies) + b"]}")
    doc = orjson.dumps({"dtype": dtype, "window": window})[:-1] + b',"requests":[' + b",".join(parts) + b"]}"
    orjson.loads(doc)  # a page that broke the splice must fail here, not in bronze
    return doc


def land_files(opts: ClientOptions, todo: list[Landed], listing: bool) -> None:
    """Download each file's requests (one client for all) and write each file as soon as it is complete,
    so a failure keeps the files already finished (each is whole and named after what it holds).

    listing: follow every request through all its pages (`next_url`); else each request is one
    single-object GET, a 404 landing as a request without pages."""
    if not todo:
        return

    from quantmini.client import PolygonClient

    async def run() -> None:
        async with PolygonClient(
            opts.base_url, api_key=opts.api_key, max_concurrency=opts.max_concurrency,
            rate_per_minute=opts.rate_per_minute, max_retries=opts.retries, verify=opts.verify,
        ) as client:
            t0 = time.monotonic()

            async def one(path: Path, dtype: str, window: list[str], requests: list[Request]) -> int:
                pages = await fetch_pages(client, requests, listing)
                doc = landing_document(dtype, window, requests, pages)
                atomic.write_bytes(path, gzip.compress(doc, 6, mtime=0))
                return sum(map(len, pages))

            tasks = [asyncio.create_task(one(*item)) for item in todo]
            try:
                n_pages = sum(await asyncio.gather(*tasks))
            except BaseException:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
            log.info("%d file(s), %d request(s), %d page(s) in %.2fs (%d retries)", len(todo),
                     sum(len(r) for *_, r in todo), n_pages, time.monotonic() - t0, client.stats.retries)

    asyncio.run(run())


# ------------------------------------------------------------------------------------------ reading
def _corrupt(message: str) -> Exception:
    from quantmini.bronze import CorruptLandingError

    return CorruptLandingError(message)


def _not_json(what: str, detail: str) -> Exception:
    return _corrupt(f"{what}: landing document is not the expected JSON: {detail}")


def _bad_status(what: str, path: str | None, status: str | None, text: str | None) -> Exception:
    return _corrupt(f"{what}: a page of {path} has status {status}: {text or 'no error text'}")


def pages_frame(doc: bytes, results: pl.DataType, what: str) -> pl.DataFrame:
    """path, status, error, message, results: one row per page of a landing document, `results` read as
    the given type. A page whose status is neither OK nor DELAYED (nor absent) fails the document, with a
    one-line CorruptLandingError naming `what`."""
    envelope = pl.Struct({"status": pl.Utf8, "error": pl.Utf8, "message": pl.Utf8, "results": results})
    schema = {"requests": pl.List(pl.Struct({"path": pl.Utf8, "pages": pl.List(envelope)}))}
    try:
        raw = pl.read_json(io.BytesIO(doc), schema=schema)
    except Exception as exc:
        raise _not_json(what, str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    pages = (raw.select(pl.col("requests").explode()).filter(pl.col("requests").is_not_null())
             .unnest("requests").explode("pages").filter(pl.col("pages").is_not_null()).unnest("pages"))
    bad = pages.filter(pl.col("status").is_not_null() & ~pl.col("status").is_in(OK_STATUSES))
    if bad.height:
        row = bad.row(0, named=True)
        raise _bad_status(what, row["path"], row["status"], row["error"] or row["message"])
    return pages


def results_frame(doc: bytes, wire: pl.Struct, what: str) -> pl.DataFrame:
    """The rows of every page's `results` list, one column per field of `wire` (empty: those columns)."""
    rows = pages_frame(doc, pl.List(wire), what).select(pl.col("results").explode())
    rows = rows.filter(pl.col("results").is_not_null())
    return rows.unnest("results") if rows.height else pl.DataFrame(schema=dict(wire.to_schema()))


def results_list(doc: bytes, what: str) -> list[dict]:
    """Every result of every page, as parsed JSON: for results whose fields vary (no fixed wire type).

    Stricter than pages_frame: a page must be an object with status OK or DELAYED (a missing status fails
    the document too)."""
    try:
        raw = orjson.loads(doc)
        pages = [(r.get("path"), p) for r in raw["requests"] for p in r["pages"]]
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise _not_json(what, str(exc)) from None
    out = []
    for path, page in pages:
        status = page.get("status") if isinstance(page, dict) else None
        if status not in OK_STATUSES:
            raise _bad_status(what, path, status,
                              (page.get("error") or page.get("message")) if isinstance(page, dict) else None)
        out.extend(page.get("results") or [])
    return out
