"""News (`/v2/reference/news`): landing by publication month, bronze articles and article x ticker, and
silver per ticker-session counts and mean sentiment.

Windows (UTC, [lo, hi), whole seconds as the vendor stamps `published_utc`): month M holds the
articles published in it; the range's first month also holds those after the close of the session
before the range (so the first session's count is complete); the range's last month stops one second
after the close of the range's last session (what is published later counts for a session not in range
yet, and may not exist yet). A month is closed when the range has passed its end.

Landing: a month's window is fetched in chunks `<lo>_<hi>.json.gz` (all pages, verbatim, in one gzip
JSON document as for corporate actions). A chunk is named after what it holds, so it is immutable:
a rerun downloads only the part of the window no chunk covers yet -- a one-session update asks for the
articles since the previous cut-off only. The year's `_manifest.json` lists each month's chain of
chunks (with sha256); bronze reads only those.

Bronze (per month): `articles` (one row per article id: the vendor lists some articles twice and
repeats articles across pages; exact duplicates are collapsed and counted, conflicting ones are
quarantined) and `article_tickers` (article_id, ticker, sentiment, sentiment_reasoning,
published_utc): every ticker the article names, with its insight's sentiment (null when the article
has no insight for it). A configured `universe` list keeps the pairs of its tickers and the articles
naming one of them.

Silver (`news_daily`, per month): one row per (ticker, date) of the month's bronze stocks_daily, with
the articles assigned to that session: an article published after the previous session's close and at
or before this session's close (16:00 ET, 13:00 on half days) counts for this session; after the close,
on a weekend or a holiday, it counts for the next session. No look-ahead: a session's figures use only
what was published by its close.
    news_count        articles naming the ticker
    positive/neutral/negative_count   insights of each sentiment
    sentiment_mean    mean of the insights' scores (positive=1, neutral=0, negative=-1); null when none
Session closes come from the rule's params (computed where the calendar is loaded), so the silver job
imports neither pandera nor exchange_calendars.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from quantmini import atomic
from quantmini.lake import LakePaths

PATH = "/v2/reference/news"

PAGE_LIMIT = 1000

_FMT = "%Y-%m-%dT%H:%M:%SZ"

_NAME_FMT = "%Y%m%dT%H%M%SZ"

def _iso(ts: dt.datetime) -> str:
    return ts.astimezone(dt.UTC).strftime(_FMT)

def _parse(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, _FMT).replace(tzinfo=dt.UTC)

# ------------------------------------------------------------------------------------------ windows
@dataclass(frozen=True)
class NewsWindow:
    """Month (year, month) of publication, [lo, hi) in UTC."""

    year: int
    month: int
    lo: dt.datetime
    hi: dt.datetime

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def to_params(self) -> dict:
        return {"year": self.year, "month": self.month, "lo": _iso(self.lo), "hi": _iso(self.hi)}

    @classmethod
    def from_params(cls, p: dict) -> NewsWindow:
        return cls(int(p["year"]), int(p["month"]), _parse(p["lo"]), _parse(p["hi"]))

def _month_start(year: int, month: int) -> dt.datetime:
    return dt.datetime(year, month, 1, tzinfo=dt.UTC)

def _next_month(year: int, month: int) -> dt.datetime:
    return _month_start(year + (month == 12), month % 12 + 1)

def news_windows(months: list[tuple[int, int]], prev_close: dt.datetime, last_close: dt.datetime) -> list[NewsWindow]:
    """The publication windows of the range's months (module docstring); prev_close is the close of the
    session before the range, last_close the close of the range's last session."""
    first_lo = prev_close + dt.timedelta(seconds=1)
    cutoff = last_close + dt.timedelta(seconds=1)
    out = []
    for k, (y, m) in enumerate(sorted(months)):
        lo = first_lo if k == 0 else _month_start(y, m)
        out.append(NewsWindow(y, m, lo, min(_next_month(y, m), cutoff)))
    return out

def session_closes(sessions: list[dt.date]) -> list[list[str]]:
    """[[session, close UTC], ...] for the rule's params (exchange_calendars: 13:00 ET on half days)."""
    from quantmini import calendar

    return [[d.isoformat(), _iso(calendar.session_bounds_utc(d)[1])] for d in sessions]

def previous_session(day: dt.date) -> dt.date:
    from quantmini import calendar

    return calendar.sessions(day - dt.timedelta(days=20), day - dt.timedelta(days=1))[-1]

# ------------------------------------------------------------------------------------------ landing
def chunk_name(lo: dt.datetime, hi: dt.datetime) -> str:
    return f"{lo.strftime(_NAME_FMT)}_{hi.strftime(_NAME_FMT)}.json.gz"

def _chunk_bounds(name: str) -> tuple[dt.datetime, dt.datetime] | None:
    try:
        lo, hi = name.removesuffix(".json.gz").split("_")
        return (dt.datetime.strptime(lo, _NAME_FMT).replace(tzinfo=dt.UTC),
                dt.datetime.strptime(hi, _NAME_FMT).replace(tzinfo=dt.UTC))
    except ValueError:
        return None

def landed_chain(folder: Path, w: NewsWindow) -> tuple[list[Path], dt.datetime]:
    """The landed chunks covering [w.lo, x) back to back (each step the longest that fits), and x."""
    spans: dict[dt.datetime, list[tuple[dt.datetime, Path]]] = {}
    for f in folder.glob("*.json.gz") if folder.is_dir() else []:
        b = _chunk_bounds(f.name)
        if b and b[1] <= w.hi:
            spans.setdefault(b[0], []).append((b[1], f))
    chain, cur = [], w.lo
    while cur in spans:
        hi, f = max(spans[cur])
        chain.append(f)
        cur = hi
    return chain, cur

def chunk_request(lo: dt.datetime, hi: dt.datetime, limit: int) -> tuple[str, dict[str, str]]:
    return PATH, {"published_utc.gte": _iso(lo), "published_utc.lt": _iso(hi), "order": "asc",
                  "sort": "published_utc", "limit": str(limit)}

def plan_chunks(lake: LakePaths, windows: list[NewsWindow], limit: int = PAGE_LIMIT) -> tuple[list, dict]:
    """(chunks to download: (file, dtype, window, requests); per month, its chain of chunk files)."""
    todo, chains = [], {}
    for w in windows:
        folder = lake.landing_dir("news", w.year, w.month)
        chain, cur = landed_chain(folder, w)
        if cur < w.hi:
            path = folder / chunk_name(cur, w.hi)
            todo.append((path, "news", [_iso(cur), _iso(w.hi)], [chunk_request(cur, w.hi, limit)]))
            chain.append(path)
        chains[w.key] = chain
    return todo, chains

def land_news_year(lake: LakePaths, year: int, windows: list[NewsWindow], manifest: Path, opts,
                   limit: int = PAGE_LIMIT) -> int:
    """Land the year's month windows: fetch only what no landed chunk covers; write the manifest;
    return the number of chunks downloaded now."""
    from quantmini.landing_documents import (
        land_files,  # the shared "one client, write each file" loop
    )

    todo, chains = plan_chunks(lake, windows, limit)
    land_files(opts, todo, listing=True)
    entries = []
    for w in windows:
        for f in chains[w.key]:
            data = f.read_bytes()
            entries.append({"month": w.key, "file": str(f.relative_to(manifest.parent)), "bytes": len(data),
                            "sha256": hashlib.sha256(data).hexdigest()})
    doc = {"dtype": "news", "year": year, "windows": [w.to_params() for w in windows], "files": entries}
    atomic.write_text(manifest, json.dumps(doc, indent=1) + "\n")
    return len(todo)
