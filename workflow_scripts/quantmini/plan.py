"""What the vendor's plan allows: history limits and delayed data (issue 18, item 3).

- A plan limits how far back aggregates go; the vendor answers 403 NOT_AUTHORIZED "Your plan doesn't
  include this data timeframe" and does not say where the timeframe starts. `explain` turns such a
  failure into one line naming the earliest date to configure, found by a binary search over the
  range's sessions with grouped-daily requests (~log2(sessions) requests, e.g. 11 for 8 years): the
  user learns the exact `start` to set instead of guessing the plan's length.
- A delayed plan answers `status: "DELAYED"`. Such a body is landed only when its session has
  settled (quantmini.settle): landing is immutable, so data the vendor itself calls delayed before the
  settle time would freeze a bar that is still moving; a later run fetches it. The settle margin
  (30 minutes after after-hours trading by default) covers a plan delayed by less than that.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import orjson

from quantmini import calendar, settle
from quantmini.client import PermanentApiError, PolygonClient

TIMEFRAME_PHRASE = "include this data timeframe"
PROBE_PATH = "/v2/aggs/grouped/locale/us/market/stocks/{day}"


class DelayedDataError(RuntimeError):
    """The vendor marked data of an unsettled session DELAYED: not landed."""


def is_plan_timeframe(exc: BaseException) -> bool:
    return isinstance(exc, PermanentApiError) and exc.status == 403 and TIMEFRAME_PHRASE in str(exc)


def check_settled(body: bytes, session: dt.date, settle_hours: float, now: dt.datetime | None = None) -> None:
    """Raise DelayedDataError when `body` says DELAYED and `session` has not settled yet."""
    if b'"DELAYED"' not in body:  # cheap pre-check: most bodies never mention it
        return
    doc = orjson.loads(body)
    if not (isinstance(doc, dict) and doc.get("status") == "DELAYED"):
        return
    if settle.is_settled(session, now, settle_hours):
        return
    when = settle.settle_time(session, settle_hours).astimezone(calendar.NY)
    raise DelayedDataError(
        f"the vendor marks session {session} DELAYED and it settles only at {when:%Y-%m-%d %H:%M} New York: "
        "not landed, a later run fetches it")


async def earliest_served(client: PolygonClient, days: list[dt.date]) -> dt.date | None:
    """The first of `days` whose grouped daily the plan serves (None: not even the last), assuming the
    plan serves everything from some day on."""
    lo, hi = 0, len(days)  # invariant: days[:lo] refused, days[hi:] served
    while lo < hi:
        mid = (lo + hi) // 2
        try:
            await client.get_bytes(PROBE_PATH.format(day=days[mid].isoformat()), {"adjusted": "false"})
        except PermanentApiError as exc:
            if not is_plan_timeframe(exc):
                raise
            lo = mid + 1
        else:
            hi = mid
    return days[lo] if lo < len(days) else None


def explain(exc: BaseException, cfg: dict, *, base_url: str, api_key: str | None,
            verify: bool | str = True) -> str:
    """One line for a failed landing job: `exc` as is, or for a plan's timeframe the date to configure."""
    if not is_plan_timeframe(exc):
        return str(exc)
    from quantmini.config import resolve_range

    start, end = resolve_range(cfg)
    days = calendar.sessions(start, max(end, start))

    async def probe() -> dt.date | None:
        async with PolygonClient(base_url, api_key=api_key, max_concurrency=1, verify=verify,
                                 rate_per_minute=cfg.get("rate_limit_per_minute"),
                                 max_retries=cfg.get("retries", 8)) as client:
            return await earliest_served(client, days)

    try:
        first = asyncio.run(probe())
    except Exception as probe_exc:  # noqa: BLE001 -- the original failure is what the user must see
        return f"{exc} (your plan's history limit; probing for its first day failed: {probe_exc})"
    if first is None:
        return f"your plan serves none of {start}..{end} (HTTP 403 NOT_AUTHORIZED: {TIMEFRAME_PHRASE})"
    return (f"your plan's history starts on {first}: set start: {first} or later "
            f"(HTTP 403 NOT_AUTHORIZED for {start}..{first - dt.timedelta(days=1)}: data timeframe not in the plan)")


def job_message(exc: BaseException, cfg: dict) -> str:
    """`explain` with the run's endpoint and key: what a landing job's one-line failure says."""
    from quantmini import settings

    if not is_plan_timeframe(exc):
        return str(exc)
    return explain(exc, cfg, base_url=settings.api_url(cfg), api_key=settings.api_key(), verify=settings.api_verify())
