"""Ticker details snapshots (`/v3/reference/tickers/{ticker}?date=`): one per month, and the universe
filter that reads them.

A month's snapshot covers the tickers that traded in the month (those with a bar in the month's landed
grouped-daily bodies, within a configured `universe` list), each as of its last session in the month
that is in range: the month's last session in range for most, the last bar for a ticker delisted or
renamed during the month (the old symbol is unknown to the vendor after the change). One request per
ticker; a 404 (ticker unknown on that date) leaves the ticker out of the snapshot, and the report
lists it.

Landing: one gzip JSON document per month named after the snapshot date
(landing/ticker_details/year=YYYY/month=MM/<date>.json.gz), immutable; a rerun requests only the
months whose snapshot date has no file yet (when `end` moves on: the current month). Jobs are per year,
like corporate actions; the year's `_manifest.json` lists the month files.

Universe filter (`universe_filter: {types: [CS, ...]}`): bronze stocks_daily of month M keeps the
tickers whose type in M's snapshot is one of `types` (point in time: the month's snapshot decides;
a ticker missing from the snapshot is dropped). Everything downstream (silver, gold, news_daily) is
built from bronze stocks_daily, so it follows.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from pathlib import Path

import orjson

from quantmini import atomic
from quantmini.lake import LakePaths

PATH = "/v3/reference/tickers/{ticker}"

# ------------------------------------------------------------------------------------------ landing
def traded_tickers(lake: LakePaths, sessions: list[dt.date], universe) -> dict[str, dt.date]:
    """ticker -> its last session with a bar among `sessions`, from the landed grouped-daily bodies
    (read with gzip directly: quantmini.bronze would import pandera into a download job)."""
    last: dict[str, dt.date] = {}
    for day in sorted(sessions):
        body = orjson.loads(gzip.decompress(lake.landing_day("stocks_daily", day).read_bytes()))
        for bar in body.get("results") or []:
            t = bar.get("T")
            if t and (universe == "all" or t in universe):
                last[t] = day
    return last

def snapshot_requests(tickers: dict[str, dt.date]) -> list[tuple[str, dict[str, str]]]:
    return [(PATH.format(ticker=t), {"date": d.isoformat()}) for t, d in sorted(tickers.items())]

def land_details_year(lake: LakePaths, year: int, months: list[dict], universe, manifest: Path, opts) -> int:
    """Land the snapshots of the year's months ({year, month, sessions}) not landed yet; write the
    manifest; return how many months were downloaded now."""
    from quantmini.landing_documents import (
        land_files,  # the shared "one client, write each file" loop
    )

    files, todo = [], []
    for mo in months:
        sessions = [dt.date.fromisoformat(s) for s in mo["sessions"]]
        snap = max(sessions)
        path = lake.landing_file("ticker_details", mo["year"], mo["month"], f"{snap.isoformat()}.json.gz")
        if not path.exists():
            tickers = traded_tickers(lake, sessions, universe)
            todo.append((path, "ticker_details", [snap.isoformat(), snap.isoformat()], snapshot_requests(tickers)))
        files.append((f"{mo['year']:04d}-{mo['month']:02d}", snap, path))
    land_files(opts, todo, listing=False)
    entries = []
    for key, snap, f in files:
        data = f.read_bytes()
        entries.append({"month": key, "snapshot_date": snap.isoformat(), "file": str(f.relative_to(manifest.parent)),
                        "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    doc = {"dtype": "ticker_details", "year": year, "files": entries}
    atomic.write_text(manifest, json.dumps(doc, indent=1) + "\n")
    return len(todo)
