"""Unit tests of the fundamentals pieces: windows, landing chunks, parsing + validation, the point-in-time
maths of silver, and the simulator's endpoint rules (limit cap, determinism)."""

from __future__ import annotations

import datetime as dt

import orjson
import polars as pl
import pytest
from quantmini import catalog
from quantmini.datatypes.fundamentals import bronze as fu_bronze
from quantmini.datatypes.fundamentals import landing as fu_landing
from quantmini.datatypes.fundamentals import parse as fu_parse
from quantmini.datatypes.fundamentals import silver as fs
from quantmini.datatypes.fundamentals.schema import MODELS, SORT_BY
from quantmini.landing_documents import results_list
from quantmini.sim.asgi import ApiError, Request
from quantmini.sim.financials import Fundamentals
from quantmini.sim.market import Market, MarketConfig
from quantmini.validation import validate_rows

UTC = dt.UTC
D = dt.date


def test_year_windows_history_and_open_month():
    sessions = {(2024, 1): [D(2024, 1, 17), D(2024, 1, 31)], (2024, 2): [D(2024, 2, 1), D(2024, 2, 6)]}
    ws = fu_landing.year_windows(2024, sessions, catalog.history_months((2024, 1), 2))
    got = {(w["table"], w["month"]): (w["lo"], w["hi"]) for w in ws}
    assert got[("financials", 11)] == ("2023-11-01", "2023-11-30")  # history: whole months
    assert got[("financials", 1)] == ("2024-01-01", "2024-01-31")  # financials: from the 1st
    assert got[("short_volume", 1)] == ("2024-01-17", "2024-01-31")  # the range starts mid-month
    assert got[("short_interest", 2)] == ("2024-02-01", "2024-02-06")  # open month: up to the last session
    assert len(ws) == 2 + 3 * 2


def test_chunk_chain_downloads_only_the_missing_days(tmp_path):
    for name in ("2024-02-01_2024-02-06.json.gz", "2024-02-01_2024-02-02.json.gz", "2024-02-07_2024-02-07.json.gz"):
        (tmp_path / name).write_bytes(b"")
    chain, missing = fu_landing.chunk_chain(tmp_path, D(2024, 2, 1), D(2024, 2, 8))
    assert [p.name for p in chain] == ["2024-02-01_2024-02-06.json.gz", "2024-02-07_2024-02-07.json.gz"]
    assert missing == (D(2024, 2, 8), D(2024, 2, 8))
    chain, missing = fu_landing.chunk_chain(tmp_path, D(2024, 2, 1), D(2024, 2, 7))
    assert missing is None and len(chain) == 2
    chain, missing = fu_landing.chunk_chain(tmp_path, D(2024, 2, 1), D(2024, 2, 5))  # `end` moved back
    assert [p.name for p in chain] == ["2024-02-01_2024-02-02.json.gz"] and missing == (D(2024, 2, 3), D(2024, 2, 5))


def _result(**over):
    row = {"cik": "0000000001", "tickers": ["AAA"], "fiscal_period": "Q1", "fiscal_year": "2024",
           "timeframe": "quarterly", "start_date": "2024-01-01", "end_date": "2024-03-31",
           "filing_date": "2024-05-02", "acceptance_datetime": "20240501183000",
           "financials": {"balance_sheet": {"equity": {"label": "Equity", "order": 1400, "unit": "USD", "value": 5}},
                          "income_statement": {"basic_earnings_per_share": {
                              "label": "EPS", "order": 4200, "unit": "USD / shares", "value": 0.5}}}}
    row.update(over)
    return row


def test_parse_financials_long_table_and_times_in_utc():
    df = fu_parse.parse_financials([_result(), _result(tickers=["BBB"], acceptance_datetime="20240105163000")])
    assert df.height == 4 and set(df["field"]) == {"equity", "basic_earnings_per_share"}
    accepted = dict(zip(df["ticker"], df["acceptance_datetime"]))
    assert accepted["AAA"] == dt.datetime(2024, 5, 1, 22, 30, tzinfo=UTC)  # EDT, UTC-4
    assert accepted["BBB"] == dt.datetime(2024, 1, 5, 21, 30, tzinfo=UTC)  # EST, UTC-5
    assert df["_unparsed"].to_list() == [""] * 4


