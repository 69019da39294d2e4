"""XNYS trading sessions, from exchange_calendars, so no one requests a weekend or a holiday.

exchange_calendars (and pandas) are imported when a session is first asked for, not with this module:
most Snakemake jobs import it through the catalog without ever needing a session, and the import is a
large part of a small job's start-up (bench/README.md, issue 21). Even then they are imported only once
per version of exchange_calendars on a machine: the sessions with their opens and closes are kept in a
cache file (`cache_file`), which every later process (the workflow's no-op, each job) reads instead.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    import exchange_calendars as xc

NY = ZoneInfo("America/New_York")
_CAL_START = "1980-01-01"
# The earliest `start` a run may have: a year after the calendar's first day, so every look-back from the
# first month (news' previous session, a month's prior sessions) finds its sessions inside the calendar.
EARLIEST_START = dt.date(1981, 1, 1)

DateLike = dt.date | str

# The clock `end: today` is read from. Set (an ISO datetime with its offset) it pins "now" for a whole run,
# its Snakemake jobs included: how the tests check month, quarter and year boundaries on any day.
NOW_ENV = "QUANTMINI_NOW"
# Where the sessions table is cached: this folder, else $XDG_CACHE_HOME/quantmini, else ~/.cache/quantmini
CACHE_ENV = "QUANTMINI_CACHE_DIR"
CACHE_AHEAD = dt.timedelta(days=183)  # a cached table must reach this far past today (else it is rebuilt)


def current_time() -> dt.datetime:
    """The current time (aware, UTC), or the time QUANTMINI_NOW pins."""
    raw = (os.environ.get(NOW_ENV) or "").strip()
    if not raw:
        return dt.datetime.now(tz=dt.timezone.utc)
    try:
        pinned = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{NOW_ENV}={raw!r} is not an ISO datetime (e.g. 2026-01-02T19:00:00-05:00)") from None
    if pinned.tzinfo is None:
        raise ValueError(f"{NOW_ENV}={raw!r} has no UTC offset")
    return pinned.astimezone(dt.timezone.utc)


def to_date(value: DateLike) -> dt.date:
    """Parse 'YYYY-MM-DD' (or pass a date through)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _timestamp(day):
    import pandas as pd

    return pd.Timestamp(day)


@lru_cache(maxsize=1)
def xnys() -> xc.ExchangeCalendar:
    """The XNYS calendar from 1990 on (half days included)."""
    import exchange_calendars as xc

    return xc.get_calendar("XNYS", start=_CAL_START)


