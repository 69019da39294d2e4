"""Unit tests of options_daily's pure parts: parsers against the vendor's OpenAPI examples, the bronze
schemas, landing's session runs, and the simulator's calendar and ticker conventions."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
from quantmini.datatypes.options.landing import contracts_requests, session_runs
from quantmini.datatypes.options.parse import parse_bars, parse_contracts
from quantmini.datatypes.options.schema import (
    OptionsContractsBronze,
    OptionsDailyBronze,
)
from quantmini.landing_documents import landing_document
from quantmini.sim.options import occ_ticker, strike_step, third_friday
from quantmini.validation import validate_rows

CONTRACTS = "openapi_examples/v3/reference/options/contracts.json"
BARS = "openapi_examples/v2/aggs/ticker/_optionsTicker_/range/_multiplier_/_timespan_/_from_/_to_.json"


def _doc(path: str, body: bytes) -> bytes:
    return landing_document("options_daily", ["2021-09-01", "2021-09-30"], [(path, {})], [[body]])


def test_parse_contracts_of_the_openapi_example(fixtures_dir):
    body = (fixtures_dir / CONTRACTS).read_bytes()
    df = parse_contracts(_doc("/v3/reference/options/contracts", body))
    assert df["ticker"].to_list() == ["O:AAPL211119C00085000", "O:AAPL211119C00090000"]
    assert df["underlying"].to_list() == ["AAPL", "AAPL"]
    assert df["strike"].to_list() == [85.0, 90.0]
    assert df["expiration"].to_list() == [dt.date(2021, 11, 19)] * 2
    assert df["shares_per_contract"].to_list() == [100.0, 100.0]
    assert df["contract_type"].to_list() == ["call", "call"]
    clean, bad, rep = validate_rows(df.with_columns(pl.lit(dt.date(2021, 11, 1)).alias("_first_day")),
                                    OptionsContractsBronze, sort_by=["ticker"])
    assert clean.height == 2 and bad.height == 0 and rep["ok"]


def test_contracts_schema_quarantines_inconsistent_terms(fixtures_dir):
    body = json.loads((fixtures_dir / CONTRACTS).read_bytes())
    body["results"][1]["strike_price"] = 95  # the ticker says 90
    body["results"].append(dict(body["results"][0]))  # the same contract twice, once with another type
    body["results"][-1]["contract_type"] = "put"
    df = parse_contracts(_doc("/v3/reference/options/contracts", json.dumps(body).encode()))
    clean, bad, rep = validate_rows(df.with_columns(pl.lit(dt.date(2021, 11, 1)).alias("_first_day")),
                                    OptionsContractsBronze, sort_by=["ticker"])
    assert clean.height == 0 and bad.height == 3
    assert all("ticker matches the contract terms (OCC)" in r or "unique(ticker)" in r for r in bad["reason"])


def test_parse_bars_of_the_openapi_example_dates_in_new_york(fixtures_dir):
    body = (fixtures_dir / BARS).read_bytes()
    df = parse_bars(_doc("/v2/aggs/ticker/O:RDFN211119C00025000/range/1/day/2021-09-23/2021-09-24", body))
    assert df["ticker"].unique().to_list() == ["O:RDFN211119C00025000"]
    # t = 1632369600000 is 2021-09-23 00:00 New York (04:00 UTC): the session date is the 23rd
    assert df["date"].to_list() == [dt.date(2021, 9, 23), dt.date(2021, 9, 24)]
    assert df["close"].to_list() == [26.2, 28.3] and df["volume"].to_list() == [2.0, 2.0]
    assert df["transactions"].to_list() == [1, 1]


def test_bars_schema_checks():
    base = {"ticker": "O:AAPL211119C00085000", "date": dt.date(2021, 9, 23), "open": 1.0, "high": 1.2, "low": 0.9,
            "close": 1.1, "volume": 3.0, "vwap": 1.05, "transactions": 2, "underlying": "AAPL",
            "contract_type": "call", "strike": 85.0, "expiration": dt.date(2021, 11, 19),
            "shares_per_contract": 100.0, "_session_ok": True}
    rows = [base, {**base, "date": dt.date(2021, 9, 24), "high": 1.0},  # close above high
            {**base, "date": dt.date(2021, 11, 22)},  # after expiry
            {**base, "date": dt.date(2021, 9, 25), "_session_ok": False},  # a Saturday
            {**base, "ticker": "O:AAPL211119C00090000", "underlying": None}]  # terms unknown
    clean, bad, _ = validate_rows(pl.DataFrame(rows), OptionsDailyBronze, sort_by=["ticker", "date"])
    assert clean.height == 1
    assert sorted(bad["reason"].to_list()) == sorted([
        "low<=close<=high", "expiration>=date", "date is a session of the partition",
        "contract terms known (listed in the month's contracts)"])


def test_session_runs_and_requests():
    days = [dt.date(2025, 2, d) for d in (3, 4, 5, 6, 7, 10)]
    assert session_runs(days, set()) == [days]
    assert session_runs(days, set(days[:5])) == [[days[5]]]
    assert session_runs(days, {days[1], days[4]}) == [[days[0]], days[2:4], [days[5]]]
    reqs = contracts_requests(["B", "A"], dt.date(2025, 2, 7), dt.date(2025, 2, 1))
    assert [(p["underlying_ticker"], p["expired"]) for _, p in reqs] == [("A", "false"), ("A", "true"),
                                                                       ("B", "false"), ("B", "true")]
    assert reqs[1][1]["expiration_date.gte"] == "2025-02-01" and reqs[1][1]["as_of"] == "2025-02-07"


def test_sim_conventions():
    assert third_friday(2025, 1) == dt.date(2025, 1, 17)
    assert third_friday(2025, 4) == dt.date(2025, 4, 18)  # Good Friday: the sim expires on the 17th
    assert occ_ticker("AAPL", dt.date(2021, 11, 19), "call", 85) == "O:AAPL211119C00085000"
    assert occ_ticker("X", dt.date(2025, 1, 17), "put", 2.5) == "O:X250117P00002500"
    assert strike_step([3, 10, 50, 200, 900]).tolist() == [0.5, 1.0, 2.5, 5.0, 10.0]


def test_options_without_underlyings_stops_with_one_line(tmp_path):
    from workflow_helpers import run_workflow, write_config

    write_config(tmp_path, data_types=["stocks_daily", "options_daily"], options={"underlyings": []})
    proc = run_workflow(tmp_path, None, "bronze", check=False, extra=("-n",))
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("quantmini:")]
    assert lines == ["quantmini: config: options.underlyings: empty, but data_types has options_daily "
                     "(list the underlyings)"]


def _get(endpoints, params: dict) -> dict:
    from urllib.parse import urlencode

    from quantmini.sim.asgi import Request

    req = Request("GET", "/v3/reference/options/contracts", urlencode(params), {"host": "sim"}, "http", None,
                  {k: str(v) for k, v in params.items()})
    return json.loads(endpoints.contracts(req).body)


def test_sim_contracts_endpoint_filters_and_paging():
    from urllib.parse import parse_qsl, urlsplit

    from quantmini.sim.market import Market, MarketConfig
    from quantmini.sim.options import OptionsEndpoints

    ep = OptionsEndpoints(Market(MarketConfig(seed=7, n_tickers=20, start="2025-01-02", end="2025-03-31")))
    base = {"underlying_ticker": "OYN", "as_of": "2025-02-28", "limit": 1000}
    rows = _get(ep, base)["results"]
    assert rows and all(r["expiration_date"] >= "2025-02-28" and r["underlying_ticker"] == "OYN" for r in rows)
    assert [r["ticker"] for r in rows] == sorted(r["ticker"] for r in rows)  # sort=ticker, order=asc
    puts = _get(ep, {**base, "contract_type": "put", "strike_price.gte": 20})["results"]
    assert puts and all(r["contract_type"] == "put" and r["strike_price"] >= 20 for r in puts)
    assert len(puts) == sum(r["contract_type"] == "put" and r["strike_price"] >= 20 for r in rows)
    only = _get(ep, {**base, "expiration_date": "2025-03-21"})["results"]
    assert only and {r["expiration_date"] for r in only} == {"2025-03-21"}
    # paging: limit 7, follow next_url's cursor (never re-sending the filters) until the end
    got, page = [], _get(ep, {**base, "limit": 7})
    while True:
        got += page["results"]
        if "next_url" not in page:
            break
        cursor = dict(parse_qsl(urlsplit(page["next_url"]).query))
        assert set(cursor) == {"cursor"}
        page = _get(ep, cursor)
    assert [r["ticker"] for r in got] == [r["ticker"] for r in rows]


def test_month_tables_split_a_multi_month_document_and_keep_strays(tmp_path, fixtures_dir):
    import gzip
    import hashlib

    from quantmini.datatypes.options.bronze import month_tables

    contracts = json.loads((fixtures_dir / CONTRACTS).read_bytes())
    for row in contracts["results"]:
        row.pop("additional_underlyings", None)
    ny_midnight = {"2021-09-23": 1632369600000, "2021-10-04": 1633320000000, "2021-11-01": 1635739200000}
    bars = {"status": "OK", "results": [{"o": 1.0, "h": 1.0, "l": 1.0, "c": 1.0, "v": 1, "vw": 1.0, "n": 1, "t": t}
                                        for t in ny_midnight.values()]}
    path = "/v2/aggs/ticker/O:AAPL211119C00085000/range/1/day/2021-09-23/2021-10-05"
    files = {"c9.json.gz": _doc("/v3/reference/options/contracts", json.dumps(contracts).encode()),
             "c10.json.gz": _doc("/v3/reference/options/contracts", json.dumps(contracts).encode()),
             "bars.json.gz": _doc(path, json.dumps(bars).encode())}
    entries = []
    for name, doc in files.items():
        raw = gzip.compress(doc)
        (tmp_path / name).write_bytes(raw)
        kind, month = {"c9.json.gz": ("contracts", "2021-09"), "c10.json.gz": ("contracts", "2021-10"),
                       "bars.json.gz": ("bars", None)}[name]
        entry = {"kind": kind, "month": month, "file": name, "sha256": hashlib.sha256(raw).hexdigest()}
        if kind == "bars":
            entry["span"] = ["2021-09-23", "2021-10-05"]
        entries.append(entry)
    sep = [dt.date(2021, 9, 23), dt.date(2021, 9, 24)]
    oct_ = [dt.date(2021, 10, 4), dt.date(2021, 10, 5)]
    manifest = tmp_path / "_manifest.json"
    manifest.write_text(json.dumps({"months": {"2021-09": [d.isoformat() for d in sep],
                                               "2021-10": [d.isoformat() for d in oct_]}, "files": entries}))
    _, september = month_tables(manifest, "2021-09", sep)
    _, october = month_tables(manifest, "2021-10", oct_)
    # September: its bar and the stray (2021-11-01, outside the document's months), flagged for quarantine
    assert september.sort("date")["date"].to_list() == [dt.date(2021, 9, 23), dt.date(2021, 11, 1)]
    assert september.sort("date")["_session_ok"].to_list() == [True, False]
    assert october["date"].to_list() == [dt.date(2021, 10, 4)] and october["_session_ok"].to_list() == [True]
    assert september["strike"].to_list() == [85.0, 85.0]  # terms joined from the month's listing


def test_silver_follows_a_renamed_underlying_and_its_dividends_against_the_simulator():
    """options_silver.enrich on the simulator's own frames (raw bars, dividends, ticker changes, served option
    bars): in this market (seed 12, 300 tickers) WGH becomes RRAR on 2025-02-21; it pays a dividend as WGH
    (2025-01-06) and one as RRAR (2025-04-08). Contracts listed before the rename keep the root WGH to
    expiry (their q must count RRAR's dividend), those listed after have the root RRAR (theirs must count
    WGH's). S and q must be the simulator's known inputs everywhere (these underlyings trade at ~$20-40,
    where vega < 10: the IV itself is checked end to end in test_options_workflow); underlyings without a
    rename are exactly as without ticker changes."""
    import numpy as np
    from quantmini.datatypes.options.silver import enrich
    from quantmini.sim.market import Market, MarketConfig
    from quantmini.sim.options import RATE, OptionsMarket

    m = Market(MarketConfig(seed=12, n_tickers=300, start="2025-01-02", end="2025-06-30"))
    rename = dt.date(2025, 2, 21)
    changes = m.ticker_changes().select(pl.col("security_id").cast(pl.Utf8).alias("composite_figi"), "date",
                                        "old_ticker", "new_ticker")
    assert ("WGH", "RRAR", rename) in changes.select("old_ticker", "new_ticker", "date").rows()
    divs = m.dividends().select("ticker", "ex_dividend_date", "cash_amount")
    assert divs.filter(pl.col("ticker").is_in(["WGH", "RRAR"])).rows() == [
        ("WGH", dt.date(2025, 1, 6), 0.27), ("RRAR", dt.date(2025, 4, 8), 0.23)]
    roots = ["WGH", "RRAR", "QUVW"]  # QUVW: a dividend payer never renamed
    truth = OptionsMarket.of(m).truth_frame(roots)
    bars = truth.filter("traded").select("ticker", "date", pl.col("c").alias("close"), "underlying",
                                         "contract_type", "strike", "expiration")
    closes = m.daily_raw().select("ticker", "date", "close")
    got = enrich(bars, closes, divs, RATE, changes)
    assert got.height == bars.height
    assert got.select("ticker", "date", "underlying").sort("ticker", "date").equals(
        bars.select("ticker", "date", "underlying").sort("ticker", "date"))  # the root, as listed
    got = got.join(truth.select("ticker", "date", "S", "q"), on=["ticker", "date"])
    assert got["underlying_close"].null_count() == 0
    assert (got["underlying_close"] == got["S"]).all()
    np.testing.assert_allclose(got["dividend_yield"], got["q"], rtol=1e-12, atol=1e-15)
    old_root_after = got.filter((pl.col("underlying") == "WGH") & (pl.col("date") >= dt.date(2025, 4, 8)))
    new_root = got.filter(pl.col("underlying") == "RRAR")
    cash = lambda f: (f["q"] * f["S"]).to_numpy()  # noqa: E731 (the trailing dividends in $)
    assert old_root_after.height > 0 and np.allclose(cash(old_root_after), 0.27 + 0.23, rtol=0, atol=1e-9)
    assert new_root.height > 0 and (cash(new_root) > 0.27 - 1e-9).all()  # WGH's dividend counts
    # an underlying without a rename: exactly what it is without any ticker change
    control = pl.col("underlying") == "QUVW"
    plain = enrich(bars.filter(control), closes, divs, RATE).sort("ticker", "date")
    assert enrich(bars, closes, divs, RATE, changes).filter(control).sort("ticker", "date").equals(plain)
    assert (plain["dividend_yield"] > 0).any()