def test_bad_financials_rows_are_quarantined_with_their_reason():
    bad_value = _result(tickers=["CCC"], financials={"balance_sheet": {"equity": {"label": "E", "order": 1, "unit": "USD",
                                                                 "value": "n/a"}}})
    rows = fu_parse.parse_financials([_result(), bad_value, _result(tickers=[], fiscal_period="Q9")])
    rows = rows.with_columns(pl.lit(D(2024, 5, 1)).alias("_lo"), pl.lit(D(2024, 5, 31)).alias("_hi"))
    clean, quarantine, report = validate_rows(rows, MODELS["financials"], sort_by=SORT_BY["financials"])
    assert clean.height == 2 and quarantine.height >= 2
    reasons = " ".join(quarantine["reason"])
    assert "dates are YYYY-MM-DD" in reasons and "fiscal_period" in reasons and "ticker" in reasons
    assert report["rows_quarantined"] == quarantine.height and not report["ok"]


def test_page_with_error_status_fails_the_file():
    doc = orjson.dumps({"requests": [{"path": "/x", "pages": [{"status": "ERROR", "error": "boom"}]}]})
    with pytest.raises(Exception, match="status ERROR: boom"):
        results_list(doc, "financials/2024-01")


# ------------------------------------------------------------------------------------------ silver maths
def _fin(rows):
    out = []
    for ticker, accepted, end, filing, equity, ni, shares in rows:
        for field, v in (("equity", equity), ("net_income_loss", ni), ("basic_average_shares", shares)):
            out.append({"ticker": ticker, "field": field, "value": float(v), "timeframe": "quarterly",
                        "end_date": end, "filing_date": filing, "acceptance_datetime": accepted})
    return pl.DataFrame(out, schema_overrides={"acceptance_datetime": pl.Datetime("us", "UTC")})


def test_quarterly_ttm_needs_four_consecutive_quarters():
    ends = [D(2023, 3, 31), D(2023, 6, 30), D(2023, 9, 30), D(2023, 12, 31), D(2024, 6, 30)]
    fin = _fin([("A", dt.datetime(e.year + (e.month == 12), (e.month % 12) + 1, 20, tzinfo=UTC), e,
                 e + dt.timedelta(days=40), 1, q + 1, 10) for q, e in enumerate(ends)])
    ttm = fs.quarterly_filings(fin)["net_income_ttm"].to_list()
    assert ttm == [None, None, None, 10.0, None]  # the last four skip Q1 2024: not one year


def test_point_in_time_close_boundary_and_split_after_filing():
    sessions = [(D(2024, 3, 14), dt.datetime(2024, 3, 14, 20, tzinfo=UTC)),
                (D(2024, 3, 15), dt.datetime(2024, 3, 15, 20, tzinfo=UTC)),
                (D(2024, 3, 18), dt.datetime(2024, 3, 18, 20, tzinfo=UTC))]
    bars = pl.DataFrame({"ticker": ["A", "A", "A", "B", "B", "B"], "date": [d for d, _ in sessions] * 2,
                         "close": [10.0, 10.0, 5.0, 1.0, 1.0, 1.0]})
    fin = _fin([("A", dt.datetime(2024, 3, 14, 20, tzinfo=UTC), D(2023, 12, 31), D(2024, 3, 14), 50, 1, 100),
                ("B", dt.datetime(2024, 3, 14, 20, 0, 0, 1, tzinfo=UTC), D(2023, 12, 31), D(2024, 3, 14), 5, 1, 7)])
    splits = pl.DataFrame({"id": ["s1", "s2"], "ticker": ["A", "A"], "execution_date": [D(2024, 3, 18)] * 2,
                           "split_from": [1.0, 1.0], "split_to": [2.0, 2_000_000.0]})
    rejected = pl.DataFrame({"event": ["split"], "id": ["s2"]})
    empty_si = pl.DataFrame(schema=fu_parse.SHORT_INTEREST_SCHEMA)
    empty_sv = pl.DataFrame(schema=fu_parse.SHORT_VOLUME_SCHEMA)
    out = fs.build(bars, fin, empty_si, empty_sv, splits, rejected, sessions)
    a = out.filter(pl.col("ticker") == "A")
    assert a["shares_outstanding"].to_list() == [100.0, 100.0, 200.0]  # accepted at the close: usable
    assert a["market_cap"].to_list() == [1000.0, 1000.0, 1000.0]
    assert a["book_to_market"].to_list() == [0.05, 0.05, 0.05]
    b = out.filter(pl.col("ticker") == "B")
    assert b["shares_outstanding"].to_list() == [None, 7.0, 7.0]  # one microsecond after the close: next day


