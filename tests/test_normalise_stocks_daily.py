"""stocks_daily parsers against the official example payloads, the error/empty bodies and hand-worked
DST timestamps (epoch values computed from UTC wall times with the offsets stated in each case)."""

from __future__ import annotations

import calendar
import datetime as dt

import orjson
import polars as pl
import pytest
from conftest import VENDOR_FIXTURES
from quantmini.datatypes.stocks_daily.parse import (
    BARS_SCHEMA,
    BodyError,
    parse_grouped,
    parse_range,
    parse_range_pages,
)

FIX = VENDOR_FIXTURES
AGGS = FIX / "openapi_examples" / "v2" / "aggs"


def _fixture(rel: str) -> bytes:
    return (FIX / rel).read_bytes()


def _utc_ms(y: int, mo: int, d: int, h: int, mi: int = 0) -> int:
    """Epoch ms of a UTC wall time (calendar.timegm: no time-zone database involved)."""
    return calendar.timegm((y, mo, d, h, mi, 0)) * 1000


def _grouped(bars: list[dict]) -> bytes:
    return orjson.dumps({"status": "OK", "adjusted": True, "resultsCount": len(bars), "results": bars})


def _range(ticker: str, bars: list[dict]) -> bytes:
    return orjson.dumps({"status": "OK", "ticker": ticker, "resultsCount": len(bars), "results": bars})


def test_grouped_fixture_values_and_schema():
    df = parse_grouped((AGGS / "grouped/locale/us/market/stocks/_date_.json").read_bytes())
    assert df.schema == BARS_SCHEMA
    # t = 1602705600000 = 2020-10-14 20:00 UTC = 16:00 EDT (UTC-4) -> session 2020-10-14
    expected = pl.DataFrame(
        {
            "ticker": ["KIMpL", "TANH", "VSAT"],
            "date": [dt.date(2020, 10, 14)] * 3,
            "open": [26.07, 24.5, 34.9],
            "high": [26.25, 24.763, 35.47],
            "low": [25.91, 22.65, 34.21],
            "close": [25.9102, 23.4, 34.24],
            "volume": [4369.0, 25933.6, 312583.0],
            "vwap": [26.0407, 23.493, 34.4736],
            "transactions": [74, 1096, 4966],
            "otc": [False, False, False],
        },
        schema=BARS_SCHEMA,
    )
    assert df.equals(expected)


def test_range_fixture_values():
    df = parse_range(
        (AGGS / "ticker/_stocksTicker_/range/_multiplier_/_timespan_/_from_/_to_.json").read_bytes(), "AAPL"
    )
    assert df.schema == BARS_SCHEMA
    # 1577941200000 = 2020-01-02 05:00 UTC = 00:00 EST (UTC-5)
    assert df["date"].to_list() == [dt.date(2020, 1, 2), dt.date(2020, 1, 3)]
    assert df["ticker"].to_list() == ["AAPL", "AAPL"]
    assert df["open"].to_list() == [74.06, 74.2875]
    assert df["close"].to_list() == [75.0875, 74.3575]
    assert df["volume"].to_list() == [135647456.0, 146535512.0]
    assert df["vwap"].to_list() == [74.6099, 74.7026]
    assert df["transactions"].to_list() == [1, 1]


def test_prev_fixture_missing_n_is_null():
    # prev bars share the grouped shape (T, 16:00 ET stamp) but this example has no `n`
    df = parse_grouped((AGGS / "ticker/_stocksTicker_/prev.json").read_bytes())
    # 1605042000000 = 2020-11-10 21:00 UTC = 16:00 EST
    assert df.row(0) == ("AAPL", dt.date(2020, 11, 10), 115.55, 117.59, 114.13, 115.97, 131704427.0, 116.3058, None, False)


def test_index_range_without_volume_vwap_transactions():
    df = parse_range(
        (AGGS / "ticker/_indicesTicker_/range/_multiplier_/_timespan_/_from_/_to_.json").read_bytes(), "I:NDX"
    )
    # 1678341600000 = 2023-03-09 06:00 UTC = 01:00 EST: still the 2023-03-09 session in New York
    assert df["date"].to_list() == [dt.date(2023, 3, 9), dt.date(2023, 3, 10)]
    assert df["volume"].null_count() == 2 and df["vwap"].null_count() == 2
    assert df["transactions"].null_count() == 2


@pytest.mark.parametrize(
    "rel",
    ["errors/200_aggs_empty_no_results_key.json", "errors/200_grouped_empty_results_null_legacy.json"],
)
def test_empty_bodies_give_empty_frame_with_schema(rel):
    body = _fixture(rel)
    for df in (parse_grouped(body), parse_range(body, "AAPL")):
        assert df.height == 0
        assert df.schema == BARS_SCHEMA
    assert parse_grouped(b'{"status":"OK","results":[]}').height == 0


