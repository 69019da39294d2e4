"""Vendor revisions of recent sessions (issue 18, item 2), for every type the catalog marks `revised`.

Once per new range end (a checkpoint per type in rules/revisions.smk), what the type landed for the last
`revision_sessions` sessions is asked again and compared with what is landed by content: the rows of
each request as a set, keyed by the catalog's `row_key` (the envelope's request_id, counts and next_url
differ between calls of the real API and mean nothing). Which files: stocks_daily's grouped body of each
window session; for the other types the landing documents their manifests list (of the catalog's
`kinds`) whose window meets the revision window, their recorded requests re-issued (minute bars of a
session, an options bars document, a month's splits/dividends/tickers listing, the year's renames).
- unchanged: nothing is written; the manifest keeps its mtime, so nothing downstream reruns;
- changed: the old file moves to `<manifest folder>/revisions/<its relative path>.<replaced UTC>.json.gz`,
  the new one takes its name (both whole at every moment: a temporary name, then renames), the manifest
  entry gets the new sha256 (so its bronze job reruns) and the month's revision stamp is touched (so the
  jobs reading the month as `ancient` rebuild too; lake.revision_stamp);
- a re-fetch without rows where rows were landed (the vendor glitching) never replaces a landed file.
The report (`reports/revisions/<type>/<end>.json`) lists the files checked, the requests made and what
was revised (session, rows added, removed and changed); `quantmini status` shows the latest revisions.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import orjson

from quantmini import atomic
from quantmini.catalog import DataType, data_type
from quantmini.client import PolygonClient
from quantmini.datatypes.stocks_daily.landing import GROUPED_PATH
from quantmini.lake import LakePaths
from quantmini.landing_documents import ClientOptions, fetch_pages, landing_document

log = logging.getLogger("quantmini.revisions")


@dataclass
class Unit:
    """One landed file the sweep asks again: where it is, what it covers, the requests that made it."""

    manifest: Path
    file: Path
    lo: dt.date
    hi: dt.date
    requests: list[tuple[str, dict]]
    doc: dict | None = None  # a landing document's envelope (dtype, window); None for a raw grouped body

    @property
    def session(self) -> str:
        return self.lo.isoformat() if self.lo == self.hi else f"{self.lo}..{self.hi}"


def _rows(requests: list[list], key: tuple[str, ...]) -> dict[str, bytes]:
    """Every row of every request's pages, keyed by (request index, the key fields); a repeated key keeps
    every copy in order; without key fields a row is its own key."""
    out: dict[str, bytes] = {}
    for i, pages in enumerate(requests):
        for page in pages:
            results = page.get("results") if isinstance(page, dict) else None
            rows = results if isinstance(results, list) else ([results] if results else [])
            for row in rows:
                blob = orjson.dumps(row, option=orjson.OPT_SORT_KEYS)
                name = f"{i}:" + (orjson.dumps([row.get(k) for k in key]).decode() if key and isinstance(row, dict)
                                  else blob.decode())
                out[name] = out.get(name, b"") + blob
    return out


def body_rows(body: bytes, key: tuple[str, ...], grouped: bool) -> dict[str, bytes]:
    """A landed or fetched file's rows (see _rows): a raw grouped body is one request of one page."""
    doc = orjson.loads(body)
    if grouped:
        return _rows([[doc]], key)
    return _rows([r.get("pages") or [] for r in doc.get("requests") or []], key)


def compare(old: dict[str, bytes], new: dict[str, bytes]) -> dict[str, int]:
    return {"added": len(new.keys() - old.keys()), "removed": len(old.keys() - new.keys()),
            "changed": sum(old[k] != new[k] for k in old.keys() & new.keys())}


def rows_by_ticker(body: bytes) -> dict[str, bytes]:
    """A grouped daily body's rows keyed by ticker (stocks_daily's comparison)."""
    return body_rows(body, ("T",), grouped=True)


def _months(lo: dt.date, hi: dt.date) -> list[tuple[int, int]]:
    out, y, m = [], lo.year, lo.month
    while (y, m) <= (hi.year, hi.month):
        out.append((y, m))
        y, m = (y, m + 1) if m < 12 else (y + 1, 1)
    return out


def units(dtype: DataType, lake: LakePaths, sessions: list[dt.date], manifests: list[Path]) -> list[Unit]:
    """The landed files of `manifests` the window `sessions` asks again (module docstring)."""
    spec = dtype.revised
    lo, hi = sessions[0], sessions[-1]
    if spec.body == "grouped":
        return [Unit(lake.landing_manifest(dtype.name, d.year, d.month), lake.landing_day(dtype.name, d),
                     d, d, [(GROUPED_PATH.format(day=d.isoformat()), {"adjusted": "false"})]) for d in sessions]
    wanted = {d.isoformat() for d in sessions}
    out = []
    for manifest in manifests:
        for entry in json.loads(manifest.read_text())["files"]:
            if spec.kinds and entry.get("kind") not in spec.kinds:
                continue
            if "date" in entry and entry["date"] not in wanted:  # minute bars: one session per file
                continue
            if "span" in entry and (entry["span"][1] < lo.isoformat() or entry["span"][0] > hi.isoformat()):
                continue
            path = dtype.manifest_file(lake, manifest, entry)
            doc = orjson.loads(gzip.decompress(path.read_bytes()))
            a, b = (dt.date.fromisoformat(x[:10]) for x in doc["window"])
            if b < lo or a > hi:
                continue
            out.append(Unit(manifest, path, a, b, [(r["path"], r["params"]) for r in doc["requests"]],
                            {"dtype": doc["dtype"], "window": doc["window"]}))
    return out


