"""XNYS trading sessions, from exchange_calendars, so no one requests a weekend or a holiday.

exchange_calendars (and pandas) are imported when a session is first asked for, not with this module:
most Snakemake jobs import it through the catalog without ever needing a session, and the import is a
large part of a small job's start-up (bench/README.md, issue 21).
"""

from __future__ import annotations

import datetime as dt
import os
from functools import lru_cache
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


@lru_cache(maxsize=64)
def _sessions(start: dt.date, end: dt.date) -> tuple[dt.date, ...]:
    if end < start:
        return ()
    cal = xnys()
    lo = max(start, cal.first_session.date())
    hi = min(end, cal.last_session.date())
    if hi < lo:
        return ()
    return tuple(d.date() for d in cal.sessions_in_range(_timestamp(lo), _timestamp(hi)))


def sessions(start: DateLike, end: DateLike) -> list[dt.date]:
    """XNYS sessions in [start, end], inclusive, as dates."""
    return list(_sessions(to_date(start), to_date(end)))


def is_session(day: DateLike) -> bool:
    return xnys().is_session(_timestamp(to_date(day)))


def session_bounds_utc(day: DateLike) -> tuple[dt.datetime, dt.datetime]:
    """(open, close) of a session as aware UTC datetimes; the close is 13:00 ET on half days."""
    ts = _timestamp(to_date(day))
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
    cal = xnys()
    day = now.astimezone(NY).date()
    for _ in range(15):
        ts = _timestamp(day)
        if cal.is_session(ts) and cal.session_close(ts).to_pydatetime() <= now:
            return day
        day -= dt.timedelta(days=1)
    raise RuntimeError(f"no completed XNYS session in the 15 days before {now.isoformat()}")


def month_sessions(start: DateLike, end: DateLike) -> dict[tuple[int, int], list[dt.date]]:
    """Sessions in [start, end] grouped by (year, month), in order: the unit of a month partition."""
    out: dict[tuple[int, int], list[dt.date]] = {}
    for d in sessions(start, end):
        out.setdefault((d.year, d.month), []).append(d)
    return out
