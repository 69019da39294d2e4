"""Vendor revisions of recent sessions (issue 18, item 2), for stocks_daily's grouped daily bodies.

Once per new range end (the checkpoint in rules/revisions.smk), the last `revision_sessions` sessions are
fetched again and compared with what is landed by content: the `results` rows as a set, keyed by ticker
(the envelope's request_id and counts differ between calls of the real API and mean nothing).
- unchanged: nothing is written; the month's manifest keeps its mtime, so its bronze month does not rerun;
- changed: the old body moves to `landing/stocks_daily/year=YYYY/month=MM/revisions/<session>.<replaced
  UTC>.json.gz`, the new one takes its name (both whole at every moment: a temporary name, then renames),
  and the month's manifest is rewritten, so that bronze month, its silver months and gold rebuild;
- a re-fetch without bars (the vendor glitching) never replaces a landed day.
The report (`reports/revisions/stocks_daily/<end>.json`) lists the sessions checked and what was revised
(session, rows added, removed and changed); `quantmini status` shows the latest revisions.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import hashlib
import json
import logging
import os
from pathlib import Path

import orjson

from quantmini import atomic
from quantmini.client import PolygonClient
from quantmini.datatypes.stocks_daily.landing import GROUPED_PATH, write_manifest
from quantmini.lake import LakePaths

log = logging.getLogger("quantmini.revisions")
DTYPE = "stocks_daily"


def rows_by_ticker(body: bytes) -> dict[str, bytes]:
    """`results` keyed by ticker (a repeated ticker keeps every copy, in order), each row as canonical JSON."""
    doc = orjson.loads(body)
    out: dict[str, bytes] = {}
    for row in (doc.get("results") or []) if isinstance(doc, dict) else []:
        key = str(row.get("T"))
        out[key] = out.get(key, b"") + orjson.dumps(row, option=orjson.OPT_SORT_KEYS)
    return out


def compare(old: bytes, new: bytes) -> dict[str, int]:
    a, b = rows_by_ticker(old), rows_by_ticker(new)
    return {"added": len(b.keys() - a.keys()), "removed": len(a.keys() - b.keys()),
            "changed": sum(a[k] != b[k] for k in a.keys() & b.keys())}


def revisions_dir(lake: LakePaths, day: dt.date) -> Path:
    return lake.landing_revisions_dir(DTYPE, day)


def replace(lake: LakePaths, day: dt.date, body: bytes, now: dt.datetime) -> Path:
    """Keep the landed file under revisions/ and land `body` in its place; return the kept file."""
    final = lake.landing_day(DTYPE, day)
    kept = revisions_dir(lake, day) / f"{day}.{now:%Y%m%dT%H%M%SZ}.json.gz"
    kept.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes(kept, final.read_bytes())
    atomic.write_bytes(final, gzip.compress(body, compresslevel=6, mtime=0))
    return kept


def refresh_manifest(lake: LakePaths, year: int, month: int) -> bool:
    """Rewrite the month's landing manifest when a file it lists no longer has the recorded sha256
    (left untouched otherwise: its mtime is what keeps the month's bronze from rebuilding)."""
    manifest = lake.landing_dir(DTYPE, year, month) / "_manifest.json"
    doc = json.loads(manifest.read_text())
    folder = manifest.parent
    if all(hashlib.sha256((folder / f["file"]).read_bytes()).hexdigest() == f["sha256"] for f in doc["files"]):
        return False
    write_manifest(lake, DTYPE, year, month, [dt.date.fromisoformat(d) for d in doc["sessions"]], manifest)
    return True


def sweep(*, base_url: str, api_key: str | None, lake: LakePaths, sessions: list[dt.date], max_concurrency: int,
          rate_per_minute: float | None, retries: int, verify: bool | str = True,
          now: dt.datetime | None = None) -> dict:
    """Re-fetch `sessions`, replace what changed, rewrite the touched months' manifests; the report."""
    now = now or dt.datetime.now(dt.timezone.utc)

    async def fetch() -> list[bytes]:
        async with PolygonClient(base_url, api_key=api_key, max_concurrency=max_concurrency,
                                 rate_per_minute=rate_per_minute, max_retries=retries, verify=verify) as client:
            return await asyncio.gather(*(client.get_bytes(GROUPED_PATH.format(day=d.isoformat()),
                                                           {"adjusted": "false"}) for d in sessions))

    bodies = asyncio.run(fetch())
    revised, skipped = [], []
    for day, body in zip(sessions, bodies):
        landed = lake.landing_day(DTYPE, day)
        old = gzip.decompress(landed.read_bytes())
        diff = compare(old, body)
        if not any(diff.values()):
            continue
        if not rows_by_ticker(body):  # an empty re-fetch is a vendor glitch, never a revision
            skipped.append(day.isoformat())
            log.warning("revision check of %s: the vendor served no bars now; the landed day stays", day)
            continue
        kept = replace(lake, day, body, now)
        entry = {"type": DTYPE, "session": day.isoformat(), "rows_changed": sum(diff.values()), **diff,
                 "replaced_at": now.isoformat(timespec="seconds"), "previous": str(kept)}
        revised.append(entry)
        log.warning("revised %s %s: %d added, %d removed, %d changed (previous body kept at %s)",
                    DTYPE, day, diff["added"], diff["removed"], diff["changed"], kept)
    # every window month, not only those revised now: a run killed between replacing a body and rewriting
    # its manifest left them disagreeing, and this run's re-fetch finds the body already revised
    for year, month in sorted({(d.year, d.month) for d in sessions}):
        refresh_manifest(lake, year, month)
    return {"type": DTYPE, "checked": [d.isoformat() for d in sessions], "revised": revised,
            "empty_refetch": skipped, "checked_at": now.isoformat(timespec="seconds")}


def latest(root: str | os.PathLike, limit: int = 10) -> list[dict]:
    """The most recent revisions recorded under reports/revisions/, newest first."""
    entries = []
    for report in sorted(LakePaths(root).revisions_dir().glob("*/*.json")):
        try:
            entries += json.loads(report.read_text()).get("revised", [])
        except (OSError, ValueError):
            continue
    return sorted(entries, key=lambda e: (e["replaced_at"], e["session"]), reverse=True)[:limit]
