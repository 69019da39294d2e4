"""The simulator over real HTTP/2 (h2c prior knowledge), HTTP/1.1 and TLS+ALPN: response shapes against
the official OpenAPI examples, timestamps, paging, error bodies, and served bars against ground truth."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import httpx
import polars as pl
import pytest
from conftest import VENDOR_FIXTURES
from quantmini.sim import Market, MarketConfig, SimProcess

START, END = "2024-01-02", "2024-04-30"
UTC = dt.UTC


FIXTURES = VENDOR_FIXTURES


def example(rel: str) -> dict:
    return json.loads((FIXTURES / "openapi_examples" / rel).read_text())


def error_fixture(name: str) -> dict:
    return json.loads((FIXTURES / "errors" / name).read_text())


def spec_example(path: str) -> dict:
    spec = json.loads((FIXTURES / "openapi_subset_massive_2025-10.json").read_text())
    return spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]["example"]


def json_type(v) -> str:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return type(v).__name__


def assert_shape(ours, ref, optional: frozenset = frozenset(), where: str = "$") -> None:
    """Every key of the vendor example is present (unless optional) with the same JSON type, recursively."""
    assert json_type(ours) == json_type(ref), f"{where}: {json_type(ours)} != {json_type(ref)}"
    if isinstance(ref, dict):
        missing = set(ref) - set(ours) - optional
        assert not missing, f"{where}: missing {sorted(missing)}"
        for k in set(ref) & set(ours):
            if k == "request_id":  # the examples mix ints and strings; the live API sends strings
                assert isinstance(ours[k], str)
                continue
            assert_shape(ours[k], ref[k], optional, f"{where}.{k}")
    elif isinstance(ref, list) and ref and ours:
        for item in ours[:3]:
            assert_shape(item, ref[0], optional, f"{where}[]")


@pytest.fixture(scope="module")
def market() -> Market:
    return Market(MarketConfig(seed=42, n_tickers=50, start=START, end=END))


@pytest.fixture(scope="module")
def sim():
    with SimProcess(tickers=50, seed=42, start=START, end=END, tls=True) as s:
        yield s


@pytest.fixture(scope="module")
def h2(sim):
    with httpx.Client(base_url=sim.url, http1=False, http2=True, timeout=30) as c:
        yield c


def get(client: httpx.Client, url: str, **params) -> dict:
    r = client.get(url, params=params or None)
    assert r.status_code == 200, r.text
    assert r.http_version == "HTTP/2"
    return r.json()


def frame_of(results: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(results).with_columns(pl.col("v").cast(pl.Float64), pl.col("n").cast(pl.Int64))


# ---------------------------------------------------------------------------------------------- shapes
def test_grouped_shape_stamp_and_values(h2, market):
    day = dt.date(2024, 3, 8)  # Friday before the DST switch (EST) ...
    body = get(h2, f"/v2/aggs/grouped/locale/us/market/stocks/{day}", adjusted="false")
    assert_shape(body, example("v2/aggs/grouped/locale/us/market/stocks/_date_.json"))
    assert body["adjusted"] is False and body["resultsCount"] == body["queryCount"] == len(body["results"])
    assert {r["t"] for r in body["results"]} == {int(dt.datetime(2024, 3, 8, 21, tzinfo=UTC).timestamp() * 1000)}
    after = get(h2, "/v2/aggs/grouped/locale/us/market/stocks/2024-03-11")  # ... and Monday after (EDT)
    assert {r["t"] for r in after["results"]} == {int(dt.datetime(2024, 3, 11, 20, tzinfo=UTC).timestamp() * 1000)}
    truth = market.daily_raw().filter(pl.col("date") == day).sort("ticker")
    got = frame_of(body["results"]).sort("T")
    assert got["T"].to_list() == truth["ticker"].to_list()
    for ours, theirs in (("o", "open"), ("h", "high"), ("l", "low"), ("c", "close"), ("v", "volume"),
                         ("vw", "vwap"), ("n", "transactions")):
        assert got[ours].to_list() == truth[theirs].to_list(), ours


def test_grouped_adjusted_is_split_adjusted_truth(h2, market):
    s = market.splits().row(0, named=True)
    day = market.sessions[market.sessions.index(s["execution_date"]) - 1]
    body = get(h2, f"/v2/aggs/grouped/locale/us/market/stocks/{day}")
    assert body["adjusted"] is True
    truth = market.split_adjusted().filter(pl.col("date") == day).sort("ticker")
    got = frame_of(body["results"]).sort("T")
    assert got["c"].to_list() == truth["close"].to_list()
    assert got["v"].to_list() == truth["volume"].to_list()
    row = got.filter(pl.col("T") == s["ticker"])
    raw = market.daily_raw().filter((pl.col("date") == day) & (pl.col("ticker") == s["ticker"]))
    assert row["c"][0] == pytest.approx(raw["close"][0] * s["split_from"] / s["split_to"], abs=1e-4)


@pytest.mark.parametrize("day", ["2024-01-15", "2024-01-13", "2023-12-29", "2024-05-01"])
def test_no_session_means_no_results_key(h2, day):
    body = get(h2, f"/v2/aggs/grouped/locale/us/market/stocks/{day}")
    assert body["resultsCount"] == 0 and body["status"] == "OK" and "results" not in body
    ref = error_fixture("200_aggs_empty_no_results_key.json")
    assert {"queryCount", "resultsCount", "adjusted", "status", "request_id"} <= set(body) <= set(ref)


def test_range_shape_midnight_stamps_across_dst(h2, market):
    sym = market.securities().filter(pl.col("delist_date").is_null())["current_ticker"][5]
    body = get(h2, f"/v2/aggs/ticker/{sym}/range/1/day/2024-03-07/2024-03-12", adjusted="false")
    assert_shape(body, example("v2/aggs/ticker/_stocksTicker_/range/_multiplier_/_timespan_/_from_/_to_.json"),
                 optional=frozenset({"next_url"}))
    expect = [dt.datetime(2024, 3, 7, 5, tzinfo=UTC), dt.datetime(2024, 3, 8, 5, tzinfo=UTC),
              dt.datetime(2024, 3, 11, 4, tzinfo=UTC), dt.datetime(2024, 3, 12, 4, tzinfo=UTC)]
    assert [r["t"] for r in body["results"]] == [int(x.timestamp() * 1000) for x in expect]
    assert body["ticker"] == sym and body["resultsCount"] == 4
    # epoch-ms bounds are inclusive too
    ms = get(h2, f"/v2/aggs/ticker/{sym}/range/1/day/{body['results'][1]['t']}/{body['results'][2]['t']}",
             adjusted="false")
    assert ms["results"] == body["results"][1:3]
    desc = get(h2, f"/v2/aggs/ticker/{sym}/range/1/day/2024-03-07/2024-03-12", adjusted="false", sort="desc")
    assert desc["results"] == body["results"][::-1]


def test_range_paging_returns_every_bar_once(h2, market):
    s = market.splits().row(0, named=True)
    sym = s["ticker"]
    url, rows, pages = f"/v2/aggs/ticker/{sym}/range/1/day/{START}/{END}?adjusted=false&limit=7", [], 0
    while url:
        body = get(h2, url)
        assert body["resultsCount"] <= 7
        rows += body["results"]
        url = body.get("next_url")
        pages += 1
        if url:
            assert url.startswith("http://127.0.0.1:") and "cursor=" in url and "apiKey" not in url
    truth = market.daily_raw().filter(pl.col("ticker") == sym).sort("date")
    assert pages == -(-truth.height // 7)
    got = frame_of(rows)
    assert got["c"].to_list() == truth["close"].to_list()
    assert len({r["t"] for r in rows}) == len(rows)
    # the split shows in raw bars, not in adjusted ones
    adj = get(h2, f"/v2/aggs/ticker/{sym}/range/1/day/{START}/{END}")["results"]
    sa = market.split_adjusted().filter(pl.col("ticker") == sym).sort("date")
    assert [r["c"] for r in adj] == sa["close"].to_list()


def test_range_follows_the_symbol_across_a_ticker_change(h2, market):
    ch = market.ticker_changes().row(0, named=True)
    old = get(h2, f"/v2/aggs/ticker/{ch['old_ticker']}/range/1/day/{START}/{END}")["results"]
    new = get(h2, f"/v2/aggs/ticker/{ch['new_ticker']}/range/1/day/{START}/{END}")["results"]
    change_ms = int(dt.datetime.combine(ch["date"], dt.time(), tzinfo=dt.timezone(dt.timedelta(hours=-5)))
                    .timestamp() * 1000)
    assert old and new and max(r["t"] for r in old) < change_ms <= min(r["t"] for r in new)
    unknown = get(h2, f"/v2/aggs/ticker/ZZZZZZ/range/1/day/{START}/{END}")
    assert unknown["resultsCount"] == 0 and "results" not in unknown


def test_tickers_shape_and_paging(h2, market):
    first = get(h2, "/v3/reference/tickers", limit=7)
    assert_shape(first, example("v3/reference/tickers.json"))
    rows, url = list(first["results"]), first.get("next_url")
    while url:
        assert "cursor=" in url and "limit" not in url.split("?")[1].split("=")[0]
        body = get(h2, url)
        rows += body["results"]
        url = body.get("next_url")
    secs = market.securities().filter(pl.col("delist_date").is_null())
    assert [r["ticker"] for r in rows] == sorted(secs["current_ticker"].to_list())
    inactive = get(h2, "/v3/reference/tickers", active="false", limit=1000)["results"]
    gone = market.securities().filter(pl.col("delist_date").is_not_null())
    assert sorted(r["ticker"] for r in inactive) == sorted(gone["current_ticker"].to_list())
    assert all(r["active"] is False and r["delisted_utc"].endswith("Z") for r in inactive)
    # point in time: before the ticker change the old symbol is listed
    ch = market.ticker_changes().row(0, named=True)
    before = get(h2, "/v3/reference/tickers", date=str(ch["date"] - dt.timedelta(days=1)), limit=1000)
    symbols = {r["ticker"] for r in before["results"]}
    assert ch["old_ticker"] in symbols and ch["new_ticker"] not in symbols
    window = get(h2, "/v3/reference/tickers", **{"ticker.gte": "M", "ticker.lt": "N", "limit": "1000"})
    assert all("M" <= r["ticker"] < "N" for r in window["results"])


def test_ticker_details_and_404(h2, market):
    sec = market.securities().row(0, named=True)
    body = get(h2, f"/v3/reference/tickers/{sec['current_ticker']}")
    assert_shape(body, example("v3/reference/tickers/_ticker_.json"),
                 optional=frozenset({"address", "branding", "phone_number"}))
    res = body["results"]
    assert res["composite_figi"] == sec["composite_figi"] and res["list_date"] == str(sec["list_date"])
    assert res["market_cap"] > 0 and res["share_class_shares_outstanding"] > 0
    r = httpx.Client(http1=False, http2=True).get(f"{h2.base_url}/v3/reference/tickers/NOPEX")
    assert r.status_code == 404
    ref = error_fixture("404_ticker_not_found.json")
    assert set(r.json()) == set(ref) and r.json()["message"] == ref["message"] and r.json()["status"] == "NOT_FOUND"
    gone = market.securities().filter(pl.col("delist_date").is_not_null()).row(0, named=True)
    dead = get(h2, f"/v3/reference/tickers/{gone['current_ticker']}")["results"]
    assert dead["active"] is False and "delisted_utc" in dead


def test_events_by_ticker_and_figi(h2, market):
    ch = market.ticker_changes().row(0, named=True)
    figi = market.securities().filter(pl.col("security_id") == ch["security_id"])["composite_figi"][0]
    by_ticker = get(h2, f"/vX/reference/tickers/{ch['new_ticker']}/events", types="ticker_change")
    assert_shape(by_ticker, example("vX/reference/tickers/_id_/events.json"))
    by_figi = get(h2, f"/vX/reference/tickers/{figi}/events")
    assert by_figi["results"] == by_ticker["results"]
    ev = by_ticker["results"]["events"]
    assert ev[0] == {"ticker_change": {"ticker": ch["new_ticker"]}, "type": "ticker_change", "date": str(ch["date"])}
    assert ev[1]["ticker_change"]["ticker"] == ch["old_ticker"]


def test_splits_and_dividends_serve_vendor_lists_with_paging(h2, market):
    rows, url = [], "/v3/reference/splits?limit=2"
    while url:
        body = get(h2, url)
        rows += body["results"]
        url = body.get("next_url")
    assert_shape(body, example("v3/reference/splits.json"), optional=frozenset({"next_url"}))
    vendor = pl.concat([market.splits(), market.bogus_splits().drop("reason")])
    assert sorted(r["id"] for r in rows) == sorted(vendor["id"].to_list())
    assert [r["execution_date"] for r in rows] == sorted((r["execution_date"] for r in rows), reverse=True)
    assert any(r["split_to"] == 2_000_000 for r in rows)
    one = market.splits().row(0, named=True)
    filt = get(h2, "/v3/reference/splits", ticker=one["ticker"], **{"execution_date.gte": str(one["execution_date"])})
    assert one["id"] in {r["id"] for r in filt["results"]} and all(r["ticker"] == one["ticker"] for r in filt["results"])
    rev = get(h2, "/v3/reference/splits", reverse_split="true")["results"]
    assert rev and all(r["split_from"] > r["split_to"] for r in rev)

    divs, url = [], "/v3/reference/dividends?limit=5&order=asc"
    while url:
        body = get(h2, url)
        divs += body["results"]
        url = body.get("next_url")
    assert_shape(body, spec_example("/v3/reference/dividends"), optional=frozenset({"next_url"}))
    truth = market.dividends()
    assert sorted(d["id"] for d in divs) == sorted(truth["id"].to_list()) and len(divs) == truth.height
    d0 = truth.row(0, named=True)
    served = next(d for d in divs if d["id"] == d0["id"])
    assert served["cash_amount"] == d0["cash_amount"] and served["ex_dividend_date"] == str(d0["ex_dividend_date"])
    window = get(h2, "/v3/reference/dividends", **{"ex_dividend_date.gte": "2024-02-01",
                                                   "ex_dividend_date.lte": "2024-02-29", "limit": "1000"})
    assert window["results"] and all("2024-02-01" <= d["ex_dividend_date"] <= "2024-02-29" for d in window["results"])


# ---------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("path, fixture", [
    ("/v2/aggs/ticker/AAPL/range/1/day/2024-13-01/2024-02-01", "400_aggs_bad_from.json"),
    ("/v2/aggs/ticker/AAPL/range/1/day/2024-03-01/2024-02-01", "400_aggs_to_before_from.json"),
])
def test_400_bodies_match_fixtures(h2, path, fixture):
    r = h2.get(path)
    ref = error_fixture(fixture)
    assert r.status_code == 400 and set(r.json()) == set(ref)
    assert r.json()["error"] == ref["error"] and r.json()["status"] == "ERROR"


@pytest.mark.parametrize("path", ["/v3/reference/tickers?limit=5000", "/v3/reference/splits?order=sideways",
                                  "/v2/aggs/grouped/locale/us/market/stocks/2024-01-05?adjusted=maybe",
                                  "/v3/reference/dividends?cursor=%%%"])
def test_bad_parameters_are_400_naming_the_parameter(h2, path):
    r = h2.get(path)
    assert r.status_code == 400 and r.json()["status"] == "ERROR"
    name = path.split("?")[1].split("=")[0]
    assert f"'{name}'" in r.json()["error"]


def test_unknown_path_404(h2):
    r = h2.get("/v9/nothing/here")
    assert r.status_code == 404 and r.json()["status"] == "NOT_FOUND"


# ---------------------------------------------------------------------------------------------- transports
def test_http11_on_the_same_port(sim):
    with httpx.Client(base_url=sim.url) as c:
        r = c.get("/v2/aggs/grouped/locale/us/market/stocks/2024-01-05")
    assert r.status_code == 200 and r.http_version == "HTTP/1.1" and r.json()["resultsCount"] > 0


def test_tls_alpn_negotiates_h2_and_http11(sim):
    assert sim.tls_url.startswith("https://127.0.0.1:") and Path(sim.ca_cert).is_file()
    with httpx.Client(http2=True, verify=sim.ca_cert) as c:
        r = c.get(f"{sim.tls_url}/v2/aggs/grouped/locale/us/market/stocks/2024-01-05")
    assert r.status_code == 200 and r.http_version == "HTTP/2"
    assert r.json().get("results")
    with httpx.Client(verify=sim.ca_cert) as c:
        r = c.get(f"{sim.tls_url}/v3/reference/tickers")
    assert r.http_version == "HTTP/1.1" and r.status_code == 200
    with pytest.raises(httpx.ConnectError):  # the cert really is checked
        httpx.get(f"{sim.tls_url}/v3/reference/tickers")


def test_request_log_lines(sim, h2):
    h2.get("/v3/reference/tickers", params={"limit": "3"})
    last = sim.requests()[-1]
    assert set(last) == {"ts", "method", "path", "query", "status", "fault", "bytes", "wire_bytes"}
    assert last["path"] == "/v3/reference/tickers" and last["query"] == "limit=3" and last["status"] == 200
    assert last["bytes"] > 0 and last["fault"] is None
