"""Fundamentals: company financials, short interest and short volume — landing and bronze.

One data type (`fundamentals`) builds three tables, each partitioned by month:
- financials by FILING month (`filing_date`), from `/vX/reference/financials?filing_date.gte&.lte`
  (limit 100, the vendor's cap; every page), flattened to a long table: one row per (filing result,
  ticker, statement, field). The months start HISTORY_MONTHS before the lake's first month, so the
  point-in-time silver of the first months has the filings it looks back to.
- short_interest by settlement month, `/stocks/v1/short-interest?settlement_date.gte&.lte`.
- short_volume by session month, `/stocks/v1/short-volume?date.gte&.lte`.

Jobs are per year (one landing and one bronze job for the three tables: a job costs a Python start-up),
partitions per month. A month's window is [lo, hi]: the month's first day (short tables: the range's first
session if the range starts inside the month) to its last day once the month is closed, else the last
session in range.

Landing is immutable and incremental: a month's landing is a chain of chunk files
landing/<table>/year=YYYY/month=MM/<a>_<b>.json.gz, each holding every page of one listing over the days
[a, b] (the raw bodies verbatim: quantmini.landing_documents). A job downloads only the days of the window
no chunk covers yet — when `end` moves on by a session, one request per table (plus its pages) — and a
rerun after a code edit downloads nothing. The year's `_manifest.json` lists the chunks (with sha256);
the bronze job reads only those.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path

from quantmini import atomic
from quantmini.lake import LakePaths
from quantmini.landing_documents import ClientOptions, Request, land_files

DTYPE = "fundamentals"

TABLES = ("financials", "short_interest", "short_volume")

FIN_LIMIT = 100  # the vendor's maximum for /vX/reference/financials

V1_LIMIT = 50_000  # the maximum of the /stocks/v1 listings

ENDPOINTS = {  # table -> (path, date field filtered on, fixed params)
    "financials": ("/vX/reference/financials", "filing_date",
                   {"sort": "filing_date", "order": "asc", "limit": str(FIN_LIMIT)}),
    "short_interest": ("/stocks/v1/short-interest", "settlement_date",
                       {"sort": "settlement_date.asc", "limit": str(V1_LIMIT)}),
    "short_volume": ("/stocks/v1/short-volume", "date", {"sort": "date.asc", "limit": str(V1_LIMIT)}),
}

_CHUNK_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})_(\d{4}-\d{2}-\d{2})\.json\.gz$")

# ------------------------------------------------------------------------------------------ windows
def _last_day(year: int, month: int) -> dt.date:
    return dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)

def year_windows(year: int, sessions: dict[tuple[int, int], list[dt.date]],
                 history: list[tuple[int, int]]) -> list[dict]:
    """The windows of `year`: per table and month, {table, year, month, lo, hi} (ISO dates).

    `sessions`: the year's months in range -> their sessions in range; `history`: the financials-only
    months before the range (whole calendar months), given to the job of the range's first year (so
    they cost no job of their own).
    """
    from quantmini.datatypes.corporate_actions.landing import month_window

    out = []
    for y, m in history:
        out.append({"table": "financials", "year": y, "month": m, "lo": dt.date(y, m, 1).isoformat(),
                    "hi": _last_day(y, m).isoformat()})
    for (y, m), days in sorted(sessions.items()):
        if y != year:
            continue
        w = month_window(y, m, days)
        for table in TABLES:
            lo = dt.date(y, m, 1) if table == "financials" else w.lo
            out.append({"table": table, "year": y, "month": m, "lo": lo.isoformat(), "hi": w.hi.isoformat()})
    return out

def window_key(w: dict) -> str:
    return f"{w['table']}/{w['year']:04d}-{w['month']:02d}"

# ------------------------------------------------------------------------------------------ landing
def chunk_requests(table: str, lo: dt.date, hi: dt.date) -> list[Request]:
    path, field, fixed = ENDPOINTS[table]
    return [(path, {f"{field}.gte": lo.isoformat(), f"{field}.lte": hi.isoformat(), **fixed})]

def chunk_chain(folder: Path, lo: dt.date, hi: dt.date) -> tuple[list[Path], tuple[dt.date, dt.date] | None]:
    """The landed chunks that cover [lo, hi] from lo on without a gap (the longest at each step), and the
    days still missing after them (None when the window is covered)."""
    spans: dict[dt.date, list[tuple[dt.date, Path]]] = {}
    if folder.is_dir():
        for p in folder.iterdir():
            match = _CHUNK_RE.match(p.name)
            if match:
                a, b = (dt.date.fromisoformat(x) for x in match.groups())
                spans.setdefault(a, []).append((b, p))
    chain, cur = [], lo
    while cur <= hi:
        fits = [(b, p) for b, p in spans.get(cur, []) if b <= hi]
        if not fits:
            return chain, (cur, hi)
        b, p = max(fits)
        chain.append(p)
        cur = b + dt.timedelta(days=1)
    return chain, None

def land_year(lake: LakePaths, year: int, windows: list[dict], manifest: Path, opts: ClientOptions) -> int:
    """Land the year's windows, downloading only the days no chunk holds yet (one client for all);
    write the year's manifest; return the number of chunks downloaded now."""
    todo, plan = [], []
    for w in windows:
        lo, hi = dt.date.fromisoformat(w["lo"]), dt.date.fromisoformat(w["hi"])
        folder = lake.landing_dir(w["table"], w["year"], w["month"])
        chain, missing = chunk_chain(folder, lo, hi)
        if missing is not None:
            a, b = missing
            path = folder / f"{a.isoformat()}_{b.isoformat()}.json.gz"
            todo.append((path, w["table"], [a.isoformat(), b.isoformat()], chunk_requests(w["table"], a, b)))
            chain = [*chain, path]
        plan.append((w, chain))
    land_files(opts, todo, listing=True)
    entries, root = [], manifest.parent.parent.parent  # landing/
    for w, chain in plan:
        for f in chain:
            data = f.read_bytes()
            entries.append({"table": w["table"], "month": window_key(w), "file": str(f.relative_to(root)),
                            "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    doc = {"dtype": DTYPE, "year": year, "windows": windows, "files": entries}
    atomic.write_text(manifest, json.dumps(doc, indent=1) + "\n")
    return len(todo)