def _fetch_all(opts: ClientOptions, todo: list[Unit], listing: bool) -> list[list[list[bytes]]]:
    """Every unit's requests' pages (one client for the sweep)."""

    async def run() -> list[list[list[bytes]]]:
        async with PolygonClient(opts.base_url, api_key=opts.api_key, max_concurrency=opts.max_concurrency,
                                 rate_per_minute=opts.rate_per_minute, max_retries=opts.retries,
                                 verify=opts.verify) as client:
            return list(await asyncio.gather(*(fetch_pages(client, u.requests, listing) for u in todo)))

    return asyncio.run(run()) if todo else []


def replace(lake: LakePaths, unit: Unit, body: bytes, now: dt.datetime) -> Path:
    """Keep the landed file under its manifest's revisions/ folder and land `body` in its place."""
    folder = unit.manifest.parent
    kept = lake.landing_revision(folder, str(unit.file.relative_to(folder)), now)
    kept.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes(kept, unit.file.read_bytes())
    atomic.write_bytes(unit.file, gzip.compress(body, compresslevel=6, mtime=0))
    return kept


def refresh_manifest(dtype: DataType, lake: LakePaths, manifest: Path) -> bool:
    """Give the entries whose file no longer has the recorded sha256 its new one (left untouched when all
    agree: its mtime is what keeps the bronze job from rerunning)."""
    doc = json.loads(manifest.read_text())
    stale = False
    for entry in doc["files"]:
        data = dtype.manifest_file(lake, manifest, entry).read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        if sha != entry["sha256"]:
            entry["sha256"], entry["bytes"], stale = sha, len(data), True
    if stale:
        atomic.write_text(manifest, json.dumps(doc, indent=1) + "\n")
    return stale


def sweep(dtype: str | DataType, *, lake: LakePaths, sessions: list[dt.date], manifests: list[Path],
          opts: ClientOptions, now: dt.datetime | None = None) -> dict:
    """Ask the window's landed files again, replace what changed, bring the manifests in line; the report."""
    dtype = data_type(dtype) if isinstance(dtype, str) else dtype
    spec = dtype.revised
    now = now or dt.datetime.now(dt.timezone.utc)
    todo = units(dtype, lake, sessions, manifests) if sessions else []
    fetched = _fetch_all(opts, todo, spec.listing and spec.body != "grouped")
    grouped = spec.body == "grouped"
    revised, skipped = [], []
    for unit, pages in zip(todo, fetched, strict=True):
        body = (pages[0][0] if pages[0] else b"{}") if grouped else landing_document(
            unit.doc["dtype"], unit.doc["window"], unit.requests, pages)
        old = body_rows(gzip.decompress(unit.file.read_bytes()), spec.row_key, grouped)
        new = body_rows(body, spec.row_key, grouped)
        diff = compare(old, new)
        if not any(diff.values()):
            continue
        if old and not new:  # an empty re-fetch is a vendor glitch, never a revision
            skipped.append(unit.session)
            log.warning("revision check of %s %s: the vendor served no rows now; the landed file stays",
                        dtype.name, unit.session)
            continue
        kept = replace(lake, unit, body, now)
        for y, m in _months(unit.lo, unit.hi):
            atomic.write_text(lake.revision_stamp(dtype.name, y, m), now.isoformat(timespec="seconds") + "\n")
        revised.append({"type": dtype.name, "session": unit.session, "rows_changed": sum(diff.values()), **diff,
                        "file": str(unit.file.relative_to(lake.root)), "replaced_at": now.isoformat(timespec="seconds"),
                        "previous": str(kept.relative_to(lake.root))})
        log.warning("revised %s %s: %d added, %d removed, %d changed (previous file kept at %s)",
                    dtype.name, unit.session, diff["added"], diff["removed"], diff["changed"], kept)
    # every window manifest, not only those revised now: a run killed between replacing a file and
    # rewriting its manifest left them disagreeing, and this run's re-fetch finds the file already revised
    for manifest in sorted({u.manifest for u in todo} | set(manifests)):
        if manifest.exists():
            refresh_manifest(dtype, lake, manifest)
    return {"type": dtype.name, "checked": [d.isoformat() for d in sessions], "files": len(todo),
            "requests": sum(len(u.requests) for u in todo), "revised": revised, "empty_refetch": skipped,
            "checked_at": now.isoformat(timespec="seconds")}


def latest(root: str | os.PathLike, limit: int = 10) -> list[dict]:
    """The most recent revisions recorded under reports/revisions/, newest first: one per type, session
    and sweep, its files' rows summed (a session of minute bars is a file per ticker)."""
    groups: dict[tuple, dict] = {}
    for report in sorted(LakePaths(root).revisions_dir().glob("*/*.json")):
        try:
            entries = json.loads(report.read_text()).get("revised", [])
        except (OSError, ValueError):
            continue
        for e in entries:
            g = groups.setdefault((e["replaced_at"], e["session"], e["type"]), {
                "type": e["type"], "session": e["session"], "replaced_at": e["replaced_at"], "files": 0,
                "rows_changed": 0, "added": 0, "removed": 0, "changed": 0})
            g["files"] += 1
            for k in ("rows_changed", "added", "removed", "changed"):
                g[k] += e[k]
    return [groups[k] for k in sorted(groups, reverse=True)][:limit]
