"""Landing: raw API bodies, gzipped, one file per request unit, so bronze can be rebuilt offline.

A landing file is immutable once written (atomically): a rerun of a landing job (a new session in the
month, an edited rule script, a forced rerun) downloads only the units whose file is missing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import hashlib
import json
import logging
import sys
import time
import zlib
from pathlib import Path

import orjson

from quantmini import atomic
from quantmini.client import PolygonClient
from quantmini.lake import LakePaths
from quantmini.plan import check_settled
from quantmini.progress import DownloadProgress

log = logging.getLogger("quantmini.landing")

GROUPED_PATH = "/v2/aggs/grouped/locale/us/market/stocks/{day}"


class EmptySessionError(RuntimeError):
    """The API returned no bars for a day that is an XNYS session."""


def _results_count(body: bytes) -> int:
    doc = orjson.loads(body)
    results = doc.get("results") if isinstance(doc, dict) else None
    return len(results) if results else 0


async def _fetch_grouped(client: PolygonClient, day: dt.date, dest: Path, progress: DownloadProgress,
                         settle_hours: float | None = None) -> None:
    body = await client.get_bytes(GROUPED_PATH.format(day=day.isoformat()), {"adjusted": "false"})
    if settle_hours is not None:  # a DELAYED body of an unsettled session is not landed (quantmini.plan)
        check_settled(body, day, settle_hours)
    if _results_count(body) == 0:
        raise EmptySessionError(
            f"no bars served for session {day} (grouped daily is empty: vendor data not published yet?)"
        )
    atomic.write_bytes(dest, gzip.compress(body, compresslevel=6, mtime=0))
    progress.advance()


def landed_intact(path: Path) -> bool:
    """Whether a landing file is there and whole (gzip and JSON). A corrupt one (a disk error, a hand
    edit) is removed with a warning, so the landing job downloads it again instead of bronze failing."""
    try:
        orjson.loads(gzip.decompress(path.read_bytes()))
        return True
    except FileNotFoundError:
        return False
    except (OSError, EOFError, zlib.error, orjson.JSONDecodeError) as exc:
        log.warning("corrupt landing file %s (%s): downloading it again", path, " ".join(str(exc).split()))
        print(f"quantmini: corrupt landing file {path}: downloading it again", file=sys.stderr, flush=True)
        path.unlink()
        return False


async def download_grouped_days(
    client: PolygonClient, lake: LakePaths, days: list[dt.date], dtype: str = "stocks_daily",
    settle_hours: float | None = None,
) -> list[dt.date]:
    """Download the grouped-daily body of every day whose landing file is missing; return those days."""
    missing = [d for d in days if not landed_intact(lake.landing_day(dtype, d))]
    if not missing:
        return []
    t0 = time.monotonic()
    label = f"{dtype} {missing[0]:%Y-%m}"
    with DownloadProgress(label, len(missing), client.stats, log) as progress:
        tasks = [asyncio.create_task(_fetch_grouped(client, d, lake.landing_day(dtype, d), progress, settle_hours))
                 for d in missing]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
    log.info(
        "downloaded %d session(s) in %.2fs (%d requests, %d retries)",
        len(missing), time.monotonic() - t0, client.stats.requests, client.stats.retries,
    )
    return missing


def write_manifest(lake: LakePaths, dtype: str, year: int, month: int, days: list[dt.date], path: Path) -> None:
    """Record what the month's landing holds (name, size, sha256 per unit): the bronze job's input."""
    files = []
    for d in days:
        f = lake.landing_day(dtype, d)
        data = f.read_bytes()
        files.append({"date": d.isoformat(), "file": f.name, "bytes": len(data),
                      "sha256": hashlib.sha256(data).hexdigest()})
    doc = {"dtype": dtype, "year": year, "month": month, "sessions": [d.isoformat() for d in days],
           "files": files}
    atomic.write_text(path, json.dumps(doc, indent=1) + "\n")


def land_month(
    *, base_url: str, api_key: str | None, lake: LakePaths, dtype: str, year: int, month: int,
    days: list[dt.date], manifest: Path, max_concurrency: int, rate_per_minute: float | None,
    retries: int, verify: bool | str = True, settle_hours: float | None = None,
) -> list[dt.date]:
    """Fill the landing of one month and write its manifest; return the days downloaded now."""

    async def run() -> list[dt.date]:
        async with PolygonClient(
            base_url, api_key=api_key, max_concurrency=max_concurrency,
            rate_per_minute=rate_per_minute, max_retries=retries, verify=verify,
        ) as client:
            return await download_grouped_days(client, lake, days, dtype, settle_hours)

    fetched = asyncio.run(run())
    write_manifest(lake, dtype, year, month, days, manifest)
    return fetched
