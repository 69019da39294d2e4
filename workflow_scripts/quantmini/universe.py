"""Universe check: every ticker of a `universe` list must be known to the vendor, before any job runs.

Without it a mistyped ticker (APPL for AAPL) silently yields an empty history. A ticker counts as known
when the vendor's reference (/v3/reference/tickers?ticker=X) lists it active as of the range's first
session (so a symbol renamed since, like FB, is known), active now, or delisted now. Known tickers are
remembered in <data_root>/reports/universe.json, so a daily run asks nothing again (one request per new
ticker, usually, on the free plan's 5 per minute).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from quantmini import atomic
from quantmini.lake import LakePaths

TICKERS_PATH = "/v3/reference/tickers"


class UnknownTickerError(ValueError):
    """Tickers the vendor does not know; the message is one line naming them."""


async def _known(client, ticker: str, first_session: str) -> bool:
    for params in ({"ticker": ticker, "date": first_session, "active": "true"},
                   {"ticker": ticker, "active": "true"}, {"ticker": ticker, "active": "false"}):
        doc = await client.get_json(TICKERS_PATH, {**params, "market": "stocks", "limit": 1})
        if isinstance(doc, dict) and doc.get("results"):
            return True
    return False


def _remembered(data_root) -> set[str]:
    try:
        return set(json.loads(LakePaths(data_root).universe_record().read_text())["known"])
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def remember_known(data_root, tickers) -> None:
    """Add tickers found known to the lake's record (rewritten only when it grows)."""
    known = _remembered(data_root)
    if not set(tickers) <= known:
        atomic.write_text(LakePaths(data_root).universe_record(),
                          json.dumps({"known": sorted(known | set(tickers))}, indent=1) + "\n")


def check_universe(universe, first_session: str, data_root: str | Path, *, base_url: str, api_key: str | None,
                   verify: bool | str = True, retries: int = 8, rate_per_minute: float | None = None,
                   key: str = "universe", remember: bool = True) -> list[str]:
    """Raise UnknownTickerError naming every ticker of `universe` the vendor does not know; return the
    tickers checked now (those not remembered from an earlier run; remembered in the lake if `remember`)."""
    if universe == "all":
        return []
    from quantmini.client import PolygonClient

    known = _remembered(data_root)
    todo = [t for t in universe if t not in known]
    if not todo:
        return []

    async def run() -> dict[str, bool]:
        async with PolygonClient(base_url, api_key=api_key, max_concurrency=4, max_retries=retries,
                                 rate_per_minute=rate_per_minute, verify=verify) as client:
            found = await asyncio.gather(*(_known(client, t, first_session) for t in todo))
        return dict(zip(todo, found))

    found = asyncio.run(run())
    unknown = [t for t in todo if not found[t]]
    if not unknown and remember:  # written only on success: a refused run leaves the lake as it was
        remember_known(data_root, todo)
    if unknown:
        raise UnknownTickerError(
            f"{key}: unknown ticker(s) {', '.join(unknown)}: the vendor's reference lists none of them "
            f"(active on {first_session}, active now or delisted); fix `{key}` in the config")
    return todo
