"""Flagged minute sessions and the exceptions a user accepted for them.

bronze stocks_minute flags a session when a stock has fewer regular bars than the session's minutes (the
vendor did not serve them; the simulator plants ~1 % such gaps on purpose). That is a finding about the
vendor, not a broken lake, so it must be named (session, ticker, bars) and, once a person has looked at
it, recordable as accepted with who and why: reports/accepted/<type>/<session>_<ticker>.json. An accepted
flag no longer fails `quantmini validate`; it stays listed, with its acceptance, so nothing is hidden.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from quantmini import atomic
from quantmini.lake import LakePaths

FLAGGING_TYPES = ("stocks_minute",)  # types whose reports flag sessions (options trade in few minutes)


@dataclass(frozen=True)
class Flag:
    dtype: str
    partition: str   # YYYY-MM
    session: str     # YYYY-MM-DD
    ticker: str
    bars: int        # regular bars served
    expected: int    # regular minutes of the session
    accepted: dict | None

    def describe(self) -> str:
        return (f"{self.dtype} {self.session} {self.ticker}: {self.bars} of {self.expected} regular minute bars "
                "(the vendor served fewer)")

    def accept_command(self) -> str:
        return (f"quantmini accept {self.dtype} {self.session} --ticker {self.ticker} "
                "--by NAME --why 'checked: vendor gap'")


def record_path(lake: LakePaths, dtype: str, session: str, ticker: str) -> Path:
    return lake.accepted_dir() / dtype / f"{session}_{ticker.replace(':', '_')}.json"


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None


def flags(root: str | Path, dtypes=FLAGGING_TYPES) -> list[Flag]:
    """Every flagged (session, ticker) in the lake's validation reports, with its acceptance if any."""
    lake = LakePaths(root)
    out = []
    for dtype in dtypes:
        base = lake.root / "reports" / "validation" / dtype
        for f in sorted(base.glob("year=*/month=*.json")):
            rep = _read(f) or {}
            part = f"{f.parent.name[5:]}-{f.stem[6:]}"
            for day in rep.get("flagged_sessions") or []:
                entry = (rep.get("sessions") or {}).get(day, {})
                for ticker, bars in sorted((entry.get("incomplete") or {}).items()):
                    out.append(Flag(dtype, part, day, ticker, int(bars), int(entry.get("regular_minutes", 0)),
                                    _read(record_path(lake, dtype, day, ticker))))
    return out


def report_accepted(root: str | Path, dtype: str, partition: str) -> bool:
    """Whether a failed report fails only for flags that are all accepted (nothing quarantined)."""
    lake = LakePaths(root)
    rep = _read(lake.validation_report(dtype, int(partition[:4]), int(partition[5:]))) or {}
    mine = [f for f in flags(root, (dtype,)) if f.partition == partition]
    return bool(mine) and rep.get("rows_quarantined", 0) == 0 and all(f.accepted for f in mine)


def accept(root: str | Path, dtype: str, session: str, ticker: str | None, by: str, why: str) -> list[Flag]:
    """Record the flags of (dtype, session[, ticker]) as accepted; LookupError when nothing is flagged there."""
    if dtype not in FLAGGING_TYPES:
        raise LookupError(f"{dtype} flags no sessions (only {', '.join(FLAGGING_TYPES)} does)")
    if not by.strip() or not why.strip():
        raise ValueError("--by and --why must say who accepts it and why")
    found = [f for f in flags(root, (dtype,)) if f.session == session and (ticker is None or f.ticker == ticker)]
    if not found:
        flagged = sorted({f"{f.session} {f.ticker}" for f in flags(root, (dtype,))})
        raise LookupError(f"nothing flagged for {dtype} {session}" + (f" {ticker}" if ticker else "")
                          + (f" (flagged: {', '.join(flagged)})" if flagged else " (nothing is flagged)"))
    lake = LakePaths(root)
    at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    for f in found:
        record = {"type": f.dtype, "session": f.session, "ticker": f.ticker, "bars": f.bars,
                  "expected": f.expected, "by": by, "why": why, "at": at}
        atomic.write_text(record_path(lake, f.dtype, f.session, f.ticker), json.dumps(record, indent=1) + "\n")
    return found
