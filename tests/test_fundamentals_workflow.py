"""The real workflow against the live simulator: fundamentals (financials, short interest, short volume) to
bronze and the point-in-time silver fundamentals_daily. The reference is the simulator's ground truth
(`quantmini.sim.financials.truth_frames`, `Market`), recomputed here independently, never our own output.

One lake (2024-01-02 .. 2024-03-27, 11 tickers of a 150-ticker market, so a month of filings needs more
than one page at limit 100) is built, then advanced by one session (2024-03-28): the update may ask
only for that session.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import time
from pathlib import Path
from types import SimpleNamespace

import orjson
import polars as pl
import pytest
from quantmini import calendar
from quantmini.lake_db import Lake
from quantmini.sim.financials import FIELDS, truth_frames
from quantmini.sim.market import Market, MarketConfig
from quantmini.sim.server import SimProcess
from workflow_helpers import run_workflow, write_config

SEED, TICKERS, START, FIRST_END, END, SIM_END = 7, 150, "2024-01-02", "2024-03-27", "2024-03-28", "2024-04-30"
# forced roles: SPEZ 2:1 split, HEMR 1:10 reverse split, QNLQ 1:3 split, HP an IPO, CKZW/BZV delisted,
# MSPJ an ADR (no 10-Q). OCQ (renamed OFKA) is left out to keep within the test budget: without
# ticker_changes (and the tickers snapshots it needs: 8 more jobs) silver matches by ticker; the rename
# carry-over is unit-tested (test_fundamentals.py) and runs in the demo build.
UNIVERSE = ["SPEZ", "GJU", "HEMR", "HP", "CKZW", "QNLQ", "BZV", "CYO", "FLCND", "LMBL", "MSPJ"]
TYPES = ["stocks_daily", "splits", "fundamentals"]
HISTORY_FROM = dt.date(2022, 10, 1)  # 15 months before the range


@pytest.fixture(scope="module")
def market():
    return Market(MarketConfig(seed=SEED, n_tickers=TICKERS, start=START, end=SIM_END))


@pytest.fixture(scope="module")
def truth(market):
    return truth_frames(market)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fundamentals")
    work = tmp / "work"
    work.mkdir()
    out = SimpleNamespace(lake=work / "lake", timings={})
    cfg = dict(start=START, universe=UNIVERSE, data_types=TYPES, alpha158=False)
    with SimProcess(tickers=TICKERS, seed=SEED, start=START, end=SIM_END, request_log=str(tmp / "requests.jsonl")) as sim:
        write_config(work, end=FIRST_END, **cfg)
        t0 = time.monotonic()
        run_workflow(work, sim.url, "bronze", "silver")
        out.timings["build"] = time.monotonic() - t0
        out.first_requests = sim.requests()
        out.mtimes = {p: p.stat().st_mtime_ns for p in out.lake.rglob("*") if p.is_file()}
        write_config(work, end=END, **cfg)
        t0 = time.monotonic()
        run_workflow(work, sim.url, "bronze", "silver")
        out.timings["next session"] = time.monotonic() - t0
        out.next_requests = sim.requests()[len(out.first_requests):]
    print("timings:", {k: round(v, 1) for k, v in out.timings.items()})
    return out


def read(lake: Path, layer: str, table: str) -> pl.DataFrame:
    return pl.read_parquet(lake / layer / table / "year=*" / "month=*" / "data.parquet", hive_partitioning=False)


def in_universe(df: pl.DataFrame) -> pl.DataFrame:
    return df.filter(pl.col("ticker").is_in(UNIVERSE))


FUND_PATHS = ("/vX/reference/financials", "/stocks/v1/short-interest", "/stocks/v1/short-volume")


# ------------------------------------------------------------------------------------------ bronze
def test_bronze_financials_equal_every_field_of_every_filing(run, truth):
    last = dt.date.fromisoformat(END)
    wide = in_universe(truth["financials"]).filter(pl.col("filing_date").is_between(HISTORY_FROM, last))
    meta = pl.DataFrame([{"field": f, "statement": s, "label": label, "unit": unit} for s, f, label, _, unit in FIELDS])
    ids = ["ticker", "cik", "fiscal_period", "fiscal_year", "timeframe", "start_date", "end_date", "filing_date",
           "acceptance_datetime"]
    expected = (wide.select(*ids, *[pl.col(f).cast(pl.Float64) for f in meta["field"]])
                .unpivot(index=ids, variable_name="field", value_name="value").join(meta, on="field")
                .with_columns(pl.col("fiscal_year").cast(pl.Int32)))
    got = read(run.lake, "bronze", "financials")
    assert got.height == expected.height > 500
    cols = sorted(got.columns)
    key = ["ticker", "timeframe", "end_date", "statement", "field"]
    assert got.select(cols).sort(key).equals(expected.select(cols).sort(key))
    # partitioned by filing month, from 15 months before the range
    for f in (run.lake / "bronze/financials").glob("year=*/month=*/data.parquet"):
        y, m = (int(p.split("=")[1]) for p in f.parts[-3:-1])
        months = pl.read_parquet(f).select(pl.col("filing_date").dt.year() * 100 + pl.col("filing_date").dt.month())
        assert set(months.to_series()) <= {y * 100 + m}
    assert (run.lake / "bronze/financials/year=2022/month=10/data.parquet").exists()


def test_financials_paged_at_limit_100(run):
    fin = [r for r in run.first_requests if r["path"] == FUND_PATHS[0]]
    firsts = [r for r in fin if "cursor=" not in r["query"]]
    assert firsts and all("limit=100" in r["query"] for r in firsts)
    assert len(fin) > len(firsts), "no month needed a second page: the paging is not exercised"
    assert all(r["status"] == 200 for r in fin)


def test_bronze_short_interest_and_volume_equal_the_truth(run, truth):
    first, last = dt.date.fromisoformat(START), dt.date.fromisoformat(END)
    si = in_universe(truth["short_interest"]).filter(pl.col("settlement_date").is_between(first, last))
    got = read(run.lake, "bronze", "short_interest")
    assert si.height >= 50 and got.sort("ticker", "settlement_date").equals(
        si.select(got.columns).cast(got.schema).sort("ticker", "settlement_date"))
    sv = in_universe(truth["short_volume"]).filter(pl.col("date").is_between(first, last))
    got = read(run.lake, "bronze", "short_volume")
    assert got.height == sv.height > 500
    assert got.sort("ticker", "date").equals(sv.select(got.columns).cast(got.schema).sort("ticker", "date"))


def test_validation_reports_count_every_row(run):
    for table in ("financials", "short_interest", "short_volume"):
        reports = sorted((run.lake / "reports/validation" / table).glob("year=*/month=*.json"))
        assert len(reports) == (18 if table == "financials" else 3)
        for p in reports:
            rep = json.loads(p.read_text())
            assert rep["ok"] and rep["dtype"] == table and rep["rows_in"] == rep["rows_valid"], rep


def test_served_shapes_match_the_openapi_examples(run, fixtures_dir):
    """The landing holds the raw bodies: their keys are the vendor's example's."""
    examples = {FUND_PATHS[0]: "vX/reference/financials.json", FUND_PATHS[1]: "stocks/v1/short-interest.json",
                FUND_PATHS[2]: "stocks/v1/short-volume.json"}
    seen = set()
    for f in (f for t in ("financials", "short_interest", "short_volume")
              for f in run.lake.glob(f"landing/{t}/year=*/month=*/*.json.gz")):
        doc = orjson.loads(gzip.decompress(f.read_bytes()))
        for req in doc["requests"]:
            example = json.loads((fixtures_dir / "openapi_examples" / examples[req["path"]]).read_text())
            ex_row = example["results"][0]
            for page in req["pages"]:
                assert set(page) <= set(example) | {"next_url"} and page["status"] == "OK"
                for row in page.get("results", []):
                    seen.add(req["path"])
                    if req["path"] == FUND_PATHS[0]:
                        extra = {"acceptance_datetime", "timeframe", "tickers"}  # in the spec, not the example
                        assert set(row) == (set(ex_row) - {"source_filing_file_url"}) | extra
                        assert set(row["financials"]) == set(ex_row["financials"])
                        for stmt in row["financials"].values():
                            assert all(set(v) == {"label", "order", "unit", "value"} for v in stmt.values())
                        assert len(row["acceptance_datetime"]) == 14  # YYYYMMDDHHMMSS, New York time
                    else:
                        assert set(row) == set(ex_row)
    assert seen == set(FUND_PATHS)


def test_one_session_update_asks_only_for_that_session(run):
    asked = sorted((r["path"], r["query"]) for r in run.next_requests if r["path"] in FUND_PATHS)
    # 2024-03-28 is March's last session (Good Friday follows): the month closes, its window ends on the 31st
    assert asked == sorted([
        (FUND_PATHS[0], "filing_date.gte=2024-03-28&filing_date.lte=2024-03-31&sort=filing_date&order=asc&limit=100"),
        (FUND_PATHS[1], "settlement_date.gte=2024-03-28&settlement_date.lte=2024-03-31&sort=settlement_date.asc"
                        "&limit=50000"),
        (FUND_PATHS[2], "date.gte=2024-03-28&date.lte=2024-03-31&sort=date.asc&limit=50000"),
    ])
    landed = [p for p in run.mtimes if p.parts[-5] == "landing" and p.parts[-4] in ("financials", "short_interest",
                                                                                     "short_volume")]
    assert len(landed) > 20 and all(p.stat().st_mtime_ns == run.mtimes[p] for p in landed), "a landed file changed"
    new = sorted(str(p.relative_to(run.lake)) for t in ("financials", "short_interest", "short_volume")
                 for p in (run.lake / "landing" / t).rglob("*.json.gz") if p not in run.mtimes)
    assert new == [f"landing/{t}/year=2024/month=03/2024-03-28_2024-03-31.json.gz"
                   for t in ("financials", "short_interest", "short_volume")]
    for month in ("01", "02"):  # closed silver months never rebuild
        p = run.lake / f"silver/fundamentals_daily/year=2024/month={month}/data.parquet"
        assert p.stat().st_mtime_ns == run.mtimes[p]


# ------------------------------------------------------------------------------------------ silver
@pytest.fixture(scope="module")
def silver(run):
    return read(run.lake, "silver", "fundamentals_daily").sort("ticker", "date")


@pytest.fixture(scope="module")
def expected(market, truth, silver):
    """Per silver row, the values recomputed from the truth: the true shares outstanding at t, the latest
    quarterly filing accepted by t's close, FINRA's settlement published 8 sessions later."""
    sym_sec = {s: j for s, (j, *_rest) in market.symbol_spans.items()}
    fin = truth["financials"].filter(pl.col("timeframe") == "quarterly").sort("acceptance_datetime")
    by_sec = {sid: g for (sid,), g in fin.partition_by("security_id", as_dict=True).items()}
    si: dict[int, list] = {}
    for ticker, day, value in truth["short_interest"].sort("settlement_date").select(
            "ticker", "settlement_date", "short_interest").iter_rows():
        si.setdefault(sym_sec[ticker], []).append((market.session_index(day), day, value))  # by security
    sv = {(t, d): (r, v) for t, d, r, v in truth["short_volume"].select(
        "ticker", "date", "short_volume_ratio", "short_volume").iter_rows()}
    rows = []
    for ticker, day in silver.select("ticker", "date").iter_rows():
        j = sym_sec[ticker]
        i = market.session_index(day)
        close_utc = calendar.session_bounds_utc(day)[1]
        close = market.c[i, j] / 1e4
        shares = market.shares_outstanding(j, i)
        row = {"ticker": ticker, "date": day, "close": close, "shares_outstanding": None, "market_cap": None,
               "book_equity": None, "net_income_ttm": None, "filing_accepted": None}
        g = by_sec.get(int(market.security_id[j]))
        usable = g.filter(pl.col("acceptance_datetime") <= close_utc) if g is not None else None
        if usable is not None and usable.height:
            latest = usable.row(-1, named=True)
            row.update(shares_outstanding=shares, market_cap=close * shares, book_equity=float(latest["equity"]),
                       filing_accepted=latest["acceptance_datetime"])
            last4 = usable.sort("end_date").tail(4)
            if last4.height == 4 and 260 <= (last4["end_date"][-1] - last4["end_date"][0]).days <= 290:
                row["net_income_ttm"] = float(last4["net_income_loss"].sum())
        published = [(d, v) for k, d, v in si.get(j, []) if k + 8 <= i]  # FINRA publishes ~7 sessions later
        row["short_interest_settlement"], row["short_interest"] = published[-1] if published else (None, None)
        row["short_volume_ratio"], row["short_volume"] = sv[(ticker, day)]
        rows.append(row)
    return pl.DataFrame(rows, schema_overrides={"filing_accepted": pl.Datetime("us", "UTC")}, infer_schema_length=None)


def test_silver_values_equal_those_recomputed_from_the_truth(silver, expected):
    assert silver.height == expected.height > 600
    assert silver.select("ticker", "date").equals(expected.select("ticker", "date"))
    for col in ("filing_accepted", "short_interest", "short_interest_settlement", "short_volume"):
        assert silver[col].equals(expected[col].cast(silver[col].dtype)), col
    for col in ("close", "shares_outstanding", "market_cap", "book_equity", "net_income_ttm", "short_volume_ratio"):
        a, b = silver[col], expected[col].cast(pl.Float64)
        assert a.is_null().equals(b.is_null()), f"{col}: nulls differ"
        assert ((a - b).abs() <= 1e-9 * b.abs()).fill_null(True).all(), col
    assert (silver["book_to_market"] - silver["book_equity"] / silver["market_cap"]).abs().max() < 1e-12
    assert (silver["earnings_yield"] - silver["net_income_ttm"] / silver["market_cap"]).abs().max() < 1e-12
    # every kind of value is really there, not only nulls that agree
    for col in ("market_cap", "net_income_ttm", "short_interest"):
        assert silver[col].drop_nulls().len() > 200, col
    # the splits inside the range were applied to the filing's share count (SPEZ 2:1, HEMR 1:10, QNLQ 1:3)
    for ticker in ("SPEZ", "HEMR", "QNLQ"):
        s = silver.filter(pl.col("ticker") == ticker)["shares_outstanding"].drop_nulls().unique()
        assert s.len() >= 2, ticker


def test_no_value_before_its_acceptance(silver, truth):
    closes = {d: calendar.session_bounds_utc(d)[1] for d in silver["date"].unique()}
    used = silver.filter(pl.col("filing_accepted").is_not_null())
    assert all(a <= closes[d] for a, d in used.select("filing_accepted", "date").iter_rows())
    # filings accepted after a session's close (16:00, 13:00 on half days) show up the next session only
    days = sorted(closes)
    late = []
    fin = in_universe(truth["financials"]).filter(pl.col("timeframe") == "quarterly")
    for ticker, accepted in fin.select("ticker", "acceptance_datetime").iter_rows():
        day = accepted.astimezone(calendar.NY).date()
        if day in closes and accepted > closes[day] and day != days[-1]:
            late.append((ticker, day, days[days.index(day) + 1], accepted))
    assert late, "no filing accepted after the close in range: the test cannot fail"
    for ticker, day, nxt, accepted in late:
        same = silver.filter((pl.col("ticker") == ticker) & (pl.col("date") == day))
        after = silver.filter((pl.col("ticker") == ticker) & (pl.col("date") == nxt))
        assert same["filing_accepted"][0] != accepted and after["filing_accepted"][0] == accepted, (ticker, day)
    # filed on the session but accepted after 17:30 the evening before: usable on the filing date itself
    assert any(a.astimezone(calendar.NY).date() < f for a, f in
               fin.select("acceptance_datetime", "filing_date").iter_rows())


def test_lake_db_joins_silver_stocks_daily_and_fundamentals(run, silver):
    with Lake(run.lake) as lake:
        joined = lake.query("SELECT ticker, date, adj_close, market_cap, short_volume_ratio "
                            "FROM silver_stocks_daily_fundamentals WHERE year = 2024 ORDER BY ticker, date")
    assert joined.height == silver.height
    assert joined["market_cap"].equals(silver["market_cap"]) and joined["adj_close"].null_count() == 0