class SessionTable:
    """XNYS sessions from the calendar's first to its last, with each session's open and close (UTC
    seconds): what every question of this module is answered from."""

    def __init__(self, days: list[dt.date], opens: list[int], closes: list[int], version: str):
        self.days, self.opens, self.closes, self.version = days, opens, closes, version
        self.index = {d: i for i, d in enumerate(days)}
        self.first, self.last = days[0], days[-1]

    @classmethod
    def from_calendar(cls, cal: xc.ExchangeCalendar, version: str) -> SessionTable:
        days = [d.date() for d in cal.sessions]
        return cls(days, [int(t.timestamp()) for t in cal.opens], [int(t.timestamp()) for t in cal.closes], version)

    @classmethod
    def from_doc(cls, doc: dict) -> SessionTable:
        first = dt.date.fromisoformat(doc["first"])
        days = [first + dt.timedelta(days=n) for n in doc["day_offsets"]]
        if not (len(days) == len(doc["opens"]) == len(doc["closes"])) or not days:
            raise ValueError("inconsistent sessions table")
        return cls(days, doc["opens"], doc["closes"], doc["version"])

    def doc(self) -> dict:
        return {"version": self.version, "first": self.first.isoformat(), "last": self.last.isoformat(),
                "day_offsets": [(d - self.first).days for d in self.days], "opens": self.opens, "closes": self.closes}

    def covers(self, day: dt.date) -> bool:
        return self.first <= day <= self.last

    def between(self, start: dt.date, end: dt.date) -> tuple[dt.date, ...]:
        return tuple(self.days[bisect.bisect_left(self.days, start):bisect.bisect_right(self.days, end)])

    def bounds(self, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        i = self.index[day]
        utc = dt.timezone.utc
        return dt.datetime.fromtimestamp(self.opens[i], utc), dt.datetime.fromtimestamp(self.closes[i], utc)


@lru_cache(maxsize=1)
def _calendar_version() -> str:
    """The installed exchange_calendars, named by its distribution folder (`exchange_calendars-4.13.2.
    dist-info`) without importing it or scanning every installed distribution (importlib.metadata: ~70 ms)."""
    from importlib.util import find_spec

    spec = find_spec("exchange_calendars")
    if spec is None or not spec.origin:
        raise ModuleNotFoundError("exchange_calendars is not installed")
    site = Path(spec.origin).parent.parent
    found = sorted(p.name[len("exchange_calendars-"):-len(".dist-info")]
                   for p in site.glob("exchange_calendars-*.dist-info"))
    if len(found) == 1:
        return found[0]
    st = os.stat(spec.origin)  # no (or an ambiguous) record: the installed file itself names the version
    return f"{st.st_size}-{st.st_mtime_ns}"


def cache_file(version: str | None = None) -> Path:
    """The sessions table of this exchange_calendars version (QUANTMINI_CACHE_DIR, else the user's cache)."""
    base = os.environ.get(CACHE_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "quantmini")
    return Path(base) / f"xnys-sessions-{version or _calendar_version()}-from-{_CAL_START}.json"


@lru_cache(maxsize=1)
def table() -> SessionTable:
    """The sessions table: the cache file when it is this library version's and still reaches half a year
    past today, else built from exchange_calendars (and the cache rewritten; a read-only cache folder
    only costs the import)."""
    version = _calendar_version()
    path = cache_file(version)
    horizon = current_time().date() + CACHE_AHEAD
    try:
        cached = SessionTable.from_doc(json.loads(path.read_text()))
        if cached.version == version and cached.last >= horizon:
            return cached
    except (OSError, ValueError, KeyError, TypeError):
        pass
    built = SessionTable.from_calendar(xnys(), version)
    try:
        from quantmini import atomic

        atomic.write_text(path, json.dumps(built.doc(), separators=(",", ":")))
    except OSError:
        pass
    return built


@lru_cache(maxsize=64)
def _sessions(start: dt.date, end: dt.date) -> tuple[dt.date, ...]:
    if end < start:
        return ()
    t = table()
    if end > t.last:  # past the cached table: the library's own (its last session moves with today)
        cal = xnys()
        lo = max(start, cal.first_session.date())
        hi = min(end, cal.last_session.date())
        if hi < lo:
            return ()
        return tuple(d.date() for d in cal.sessions_in_range(_timestamp(lo), _timestamp(hi)))
    return t.between(start, end)


def sessions(start: DateLike, end: DateLike) -> list[dt.date]:
    """XNYS sessions in [start, end], inclusive, as dates."""
    return list(_sessions(to_date(start), to_date(end)))


def is_session(day: DateLike) -> bool:
    day = to_date(day)
    t = table()
    if t.covers(day):
        return day in t.index
    return xnys().is_session(_timestamp(day))


def session_bounds_utc(day: DateLike) -> tuple[dt.datetime, dt.datetime]:
    """(open, close) of a session as aware UTC datetimes; the close is 13:00 ET on half days."""
    day = to_date(day)
    t = table()
    if day in t.index:
        return t.bounds(day)
    ts = _timestamp(day)
    cal = xnys()
    return cal.session_open(ts).to_pydatetime(), cal.session_close(ts).to_pydatetime()


def regular_minutes(day: DateLike) -> int:
    """Number of one-minute bars in the regular session (390, or 210 on a half day)."""
    o, c = session_bounds_utc(day)
    return int((c - o).total_seconds() // 60)


def last_completed_session(now: dt.datetime | None = None) -> dt.date:
    """The last XNYS session whose close has passed at `now` (default: the current time).

    This is what `end: today` means: data for a session is final only after its close.
    """
    now = now or current_time()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    day = now.astimezone(NY).date()
    for _ in range(15):
        if is_session(day) and session_bounds_utc(day)[1] <= now:
            return day
        day -= dt.timedelta(days=1)
    raise RuntimeError(f"no completed XNYS session in the 15 days before {now.isoformat()}")


def month_sessions(start: DateLike, end: DateLike) -> dict[tuple[int, int], list[dt.date]]:
    """Sessions in [start, end] grouped by (year, month), in order: the unit of a month partition."""
    out: dict[tuple[int, int], list[dt.date]] = {}
    for d in sessions(start, end):
        out.setdefault((d.year, d.month), []).append(d)
    return out
