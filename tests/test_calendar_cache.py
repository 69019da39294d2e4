"""The XNYS sessions table that quantmini.calendar keeps in a cache file, against exchange_calendars itself.

Every later process answers sessions, opens and closes from the cache instead of importing the library;
these tests hold the cache to the library's own answers (an independent reference), and check that a
cache of another version, one that no longer reaches half a year ahead, a corrupt one and an unwritable
folder all still give the library's answers.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import exchange_calendars as xc
import pandas as pd
import pytest
from quantmini import calendar

LIB = xc.get_calendar("XNYS", start=calendar._CAL_START)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv(calendar.CACHE_ENV, str(tmp_path))
    calendar.table.cache_clear()
    calendar._sessions.cache_clear()
    yield tmp_path
    calendar.table.cache_clear()
    calendar._sessions.cache_clear()


def fresh_process(code: str, cache: os.PathLike) -> str:
    """Run `code` in a new interpreter with the cache folder set: what a Snakemake job would see."""
    env = {**os.environ, calendar.CACHE_ENV: str(cache)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout


def test_a_second_process_answers_from_the_cache_as_the_library_does(cache_dir):
    first = calendar.table()  # builds and writes the cache
    assert calendar.cache_file().is_file()
    assert first.days == [d.date() for d in LIB.sessions]
    out = fresh_process(
        "import sys, json\n"
        "from quantmini import calendar as c\n"
        "s = c.sessions('1999-12-01', '2026-12-31')\n"
        "b = [c.session_bounds_utc(d) for d in ('2025-11-28', '2025-12-24', '2026-07-02', '2001-09-17')]\n"
        "print(json.dumps({'n': len(s), 'first': str(s[0]), 'last': str(s[-1]),\n"
        "    'bounds': [[o.isoformat(), x.isoformat()] for o, x in b],\n"
        "    'holiday': c.is_session('2025-12-25'), 'closed_911': c.is_session('2001-09-11'),\n"
        "    'pandas': 'pandas' in sys.modules, 'xc': 'exchange_calendars' in sys.modules}))\n",
        cache_dir)
    got = json.loads(out)
    want = LIB.sessions_in_range(pd.Timestamp("1999-12-01"), pd.Timestamp("2026-12-31"))
    assert (got["n"], got["first"], got["last"]) == (len(want), str(want[0].date()), str(want[-1].date()))
    for (o, c), day in zip(got["bounds"], ("2025-11-28", "2025-12-24", "2026-07-02", "2001-09-17")):
        ts = pd.Timestamp(day)
        assert o == LIB.session_open(ts).isoformat() and c == LIB.session_close(ts).isoformat(), day
    assert got["bounds"][0][1].startswith("2025-11-28T18:00")  # the day after Thanksgiving: 13:00 ET
    assert got["holiday"] is False and got["closed_911"] is False
    assert got["pandas"] is False and got["xc"] is False  # the cache spared the imports


@pytest.mark.parametrize("spoil", ["other version", "too short", "corrupt"])
def test_a_stale_or_corrupt_cache_is_rebuilt_from_the_library(cache_dir, spoil):
    calendar.table()
    path = calendar.cache_file()
    doc = json.loads(path.read_text())
    if spoil == "other version":
        doc["version"] = "0.0.0"
        path.write_text(json.dumps(doc))
    elif spoil == "too short":  # made long ago: it ends before half a year from now
        keep = 100
        doc = {**doc, "day_offsets": doc["day_offsets"][:keep], "opens": doc["opens"][:keep],
               "closes": doc["closes"][:keep]}
        path.write_text(json.dumps(doc))
    else:
        path.write_bytes(b"\x00{not json")
    calendar.table.cache_clear()
    calendar._sessions.cache_clear()
    assert calendar.sessions("2024-01-01", "2024-12-31") == [
        d.date() for d in LIB.sessions_in_range(pd.Timestamp("2024-01-01"), pd.Timestamp("2024-12-31"))]
    rebuilt = json.loads(path.read_text())
    assert rebuilt["version"] == calendar._calendar_version() and len(rebuilt["opens"]) == len(LIB.sessions)


def test_an_unwritable_cache_folder_only_costs_the_import(tmp_path, monkeypatch):
    if os.geteuid() == 0:
        target = tmp_path / "a-file-not-a-folder"  # root writes anywhere: make the folder impossible instead
        target.write_text("")
        monkeypatch.setenv(calendar.CACHE_ENV, str(target))
    else:
        (tmp_path / "ro").mkdir(mode=0o500)
        monkeypatch.setenv(calendar.CACHE_ENV, str(tmp_path / "ro"))
    calendar.table.cache_clear()
    calendar._sessions.cache_clear()
    try:
        assert calendar.sessions("2026-11-20", "2026-12-01") == [
            dt.date(2026, 11, d) for d in (20, 23, 24, 25, 27, 30)] + [dt.date(2026, 12, 1)]
    finally:
        calendar.table.cache_clear()
        calendar._sessions.cache_clear()


def test_a_range_past_the_cached_table_asks_the_library(cache_dir):
    last = calendar.table().last
    assert calendar.sessions(last - dt.timedelta(days=10), last + dt.timedelta(days=400)) == [
        d.date() for d in LIB.sessions_in_range(pd.Timestamp(last - dt.timedelta(days=10)), LIB.last_session)]