@pytest.mark.parametrize(
    ("rel", "words"),
    [
        ("errors/400_aggs_bad_from.json", "status ERROR: Could not parse the time parameter"),
        ("errors/401_missing_api_key.json", "status ERROR: API Key was not provided"),
        ("errors/401_unknown_api_key.json", "status ERROR: Unknown API Key"),
        ("errors/403_not_authorized_entitlement.json", "status NOT_AUTHORIZED: You are not entitled"),
        ("errors/403_not_authorized_today_before_eod.json", "status NOT_AUTHORIZED: Attempted to request today"),
        ("errors/404_ticker_not_found.json", "status NOT_FOUND: Ticker not found."),
        ("errors/429_rate_limited.json", "status ERROR: You've exceeded the maximum requests"),
    ],
)
def test_error_bodies_raise_one_line(rel, words):
    with pytest.raises(BodyError) as info:
        parse_grouped(_fixture(rel))
    assert words in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("body", [b"", b"{", b'{"status":"OK","results":[{"T":"A","o":1', b"<html>502</html>"])
def test_malformed_bodies_raise(body):
    with pytest.raises(BodyError) as info:
        parse_grouped(body)
    assert "\n" not in str(info.value)


# (UTC wall time, New York session date): each case states the offset it relies on.
GROUPED_DST_CASES = [
    ((2024, 3, 8, 21), dt.date(2024, 3, 8)),  # Fri before DST: 16:00 EST = 21:00 UTC
    ((2024, 3, 11, 20), dt.date(2024, 3, 11)),  # Mon after DST began (Sun 10 Mar): 16:00 EDT = 20:00 UTC
    ((2024, 11, 1, 20), dt.date(2024, 11, 1)),  # Fri before DST ended (Sun 3 Nov): 16:00 EDT
    ((2024, 11, 4, 21), dt.date(2024, 11, 4)),  # Mon after: 16:00 EST = 21:00 UTC
    ((2024, 12, 24, 18), dt.date(2024, 12, 24)),  # half day: whether stamped at the 13:00 EST close (18:00 UTC) or 16:00, same date
]
RANGE_DST_CASES = [
    ((2024, 3, 8, 5), dt.date(2024, 3, 8)),  # 00:00 EST = 05:00 UTC
    ((2024, 3, 11, 4), dt.date(2024, 3, 11)),  # 00:00 EDT = 04:00 UTC (a fixed UTC-5 would say 10 Mar)
    ((2024, 11, 1, 4), dt.date(2024, 11, 1)),  # 00:00 EDT
    ((2024, 11, 4, 5), dt.date(2024, 11, 4)),  # 00:00 EST
    ((2024, 7, 2, 3, 30), dt.date(2024, 7, 1)),  # 23:30 EDT on 1 Jul = 03:30 UTC 2 Jul: UTC would say 2 Jul
]


def test_grouped_dates_dst():
    bars = [
        {"T": f"X{i}", "o": 1, "h": 1, "l": 1, "c": 1, "v": 1, "t": _utc_ms(*utc)}
        for i, (utc, _) in enumerate(GROUPED_DST_CASES)
    ]
    df = parse_grouped(_grouped(bars))
    assert df["date"].to_list() == [d for _, d in GROUPED_DST_CASES]


def test_range_dates_dst():
    bars = [{"o": 1, "h": 1, "l": 1, "c": 1, "v": 1, "t": _utc_ms(*utc)} for utc, _ in RANGE_DST_CASES]
    df = parse_range(_range("SPY", bars), "SPY")
    assert df["date"].to_list() == [d for _, d in RANGE_DST_CASES]


def test_otc_flag_and_missing_fields():
    t = _utc_ms(2024, 1, 2, 21)
    bars = [
        {"T": "AAA", "o": 1.5, "h": 2, "l": 1, "c": 1.75, "v": 10, "vw": 1.6, "n": 3, "t": t, "otc": True},
        {"T": "BBB", "o": 2, "h": 2, "l": 2, "c": 2, "v": 0.5, "t": t},
        {"T": "CCC", "o": 3, "h": 3, "l": 3, "c": 3, "v": 7, "n": 1, "t": t, "otc": False},
    ]
    df = parse_grouped(_grouped(bars))
    assert df["otc"].to_list() == [True, False, False]
    assert df["vwap"].to_list() == [1.6, None, None]
    assert df["transactions"].to_list() == [3, None, 1]
    assert df["volume"].to_list() == [10.0, 0.5, 7.0]
    assert df["open"].to_list() == [1.5, 2.0, 3.0]


def test_range_ticker_mismatch_and_pages():
    body = _range("MSFT", [{"o": 1, "h": 1, "l": 1, "c": 1, "v": 1, "t": _utc_ms(2024, 1, 2, 5)}])
    with pytest.raises(BodyError, match="'MSFT', expected 'AAPL'"):
        parse_range(body, "AAPL")
    page2 = _range("MSFT", [{"o": 2, "h": 2, "l": 2, "c": 2, "v": 2, "t": _utc_ms(2024, 1, 3, 5)}])
    df = parse_range_pages([body, page2], "MSFT")
    assert df["date"].to_list() == [dt.date(2024, 1, 2), dt.date(2024, 1, 3)]
    assert parse_range_pages([], "MSFT").schema == BARS_SCHEMA


def test_bars_without_ticker_or_timestamp_are_rejected():
    with pytest.raises(BodyError, match="without a ticker"):
        parse_grouped(_grouped([{"o": 1, "h": 1, "l": 1, "c": 1, "v": 1, "t": _utc_ms(2024, 1, 2, 21)}]))
    with pytest.raises(BodyError, match="without a timestamp"):
        parse_grouped(_grouped([{"T": "A", "o": 1, "h": 1, "l": 1, "c": 1, "v": 1}]))
