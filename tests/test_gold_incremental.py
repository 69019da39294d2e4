"""The incremental gold publish (a state beside the provider, only changed months read, only securities
with new events or renames rewritten) ends byte-identical to a fresh full publish, session by session.

Synthetic silver months (the columns gold reads), validated events and ticker changes are written with the
lake's paths; a lake is published to 2025-02-24 and then advanced one session at a time into March.
2025-03-03 (a new month) carries a 2:1 split of SPL, a dividend of DIV and the rename OLD -> NEW; later
sessions revise a bar of the month (the vendor revision window), list a new ticker and stop another.
The reference is `publish` without a state into an empty directory.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from quantmini.calendar import sessions
from quantmini.datatypes.stocks_daily.gold import publish
from quantmini.lake import LakePaths
from quantmini.parquet_io import write_parquet

CAL = sessions("2025-01-02", "2025-03-31")
FIRST_UPDATE = CAL.index(dt.date(2025, 2, 24))
EVENT_DAY = dt.date(2025, 3, 3)
REVISED = dt.date(2025, 3, 4)  # its close is revised when 2025-03-07 arrives
LISTED = dt.date(2025, 3, 10)  # NEWCO's first bar
STOPPED = dt.date(2025, 3, 12)  # GAP's last bar (and it has a hole in February)
TICKERS = ["AAA", "SPL", "DIV", "OLD", "GAP", "CON", "NEWCO"]


def _bars(upto: int, revised: bool) -> pl.DataFrame:
    rng = np.random.default_rng(7)
    rows = []
    for t in TICKERS:
        close = 40 * np.exp(np.cumsum(rng.normal(0, 0.02, len(CAL))))
        for i, d in enumerate(CAL[:upto]):
            if t == "NEWCO" and d < LISTED or t == "GAP" and (d > STOPPED or dt.date(2025, 2, 10) <= d <= dt.date(2025, 2, 12)):
                continue
            c = float(close[i]) * (0.5 if t == "SPL" and d >= EVENT_DAY else 1.0)
            if revised and t == "AAA" and d == REVISED:
                c *= 1.01
            ticker = "NEW" if t == "OLD" and d >= EVENT_DAY else t
            rows.append((ticker, d, c * 0.99, c * 1.01, c * 0.98, c, 1e6 + i, c * 1.001))
    return pl.DataFrame(rows, schema={"ticker": pl.String, "date": pl.Date, "open": pl.Float64, "high": pl.Float64,
                                      "low": pl.Float64, "close": pl.Float64, "volume": pl.Float64,
                                      "vwap": pl.Float64}, orient="row")


def _write_lake(lake: LakePaths, upto: int, revised: bool = False, months: set | None = None) -> dict:
    """Silver months up to session `upto` (only `months` rewritten when given), events, changes."""
    end = CAL[upto - 1]
    bars = _bars(upto, revised)
    files = {"silver": [], "events": [], "changes": []}
    for y, m in sorted({(d.year, d.month) for d in CAL[:upto]}):
        path = lake.silver("stocks_daily", y, m)
        if months is None or (y, m) in months or not path.exists():
            write_parquet(bars.filter((pl.col("date").dt.year() == y) & (pl.col("date").dt.month() == m)), path)
        files["silver"].append(path)
        events = [("AAA", dt.date(2025, 1, 15), 0.995)]
        if end >= EVENT_DAY:
            events += [("SPL", EVENT_DAY, 0.5), ("DIV", EVENT_DAY, 0.98)]
        ev = pl.DataFrame(events, schema={"ticker": pl.String, "date": pl.Date, "m": pl.Float64}, orient="row")
        ev_path = lake.silver("corporate_actions", y, m, "events")
        write_parquet(ev.filter((pl.col("date").dt.year() == y) & (pl.col("date").dt.month() == m)), ev_path)
        files["events"].append(ev_path)
    changes = [("FIGI-OLD", EVENT_DAY, "OLD", "NEW")] if end >= EVENT_DAY else []
    ch = pl.DataFrame(changes, schema={"composite_figi": pl.String, "date": pl.Date, "old_ticker": pl.String,
                                       "new_ticker": pl.String}, orient="row")
    ch_path = lake.bronze("ticker_changes", 2025, 3 if end >= EVENT_DAY else 1)
    write_parquet(ch, ch_path)
    files["changes"].append(ch_path)
    return files


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != ".publish_state.json"}


def _publish(files: dict, upto: int, provider: Path, state: Path | None):
    return publish(files["silver"], files["events"], files["changes"], CAL[:upto], provider, state_file=state)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Advance one lake session by session with the state; keep each step's stats and a full rebuild's tree."""
    root = tmp_path_factory.mktemp("gold-inc")
    lake = LakePaths(root / "lake")
    provider, state = lake.gold_dir(), lake.gold_state()
    files = _write_lake(lake, FIRST_UPDATE)
    _publish(files, FIRST_UPDATE, provider, state)
    steps = {}
    for upto in range(FIRST_UPDATE + 1, len(CAL) + 1):
        day = CAL[upto - 1]
        revised = day >= dt.date(2025, 3, 7)
        files = _write_lake(lake, upto, revised, months={(day.year, day.month)})
        stats = _publish(files, upto, provider, state)
        full = root / f"full-{day}"
        _publish(files, upto, full, None)
        steps[day] = (stats, _tree(provider), _tree(full))
    return steps, lake, files