# ------------------------------------------------------------------------------------------ simulator
@pytest.fixture(scope="module")
def sim_family():
    return Fundamentals(Market(MarketConfig(seed=3, n_tickers=30, start="2024-01-02", end="2024-06-28")))


def _get(family, handler, **params):
    req = Request("GET", "/x", "&".join(f"{k}={v}" for k, v in params.items()), {"host": "sim"}, "http", None,
                  {k: str(v) for k, v in params.items()})
    return orjson.loads(getattr(family, handler)(req).body)


def test_sim_caps_the_financials_limit_at_100(sim_family):
    with pytest.raises(ApiError) as err:
        _get(sim_family, "financials", limit=101)
    assert err.value.status == 400 and "limit" in err.value.body["error"]
    body = _get(sim_family, "financials", limit=100, **{"filing_date.gte": "2023-01-01"})
    assert body["count"] == 100 and "next_url" in body


def test_sim_filings_are_consistent_with_the_market(sim_family):
    m = sim_family.m
    for r in sim_family.filings:
        bs, inc = r["financials"]["balance_sheet"], r["financials"]["income_statement"]
        assert bs["assets"]["value"] == bs["liabilities"]["value"] + bs["equity"]["value"]
        assert inc["basic_earnings_per_share"]["value"] == round(inc["net_income_loss"]["value"] /
                                                                  inc["basic_average_shares"]["value"], 2)
        accepted = r["_accepted_utc"].astimezone(dt.timezone(dt.timedelta(hours=-5)))  # a lower bound is enough
        assert D.fromisoformat(r["filing_date"]) >= accepted.date() - dt.timedelta(days=1)
        lag = (D.fromisoformat(r["filing_date"]) - D.fromisoformat(r["end_date"])).days
        assert 25 <= lag <= 66
        j = next(j for j in range(m.n) if m.security_id[j] == r["_security_id"])
        assert m.sec_type[j] == "CS"
    assert {r["timeframe"] for r in sim_family.filings} == {"quarterly", "annual"}


def test_sim_is_deterministic_and_prefix_stable():
    def frames(end):
        from quantmini.sim.financials import truth_frames

        return truth_frames(Market(MarketConfig(seed=5, n_tickers=12, start="2024-01-02", end=end)))

    short, long_ = frames("2024-04-30"), frames("2024-09-30")
    again = frames("2024-04-30")
    cut = D(2024, 4, 30)
    for name, col in (("financials", "filing_date"), ("short_interest", "settlement_date"), ("short_volume", "date")):
        assert short[name].equals(again[name]), f"{name}: same seed, different data"
        key = [c for c in ("security_id", "ticker", col, "timeframe", "end_date") if c in short[name].columns]
        prefix = long_[name].filter(pl.col(col) <= cut).sort(key)
        assert short[name].height > 0 and short[name].sort(key).equals(prefix), f"{name}: history depends on end"


