"""When a session's data is settled: what `end: today` means, and which vendor answers are final.

The vendor keeps computing a day's bar after the close: after-hours trades run to four hours after the
close (20:00 ET, 17:00 on a half day) and late reports and corrections follow. Landing files are
immutable, so a session taken too early would be frozen incomplete. A session is therefore *settled*
`settle` hours after its close (config key `settle`, default 4.5: 20:30 ET on a full day, 17:30 on a half
day; hours after the close rather than a clock time, so half days settle early by themselves).
`end: today` is the last settled session. The clock is calendar.current_time() (QUANTMINI_NOW pins it).
"""

from __future__ import annotations

import datetime as dt

from quantmini import calendar

DEFAULT_SETTLE_HOURS = 4.5


def settle_time(session: calendar.DateLike, hours: float = DEFAULT_SETTLE_HOURS) -> dt.datetime:
    """The moment (aware UTC) a session's data counts as final."""
    return calendar.session_bounds_utc(session)[1] + dt.timedelta(hours=hours)


def is_settled(session: calendar.DateLike, now: dt.datetime | None = None,
               hours: float = DEFAULT_SETTLE_HOURS) -> bool:
    return settle_time(session, hours) <= (now or calendar.current_time())


def last_settled_session(now: dt.datetime | None = None, hours: float = DEFAULT_SETTLE_HOURS) -> dt.date:
    """The last XNYS session settled at `now` (default: the current time)."""
    now = now or calendar.current_time()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    day = calendar.last_completed_session(now)
    for _ in range(15):
        if calendar.is_session(day) and is_settled(day, now, hours):
            return day
        day -= dt.timedelta(days=1)
    raise RuntimeError(f"no settled XNYS session in the 15 days before {now.isoformat()}")


def describe(now: dt.datetime | None = None, hours: float = DEFAULT_SETTLE_HOURS) -> str:
    """One line for `quantmini status`: the last settled session and when the next one settles."""
    now = now or calendar.current_time()
    last = last_settled_session(now, hours)
    nxt = calendar.sessions(last + dt.timedelta(days=1), last + dt.timedelta(days=15))[0]
    when = settle_time(nxt, hours).astimezone(calendar.NY)
    return (f"last settled session: {last} (settle: {hours:g} h after the close; "
            f"{nxt} settles {when:%Y-%m-%d %H:%M} New York)")
