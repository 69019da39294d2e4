"""The vendor's data must never block the lake (issue 15): a mistyped value, an unusable symbol, a month
of nothing but bad rows each cost their rows (quarantined with a reason), never the day, the month or the
gold publish. Real parts: landing files as the landing job writes them (gzip JSON), the bronze builder,
the silver builder, the Qlib writer."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import polars as pl
import pytest
from quantmini import calendar, symbols
from quantmini.datatypes.stocks_daily import silver
from quantmini.datatypes.stocks_daily.bronze import build_stocks_daily_month
from quantmini.lake import LakePaths
from quantmini.qlib_writer import publish

DAYS = calendar.sessions("2024-01-02", "2024-01-31")
REAL = ["AAPL", "BRK.B", "AHLpC", "ZVZZT", "BF-B", "GOOGL"]       # dots, lower case, dashes: all kept
HOSTILE = ["../x", "a/b", "", ".hidden", "A B", "X" * 40, "AB\\C", "A\x00B"]


def bar(ticker, day: dt.date, close: float = 10.0, **over) -> dict:
    stamp = int(dt.datetime(day.year, day.month, day.day, 16, tzinfo=calendar.NY).timestamp() * 1000)
    return {"T": ticker, "o": close, "h": close * 1.01, "l": close * 0.99, "c": close, "v": 1000.0,
            "vw": close, "n": 10, "t": stamp, **over}


def land(lake: LakePaths, day: dt.date, bars: list) -> None:
    path = lake.landing_day("stocks_daily", day)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(json.dumps({"status": "OK", "resultsCount": len(bars), "results": bars}).encode()))


def build(lake: LakePaths):
    out = lake.bronze("stocks_daily", 2024, 1), lake.quarantine("stocks_daily", 2024, 1)
    report = build_stocks_daily_month(lake, 2024, 1, DAYS, "all", *out, lake.validation_report("stocks_daily", 2024, 1))
    return pl.read_parquet(out[0]), pl.read_parquet(out[1]), report


def test_a_value_of_the_wrong_json_type_quarantines_its_row_not_the_day(tmp_path):
    lake = LakePaths(tmp_path / "lake")
    for day in DAYS:
        land(lake, day, [bar("AAPL", day), bar("MSFT", day)])
    land(lake, DAYS[3], [bar("AAPL", DAYS[3]), bar("MSFT", DAYS[3], v="1000"), bar("IBM", DAYS[3], c=None, n=True),
                         bar("ORCL", DAYS[3], o=[1]), ["not", "a", "bar"]])
    clean, quarantine, report = build(lake)
    assert clean.filter(pl.col("date") == DAYS[3])["ticker"].to_list() == ["AAPL"]  # the day's good row
    assert clean.height == 2 * len(DAYS) - 1
    reasons = dict(zip(quarantine["ticker"].to_list(), quarantine["reason"].to_list()))
    assert "v is str" in reasons["MSFT"] and "n is bool" in reasons["IBM"] and "o is list" in reasons["ORCL"]
    assert report["rows_quarantined"] == 4 and not report["sessions_without_bars"]


def test_unusable_symbols_are_quarantined_at_bronze_and_gold_publishes_the_rest(tmp_path):
    lake = LakePaths(tmp_path / "lake")
    for day in DAYS:
        land(lake, day, [bar(t, day) for t in REAL + HOSTILE + ["CON", "ahlpc", "AAPl"]])
    clean, quarantine, _ = build(lake)
    kept = set(clean["ticker"].unique())
    assert set(REAL) | {"CON"} <= kept, "a real symbol was quarantined"
    assert not kept & set(HOSTILE), kept & set(HOSTILE)
    by = dict(zip(quarantine["ticker"].to_list(), quarantine["reason"].to_list()))
    assert all(symbols.UNSAFE in by[t] for t in HOSTILE)
    assert symbols.COLLIDES in by["ahlpc"] and symbols.COLLIDES in by["AAPl"]   # AHLpC and AAPL keep theirs
    # gold: the Qlib writer refuses the whole publish on one bad name; bronze's survivors all publish
    bars = clean.select(pl.col("ticker").alias("symbol"), "date", "close")
    stats = publish(tmp_path / "qlib", bars, DAYS, ["close"])
    assert stats.symbols == len(kept)
    assert not (tmp_path / "x").exists() and not (tmp_path / "qlib" / "x").exists()


def test_every_symbol_the_check_accepts_is_a_file_name():
    for t in REAL + ["CON", "A", "Z9.-"]:
        assert symbols.is_safe(t), t
    for t in HOSTILE + [None, "-A", ".", ".."]:
        assert not symbols.is_safe(t), t


def test_a_month_of_only_quarantined_rows_gives_an_empty_silver_partition(tmp_path, caplog):
    lake = LakePaths(tmp_path / "lake")
    for day in DAYS:
        land(lake, day, [bar("../x", day), bar("AAPL", day, v="lots")])
    clean, quarantine, _ = build(lake)
    assert clean.height == 0 and quarantine.height == 2 * len(DAYS)
    out = tmp_path / "silver.parquet"
    silver.build_month([lake.bronze("stocks_daily", 2024, 1)], [], [], [], 2024, 1, out, tmp_path / "sec.parquet",
                       sessions=DAYS, features=True)
    assert pl.read_parquet(out).height == 0
    assert "empty silver partition" in caplog.text


@pytest.mark.parametrize("body", [b"{\"status\": \"OK\", \"results\": [", b"\x00\x01garbage", b"[1, 2]"])
def test_a_body_that_is_not_json_is_still_a_corrupt_landing_file(tmp_path, body):
    from quantmini.bronze import CorruptLandingError

    lake = LakePaths(tmp_path / "lake")
    for day in DAYS:
        land(lake, day, [bar("AAPL", day)])
    lake.landing_day("stocks_daily", DAYS[0]).write_bytes(gzip.compress(body))
    with pytest.raises(CorruptLandingError):
        build(lake)
