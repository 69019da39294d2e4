"""Corporate actions and reference data: parsers vs the vendor's documented payloads, partition windows,
bronze quarantine reasons (hand-worked), landing against the live simulator (paging, immutability), and
event validation against hand-worked cases and the simulator's ground truth."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
from pathlib import Path

import orjson
import polars as pl
import pytest
from quantmini import adjust, calendar
from quantmini.bronze import CorruptLandingError
from quantmini.datatypes.corporate_actions import bronze as ca_bronze
from quantmini.datatypes.corporate_actions import landing as ca_landing
from quantmini.datatypes.corporate_actions import parse as ca_parse
from quantmini.datatypes.corporate_actions.event_validation import validate_events
from quantmini.lake import LakePaths
from quantmini.landing_documents import ClientOptions, landing_document
from quantmini.sim.market import Market, MarketConfig
from quantmini.sim.server import SimProcess

D = dt.date


def doc(dtype: str, bodies: list[bytes], path: str = "/v3/x") -> bytes:
    return landing_document(dtype, ["a", "b"], [(path, {})], [bodies])


# ------------------------------------------------------------------------------------ parsers
def test_parsers_read_the_vendor_examples(fixtures_dir):
    ex = fixtures_dir / "openapi_examples"
    splits = ca_parse.parse_splits(doc("splits", [(ex / "v3/reference/splits.json").read_bytes()]))
    assert splits.drop("_unparsed").rows() == [
        ("E36416cce743c3964c5da63e1ef1626c0aece30fb47302eea5a49c0055c04e8d0", "AAPL", D(2020, 8, 31), 1.0, 4.0),
        ("E90a77bdf742661741ed7c8fc086415f0457c2816c45899d73aaa88bdc8ff6025", "AAPL", D(2005, 2, 28), 1.0, 2.0)]
    spec = json.loads((fixtures_dir / "openapi_subset_massive_2025-10.json").read_text())
    example = spec["paths"]["/v3/reference/dividends"]["get"]["responses"]["200"]["content"][
        "application/json"]["schema"]["example"]
    divs = ca_parse.parse_dividends(doc("dividends", [orjson.dumps(example)]))
    assert divs.height == 2 and divs.schema == pl.Schema({**ca_parse.DIVIDENDS_SCHEMA, "_unparsed": pl.Utf8})
    first = divs.row(0, named=True)
    assert (first["cash_amount"], first["ex_dividend_date"], first["pay_date"], first["frequency"],
            first["dividend_type"], first["currency"]) == (0.22, D(2021, 11, 5), D(2021, 11, 11), 4, "CD", None)
    tickers = ca_parse.parse_tickers(doc("tickers", [(ex / "v3/reference/tickers.json").read_bytes()]), D(2021, 4, 25))
    assert tickers.select("ticker", "composite_figi", "cik", "active", "snapshot_date").row(0) == (
        "A", "BBG000BWQYZ5", "0001090872", True, D(2021, 4, 25))
    events = (ex / "vX/reference/tickers/_id_/events.json").read_bytes()
    changes = ca_parse.parse_ticker_changes(doc("ticker_changes", [events], "/vX/reference/tickers/BBG000MM2P62/events"))
    assert changes.drop("_unparsed").rows() == [("BBG000MM2P62", D(2022, 6, 9), "FB", "META")]


def test_absent_results_are_no_rows_and_error_pages_fail_with_one_line(fixtures_dir):
    empty = (fixtures_dir / "errors/200_aggs_empty_no_results_key.json").read_bytes()
    assert ca_parse.parse_splits(doc("splits", [empty])).height == 0
    assert ca_parse.parse_dividends(doc("dividends", [])).height == 0
    bad = b'{"status":"NOT_AUTHORIZED","message":"You are not entitled to this data."}'
    with pytest.raises(CorruptLandingError, match="status NOT_AUTHORIZED: You are not entitled") as err:
        ca_parse.parse_splits(doc("splits", [bad]))
    assert "\n" not in str(err.value)


# ------------------------------------------------------------------------------------ windows
def test_month_windows_hand_worked():
    march = calendar.sessions("2024-03-01", "2024-03-27")
    w = ca_landing.month_window(2024, 3, march)
    assert (w.lo, w.hi, w.last_session, w.prev_session) == (D(2024, 3, 1), D(2024, 3, 27), D(2024, 3, 27), D(2024, 2, 29))
    # 2024-03-28 is March's last session (Good Friday follows): the month is closed, its window ends on the 31st
    w = ca_landing.month_window(2024, 3, calendar.sessions("2024-03-01", "2024-03-28"))
    assert (w.lo, w.hi, w.last_session) == (D(2024, 3, 1), D(2024, 3, 31), D(2024, 3, 28))
    w = ca_landing.month_window(2024, 1, calendar.sessions("2024-01-02", "2024-01-31"))
    assert (w.lo, w.hi, w.prev_session) == (D(2024, 1, 1), D(2024, 1, 31), D(2023, 12, 29))
    w = ca_landing.month_window(2024, 1, calendar.sessions("2024-01-10", "2024-01-31"))  # a range starting mid-month
    assert w.lo == D(2024, 1, 10)
    assert ca_landing.Window.from_params(w.to_params()) == w
    with pytest.raises(ValueError, match="outside the month"):
        ca_landing.month_window(2024, 2, march)


def test_year_windows_are_the_month_windows_in_range():
    days = calendar.sessions("2023-11-15", "2024-02-06")
    assert [w.key for w in ca_landing.year_windows(2023, [d for d in days if d.year == 2023])] == ["2023-11", "2023-12"]
    nov, dec = ca_landing.year_windows(2023, [d for d in days if d.year == 2023])
    # a range starting mid-month: November from its first session; December closed (its last session in range)
    assert (nov.lo, nov.hi, nov.prev_session, nov.last_session) == (D(2023, 11, 15), D(2023, 11, 30),
                                                                    D(2023, 11, 14), D(2023, 11, 30))
    assert (dec.lo, dec.hi, dec.prev_session, dec.last_session) == (D(2023, 12, 1), D(2023, 12, 31),
                                                                    D(2023, 11, 30), D(2023, 12, 29))
    jan, feb = ca_landing.year_windows(2024, [d for d in days if d.year == 2024])
    assert (jan.prev_session, jan.hi, feb.lo, feb.hi, feb.prev_session) == (
        D(2023, 12, 29), D(2024, 1, 31), D(2024, 2, 1), D(2024, 2, 6), D(2024, 1, 31))
    assert ca_landing.year_windows(2024, calendar.sessions("2024-03-01", "2024-03-27")) == [
        ca_landing.month_window(2024, 3, calendar.sessions("2024-03-01", "2024-03-27"))]
    with pytest.raises(ValueError, match="outside the year"):
        ca_landing.year_windows(2024, days)
    with pytest.raises(ValueError, match="no sessions"):
        ca_landing.year_windows(2024, [])


def test_rename_candidates_hand_worked():
    opening = pl.DataFrame({"ticker": ["A", "B", "C", "D", "OLD"], "composite_figi": ["F1", "F2", "F3", None, "F6"]})
    closing = pl.DataFrame({"ticker": ["A2", "B", "C", "C0", "E", "OLD", "NEW"],
                            "composite_figi": ["F1", "F2", "F3", "F3", "F5", "F6", "F6"]})
    # F1 renamed A -> A2; F3 gained a second ticker; F6 already listed OLD and NEW: both sets differ;
    # F2 unchanged, F5 new (one ticker), D without FIGI: not asked
    assert ca_landing.rename_candidates(opening, closing) == ["F1", "F3", "F6"]
    assert ca_landing.rename_candidates(closing, closing) == []


# ------------------------------------------------------------------------------------ bronze
MARCH = ca_landing.month_window(2024, 3, calendar.sessions("2024-03-01", "2024-03-27"))


def write_landing(tmp: Path, dtype: str, body: dict, kind: str = "listing") -> Path:
    """A year's landing with one month (March 2024, to the 27th): one file and the manifest listing it."""
    year = tmp / "landing" / dtype / "year=2024"
    (year / "month=03").mkdir(parents=True)
    data = gzip.compress(doc(dtype, [orjson.dumps(body)], "/vX/reference/tickers/BBGXD71DKCHY/events"))
    (year / "month=03" / "w.json.gz").write_bytes(data)
    manifest = year / "_manifest.json"
    entry = {"kind": kind, "month": "2024-03" if kind == "listing" else None, "file": "month=03/w.json.gz",
             "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    manifest.write_text(json.dumps({"windows": [MARCH.to_params()], "files": [entry]}))
    return manifest


def build(tmp: Path, dtype: str, manifest: Path, universe="all"):
    out = {k: tmp / dtype / f"{k}.parquet" for k in ("bronze", "quarantine")}
    (report,) = ca_bronze.build_bronze_year(dtype, 2024, [MARCH], universe, manifest,
                                     [(out["bronze"], out["quarantine"], tmp / dtype / "report.json")])
    return pl.read_parquet(out["bronze"]), pl.read_parquet(out["quarantine"]), report


def split(i, ticker="AAA", day="2024-03-12", f=1, t=2):
    return {"id": i if isinstance(i, str) else f"E{i}", "ticker": ticker, "execution_date": day, "split_from": f, "split_to": t}


def test_bronze_splits_quarantine_reasons_hand_worked(tmp_path):
    rows = [split(1), split(1),                              # the same row twice (two pages): kept once
            split(2, "BBB"), split(2, "BBB", f=2),           # one id, two contents: both quarantined
            split(3, day="2024-03-28"),                       # after the window (2024-03-01..27)
            split(4, day="2024-02-30"),                       # not a date
            split(5, ticker=None),                            # no ticker
            split(6, "CCC", day="2024-03-01", f=3, t=1),      # good
            split(7, "ZZZ")]                                  # good but outside the universe
    bronze, quarantine, report = build(tmp_path, "splits", write_landing(tmp_path, "splits",
                                                                          {"status": "OK", "results": rows}),
                                       universe=["AAA", "BBB", "CCC"])
    assert bronze.columns == list(ca_parse.SPLITS_SCHEMA) and bronze.schema == pl.Schema(ca_parse.SPLITS_SCHEMA)
    assert bronze.select("id", "ticker").rows() == [("E6", "CCC"), ("E1", "AAA")]  # by execution_date
    reasons = dict(zip(quarantine["id"] + ":" + quarantine["split_from"].cast(pl.Utf8), quarantine["reason"]))
    assert reasons == {
        "E2:1.0": "unique(id)", "E2:2.0": "unique(id)",
        "E3:1.0": "execution_date inside the partition's window",
        "E4:1.0": "dates are YYYY-MM-DD (UTC times ISO 8601); execution_date inside the partition's window; "
                  "execution_date:not_nullable",
        "E5:1.0": "ticker:not_nullable",
    }
    # ZZZ is outside the universe; the row without a ticker is kept to be quarantined, not dropped
    assert (report["rows_in"], report["rows_valid"], report["rows_quarantined"],
            report["exact_duplicates_collapsed"], report["ok"]) == (8, 2, 5, 1, False)
    assert report["window"] == ["2024-03-01", "2024-03-27"]
    on_disk = json.loads((tmp_path / "splits" / "report.json").read_text())
    assert on_disk == report


def test_bronze_ticker_changes_keep_this_months_renames_only(tmp_path):
    body = {"status": "OK", "results": {"events": [
        {"type": "ticker_change", "date": "2024-03-04", "ticker_change": {"ticker": "NEW"}},
        {"type": "ticker_change", "date": "2021-05-03", "ticker_change": {"ticker": "MID"}},
        {"type": "ticker_change", "date": "2010-01-04", "ticker_change": {"ticker": "OLD"}}]}}
    bronze, quarantine, report = build(tmp_path, "ticker_changes", write_landing(tmp_path, "ticker_changes", body,
                                                                                 "events"))
    assert bronze.rows() == [("BBGXD71DKCHY", D(2024, 3, 4), "MID", "NEW")]
    assert quarantine.height == 0 and report["window"] == ["2024-03-01", "2024-03-27"]


def test_bronze_refuses_a_landing_file_that_does_not_match_its_manifest(tmp_path):
    manifest = write_landing(tmp_path, "splits", {"status": "OK", "results": [split(1)]})
    landing = manifest.parent / "month=03" / "w.json.gz"
    landing.write_bytes(landing.read_bytes()[:-3])
    with pytest.raises(CorruptLandingError, match="does not match its manifest"):
        build(tmp_path, "splits", manifest)
    assert not (tmp_path / "splits" / "bronze.parquet").exists()


def test_bronze_year_writes_nothing_when_a_later_month_is_bad(tmp_path):
    """Two months; February's landing file is missing: no partition of the year is written."""
    lake = LakePaths(tmp_path / "lake")
    windows = ca_landing.year_windows(2024, calendar.sessions("2024-01-02", "2024-02-29"))
    files = []
    for w in windows:
        path = ca_landing.listing_file(lake, "splits", w)
        landed = doc("splits", [orjson.dumps({"status": "OK", "results": [split(w.month, day=str(w.lo))]})])
        path.parent.mkdir(parents=True)
        path.write_bytes(gzip.compress(landed))
        files.append(("listing", w.key, path))
    manifest = lake.landing_year_dir("splits", 2024) / "_manifest.json"
    ca_landing._write_manifest(manifest, "splits", 2024, windows, files)
    outputs = [tuple(tmp_path / f"{w.key}.{k}" for k in ("b.parquet", "q.parquet", "r.json")) for w in windows]
    reports = ca_bronze.build_bronze_year("splits", 2024, windows, "all", manifest, outputs)
    assert [r["rows_valid"] for r in reports] == [1, 1] and [r["partition"] for r in reports] == ["2024-01", "2024-02"]
    assert pl.read_parquet(outputs[1][0])["execution_date"].to_list() == [D(2024, 2, 1)]
    for out in outputs:
        for f in out:
            f.unlink()
    files[1][2].unlink()
    with pytest.raises(CorruptLandingError, match="landing file missing"):
        ca_bronze.build_bronze_year("splits", 2024, windows, "all", manifest, outputs)
    assert not any(f.exists() for out in outputs for f in out), "a partial year was written"
    with pytest.raises(CorruptLandingError, match="other month windows"):
        ca_bronze.build_bronze_year("splits", 2024, windows[:1], "all", manifest, outputs[:1])


# ------------------------------------------------------------------------------------ landing vs the live simulator
SEED, TICKERS = 7, 20


@pytest.fixture(scope="module")
def market():
    return Market(MarketConfig(seed=SEED, n_tickers=TICKERS, start="2024-01-02", end="2024-04-30"))


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    log = tmp_path_factory.mktemp("sim") / "requests.jsonl"
    with SimProcess(tickers=TICKERS, seed=SEED, start="2024-01-02", end="2024-04-30", request_log=str(log)) as s:
        yield s


def test_landing_follows_every_page_and_never_downloads_twice(tmp_path, market, sim):
    lake = LakePaths(tmp_path / "lake")
    jan_only = ca_landing.year_windows(2024, calendar.sessions("2024-01-02", "2024-01-31"))
    (w,) = jan_only
    opts = ClientOptions(sim.url, None, max_concurrency=4)
    manifest = {d: lake.landing_year_dir(d, 2024) / "_manifest.json" for d in ("splits", "tickers")}
    n0 = len(sim.requests())
    for dtype in ("splits", "tickers"):
        assert ca_landing.land_listing_year(dtype, lake, 2024, jan_only, manifest[dtype], opts, limit=2) == 1
    n = len(sim.requests())
    assert ca_landing.land_listing_year("splits", lake, 2024, jan_only, manifest["splits"], opts, limit=2) == 0
    assert len(sim.requests()) == n, "an existing landing file was downloaded again"
    reqs = sim.requests()[n0:]
    served = [r for r in market.vendor_split_rows if r["execution_date"] <= D(2024, 1, 31)]
    splits_pages = [r for r in reqs if r["path"] == "/v3/reference/splits"]
    assert len(served) == 3 and len(splits_pages) == 2  # 3 rows at limit=2: a second page via next_url
    assert "cursor=" in splits_pages[1]["query"]
    got = ca_parse.parse_splits(ca_bronze._landed(manifest["splits"], "listing", "2024-01"))
    expected = pl.DataFrame([{k: r[k] for k in ca_parse.SPLITS_SCHEMA} for r in served], schema=ca_parse.SPLITS_SCHEMA)
    assert got.drop("_unparsed").sort("id").equals(expected.sort("id"))
    assert ca_landing.listing_file(lake, "splits", w) == lake.landing_file("splits", 2024, 1, "2024-01-01_2024-01-31.json.gz")
    tickers = ca_parse.parse_tickers(ca_landing._read_landing(lake.landing_file("tickers", 2024, 1, "2024-01-31.json.gz")),
                               D(2024, 1, 31))
    sec = market.securities()
    listed = sec.filter(pl.col("list_date") <= D(2024, 1, 31))
    assert sorted(tickers["composite_figi"]) == sorted(listed["composite_figi"])  # active and inactive
    assert tickers.filter(~pl.col("active")).height == 0  # the first delisting is in February
    # the year grows to 2024-03-05: January is landed already, only February and March's open window are asked
    n = len(sim.requests())
    to_march = ca_landing.year_windows(2024, calendar.sessions("2024-01-02", "2024-03-05"))
    assert ca_landing.land_listing_year("splits", lake, 2024, to_march, manifest["splits"], opts) == 2
    assert sorted(r["query"] for r in sim.requests()[n:]) == [
        "execution_date.gte=2024-02-01&execution_date.lte=2024-02-29&limit=1000",
        "execution_date.gte=2024-03-01&execution_date.lte=2024-03-05&limit=1000"]
    listed = json.loads(manifest["splits"].read_text())
    assert [(e["month"], e["file"]) for e in listed["files"]] == [
        ("2024-01", "month=01/2024-01-01_2024-01-31.json.gz"), ("2024-02", "month=02/2024-02-01_2024-02-29.json.gz"),
        ("2024-03", "month=03/2024-03-01_2024-03-05.json.gz")]


# ------------------------------------------------------------------------------------ event validation
BARS = pl.DataFrame(
    {"security": ["S"] * 4 + ["T"] * 3,
     "ticker": ["S"] * 4 + ["T"] * 3,
     "date": [D(2024, 3, d) for d in (4, 5, 6, 7)] + [D(2024, 3, d) for d in (4, 5, 6)],
     "open": [100.0, 101.0, 50.5, 51.0, 20.0, 20.2, 20.1],
     "close": [100.0, 101.0, 51.0, 50.0, 20.0, 20.2, 20.1]})


def test_event_validation_hand_worked():
    splits = pl.DataFrame([
        split("good", "S", "2024-03-06", 1, 2),          # 101 -> 50.5: a 2-for-1 split shows
        split("copy", "S", "2024-03-06", 2, 4),          # the same ratio again: a copy
        split("rev", "T", "2024-03-05", 10, 1),          # 20 -> 20.2: no 1-for-10 reverse split shows
        split("absurd", "T", "2024-03-06", 1, 2_000_000),
        split("zero", "T", "2024-03-06", 0, 1),
        split("early", "S", "2024-03-04", 1, 2),         # no bar before it
        split("ghost", "NOPE", "2024-03-06", 1, 2),      # a ticker without bars
    ], schema_overrides={"split_from": pl.Float64, "split_to": pl.Float64}).with_columns(
        pl.col("execution_date").str.to_date())
    divs = pl.DataFrame({
        "id": ["d_ok", "d_neg", "d_big", "d_copy", "d_ghost", "d_first"],
        "ticker": ["T", "T", "T", "T", "NOPE", "S"],
        "ex_dividend_date": [D(2024, 3, 6), D(2024, 3, 5), D(2024, 3, 5), D(2024, 3, 6), D(2024, 3, 6), D(2024, 3, 4)],
        "cash_amount": [0.5, -0.1, 20.0, 0.5, 0.5, 0.2]})
    s_ok, d_ok, q, report = validate_events(BARS, splits, divs)
    assert s_ok["id"].to_list() == ["good"] and s_ok["security"].to_list() == ["S"]
    assert d_ok["id"].to_list() == ["d_ok"]
    codes = dict(zip(q["id"], q["code"]))
    assert codes == {"copy": "duplicate", "rev": "not_in_bars", "absurd": "absurd_ratio", "zero": "bad_ratio",
                     "early": "unverifiable", "ghost": "no_bars", "d_neg": "non_positive_amount",
                     "d_big": "amount_ge_close", "d_copy": "duplicate", "d_ghost": "no_bars",
                     "d_first": "unverifiable"}
    reasons = dict(zip(q["id"], q["reason"]))
    assert reasons["copy"] == "duplicate of split good (4-for-2 on 2024-03-06)"
    assert reasons["rev"] == ("the bars do not show a 1-for-10 split on 2024-03-05: close 20 on 2024-03-04, "
                              "then open 20.2 / close 20.2 on 2024-03-05 (x1.01), a split predicts x10")
    assert reasons["absurd"].startswith("absurd ratio: a 2000000-for-1 split on 2024-03-06 would divide the price by 2000000")
    assert reasons["d_big"] == "cash amount 20 (ex-date 2024-03-05) is not below the previous close 20 on 2024-03-04"
    assert reasons["ghost"] == "no bars for ticker NOPE"
    assert report == {"splits_in": 7, "splits_kept": 1, "splits_quarantined": 6, "dividends_in": 6,
                      "dividends_kept": 1, "dividends_quarantined": 5,
                      "quarantined_by_reason": {"dividend:amount_ge_close": 1, "dividend:duplicate": 1,
                                                "dividend:no_bars": 1, "dividend:non_positive_amount": 1,
                                                "dividend:unverifiable": 1, "split:absurd_ratio": 1,
                                                "split:bad_ratio": 1, "split:duplicate": 1, "split:no_bars": 1,
                                                "split:not_in_bars": 1, "split:unverifiable": 1}}
    empty_s, empty_d, empty_q, rep = validate_events(BARS, splits.clear(), divs.clear())
    assert empty_s.height == empty_d.height == empty_q.height == 0 and rep["splits_in"] == 0


@pytest.mark.parametrize("seed,n", [(7, 20), (1, 5), (42, 300)])
def test_event_validation_against_simulator_truth(seed, n):
    m = Market(MarketConfig(seed=seed, n_tickers=n, start="2024-01-02", end="2024-06-28"))
    figi = m.securities().select("security_id", "composite_figi")
    changes = m.ticker_changes().join(figi, on="security_id").drop("security_id")
    bars = adjust.assign_security(m.daily_raw().drop("security_id"), adjust.symbol_map(changes))
    served = pl.DataFrame([{k: r[k] for k in ca_parse.SPLITS_SCHEMA} for r in m.vendor_split_rows], schema=ca_parse.SPLITS_SCHEMA)
    key = ["ticker", "execution_date", "split_from", "split_to"]
    truth, bogus, dividends = m.splits(), m.bogus_splits(), m.dividends().drop("security_id")
    assert set(bogus["reason"]) == {"duplicate", "absurd_ratio", "not_in_bars"}
    for listing in (served, served.reverse()):  # the outcome must not depend on the vendor's order
        s_ok, d_ok, q, report = validate_events(bars, listing, dividends)
        assert s_ok.select(key).sort(key).equals(truth.select(key).sort(key)), "a true split was dropped"
        assert set(d_ok["id"]) == set(dividends["id"]), "a true dividend was quarantined"
        qs = q.filter(pl.col("event") == "split").rename({"date": "execution_date"})
        assert qs.height == bogus.height
        got = qs.select(*key, "code").sort(key)
        assert got.equals(bogus.select(*key, pl.col("reason").alias("code")).sort(key))
        assert set(qs["id"]) | set(s_ok["id"]) == set(served["id"])
        assert report["splits_quarantined"] == bogus.height and report["dividends_quarantined"] == 0
    # the multipliers of the kept events reproduce the simulator's adjustment exactly
    factors = adjust.factors(bars, adjust.event_multipliers(bars, s_ok, d_ok))
    adj = adjust.apply(bars, factors)
    ref = m.daily_adjusted().select("ticker", "date", pl.col("factor").alias("t"))
    j = adj.join(ref, on=["ticker", "date"])
    assert j.height == bars.height and (j["factor"] - j["t"]).abs().max() < 1e-12


def test_first_year_finds_a_rename_from_the_opening_snapshot(tmp_path, market, sim):
    """A range starting in February: the rename of 2024-02-22 shows only against the snapshot as of the
    session before (landed by the ticker_changes job itself); one events request."""
    lake = LakePaths(tmp_path / "lake")
    windows = ca_landing.year_windows(2024, calendar.sessions("2024-02-01", "2024-03-05"))
    opts = ClientOptions(sim.url, None)
    ca_landing.land_listing_year("tickers", lake, 2024, windows, lake.landing_year_dir("tickers", 2024) / "_manifest.json",
                         opts)
    snapshots = []
    for w in windows:
        snapshots.append(tmp_path / f"tickers-{w.key}.parquet")
        ca_parse.parse_tickers(ca_landing._read_landing(ca_landing.listing_file(lake, "tickers", w)), w.last_session).drop(
            "_unparsed").write_parquet(snapshots[-1])
    n0 = len(sim.requests())
    manifest = lake.landing_year_dir("ticker_changes", 2024) / "_manifest.json"
    figis = ca_landing.land_ticker_changes_year(lake, 2024, windows, snapshots, None, manifest, opts)
    figi = market.securities().select("security_id", "composite_figi")
    truth = market.ticker_changes().join(figi, on="security_id").select(list(ca_parse.TICKER_CHANGES_SCHEMA))
    assert figis == truth["composite_figi"].to_list() and len(figis) == 1
    asked = sorted((r["path"], r["query"]) for r in sim.requests()[n0:])
    assert asked == [("/v3/reference/tickers", "market=stocks&date=2024-01-31&active=false&limit=1000"),
                     ("/v3/reference/tickers", "market=stocks&date=2024-01-31&active=true&limit=1000"),
                     (f"/vX/reference/tickers/{figis[0]}/events", "types=ticker_change")]
    outputs = [tuple(tmp_path / f"{w.key}.{k}" for k in ("b.parquet", "q.parquet", "r.json")) for w in windows]
    reports = ca_bronze.build_bronze_year("ticker_changes", 2024, windows, "all", manifest, outputs)
    assert pl.read_parquet(outputs[0][0]).equals(truth)  # February
    assert pl.read_parquet(outputs[1][0]).height == 0 and reports[1]["window"] == ["2024-03-01", "2024-03-05"]
    n1 = len(sim.requests())
    assert ca_landing.land_ticker_changes_year(lake, 2024, windows, snapshots, None, manifest, opts) == figis
    assert len(sim.requests()) == n1, "a rerun downloaded the opening snapshot or the events again"
    with pytest.raises(ValueError, match="is as of"):  # snapshots in the wrong order
        ca_landing.land_ticker_changes_year(lake, 2024, windows, snapshots[::-1], None, manifest, opts)