def test_every_update_equals_a_full_publish(run):
    steps, _, _ = run
    for day, (_, inc, full) in steps.items():
        assert inc.keys() == full.keys(), day
        assert [k for k in inc if inc[k] != full[k]] == [], day


def test_a_plain_session_only_appends(run):
    steps, _, _ = run
    stats = steps[dt.date(2025, 2, 25)][0]
    assert (stats.files_appended, stats.files_rewritten, stats.files_created, stats.files_unchanged) == (6 * 8, 0, 0, 0)


def test_the_event_session_rewrites_only_the_securities_it_touches(run):
    steps, _, _ = run
    stats, inc, _ = steps[EVENT_DAY]
    assert stats.files_created == 8 and stats.files_removed == 8  # OLD's history moves to NEW
    assert stats.files_rewritten == 2 * 7  # SPL and DIV: all but `change` (a ratio: its history stays)
    assert stats.files_appended == 3 * 8 + 2  # AAA, CON, GAP, and SPL's and DIV's change
    assert "features/new/close.day.bin" in inc and not any(k.startswith("features/old/") for k in inc)


def test_a_revised_bar_rewrites_the_month_tail(run):
    steps, _, _ = run
    stats = steps[dt.date(2025, 3, 7)][0]
    assert stats.files_rewritten >= 5  # AAA's prices (and its change)


def test_a_lost_or_stale_state_publishes_in_full(run, tmp_path):
    steps, lake, files = run
    provider, state = lake.gold_dir(), lake.gold_state()
    want = steps[CAL[-1]][2]
    (provider / "features/aaa/close.day.bin").write_bytes(b"\0\0\x80\x3f")  # shorter than the state says
    files = _write_lake(lake, len(CAL), True, months={(2025, 3)})  # March rewritten: AAA's tail is due
    stats = _publish(files, len(CAL), provider, state)
    assert stats.files_rewritten == 1 and stats.files_unchanged == stats.symbols * 8 - 1
    assert _tree(provider) == want
    state.unlink()
    stats = _publish(files, len(CAL), provider, state)
    assert stats.files_unchanged == stats.symbols * 8 and state.exists() and _tree(provider) == want


def test_a_forced_rerun_checks_every_file(run):
    """No silver month changed (`-R gold_qlib` after `quantmini validate` found a cut file): a full publish."""
    steps, lake, files = run
    provider, state = lake.gold_dir(), lake.gold_state()
    cut = provider / "features/gap/open.day.bin"
    cut.write_bytes(cut.read_bytes()[:-6])
    stats = _publish(files, len(CAL), provider, state)
    assert stats.files_rewritten == 1 and _tree(provider) == steps[CAL[-1]][2]