def test_bronze_refuses_a_landing_file_that_changed(tmp_path):
    from quantmini.bronze import CorruptLandingError

    root = tmp_path / "landing"
    chunk = root / "short_volume/year=2024/month=01/2024-01-02_2024-01-31.json.gz"
    chunk.parent.mkdir(parents=True)
    chunk.write_bytes(b"not what was landed")
    w = {"table": "short_volume", "year": 2024, "month": 1, "lo": "2024-01-02", "hi": "2024-01-31"}
    manifest = root / "fundamentals/year=2024/_manifest.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(orjson.dumps({"windows": [w], "files": [
        {"table": "short_volume", "month": fu_landing.window_key(w), "file": str(chunk.relative_to(root)),
         "sha256": "0" * 64}]}).decode())
    out = tmp_path / "bronze.parquet"
    with pytest.raises(CorruptLandingError, match="does not match its manifest"):
        fu_bronze.build_bronze_year(2024, [w], "all", manifest, {fu_landing.window_key(w): (out, tmp_path / "q.parquet",
                                                                             tmp_path / "r.json")})
    assert not out.exists()


def test_a_rename_carries_filings_splits_and_short_interest_over():
    sessions = [(D(2024, 3, 14), dt.datetime(2024, 3, 14, 20, tzinfo=UTC)),
                (D(2024, 3, 15), dt.datetime(2024, 3, 15, 20, tzinfo=UTC))]
    bars = pl.DataFrame({"ticker": ["OLD", "NEW"], "date": [D(2024, 3, 14), D(2024, 3, 15)], "close": [10.0, 5.0]})
    fin = _fin([("OLD", dt.datetime(2024, 2, 1, 15, tzinfo=UTC), D(2023, 12, 31), D(2024, 2, 1), 50, 1, 100)])
    splits = pl.DataFrame({"id": ["s"], "ticker": ["OLD"], "execution_date": [D(2024, 3, 14)],
                           "split_from": [1.0], "split_to": [2.0]})
    changes = pl.DataFrame({"composite_figi": ["BBG000000001"], "date": [D(2024, 3, 15)], "old_ticker": ["OLD"],
                            "new_ticker": ["NEW"]})
    out = fs.build(bars, fin, pl.DataFrame(schema=fu_parse.SHORT_INTEREST_SCHEMA), pl.DataFrame(schema=fu_parse.SHORT_VOLUME_SCHEMA),
                   splits, None, sessions, changes)
    assert out["ticker"].to_list() == ["NEW", "OLD"] and out["shares_outstanding"].to_list() == [200.0, 200.0]
    without = fs.build(bars, fin, pl.DataFrame(schema=fu_parse.SHORT_INTEREST_SCHEMA),
                       pl.DataFrame(schema=fu_parse.SHORT_VOLUME_SCHEMA), splits, None, sessions)
    assert without["shares_outstanding"].to_list() == [None, 200.0]  # by ticker only


def test_parsers_read_the_vendor_examples(fixtures_dir):
    import json

    ex = json.loads((fixtures_dir / "openapi_examples/vX/reference/financials.json").read_text())
    result = ex["results"][0]
    df = fu_parse.parse_financials(ex["results"])
    fields = {(s, f): v["value"] for s, stmt in result["financials"].items() for f, v in stmt.items()}
    assert df.height == len(fields) > 40  # the example has no `tickers`: one row each, ticker null
    assert {(s, f): v for s, f, v in df.select("statement", "field", "value").iter_rows()} == fields
    assert df["end_date"].unique().to_list() == [D(2022, 4, 3)] and df["fiscal_year"].unique().to_list() == [2022]
    for table, name in (("short_interest", "short-interest"), ("short_volume", "short-volume")):
        rows = json.loads((fixtures_dir / f"openapi_examples/stocks/v1/{name}.json").read_text())["results"]
        parsed = fu_parse.parse(table, rows)
        assert parsed.height == 1 and parsed["_unparsed"].to_list() == [""]
        assert parsed.drop("_unparsed").null_count().sum_horizontal().item() == 0, table
