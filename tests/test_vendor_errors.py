"""Vendor errors are quarantined with a reason and reported, never applied silently.

The session's reference lake (conftest.reference_lake) is built from a simulator that also serves
`extra_vendor_errors`: a bar stamped on a non-session and a bar stamped on the wrong session inside
grouped responses, and a true split listed again with a ratio the price jump does not show -- besides
the classic doubtful splits (a duplicate, an absurd ratio, a split the bars do not show). The
reference is the simulator's own list of what it injected (`Market.bar_errors()`, `bogus_splits()`).
"""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from conftest import REFERENCE as R
from quantmini.datatypes.stocks_daily.schema import NOT_A_SESSION, WRONG_SESSION
from quantmini.sim.market import Market, MarketConfig
from workflow_helpers import read_bronze

BARS = ["ticker", "date", "open", "high", "low", "close", "volume", "vwap", "transactions"]
REASON = {"not_a_session": NOT_A_SESSION, "wrong_session": WRONG_SESSION}


@pytest.fixture(scope="module")
def market():
    return market_to(R["market_end"])


def market_to(end) -> Market:
    return Market(MarketConfig(seed=R["seed"], n_tickers=R["tickers"], start=R["start"], end=end,
                               extra_vendor_errors=True))


def in_range(frame: pl.DataFrame, col: str) -> pl.DataFrame:
    first, last = (dt.date.fromisoformat(R[k]) for k in ("start", "end"))
    return frame.filter(pl.col(col).is_between(pl.lit(first), pl.lit(last)))


def test_misdated_bars_are_quarantined_with_their_reason(reference_lake, market):
    injected = in_range(market.bar_errors(), "served_for")
    assert set(injected["kind"]) == set(REASON), "the simulator injected no misdated bar: nothing proven"
    q = pl.concat([pl.read_parquet(f) for f in (reference_lake.lake / "quarantine/stocks_daily").rglob("*.parquet")])
    got = sorted(q.select("ticker", "date", "reason").rows())
    want = sorted((r["ticker"], r["date"], REASON[r["kind"]]) for r in injected.iter_rows(named=True))
    assert got == want
    # ... and no real bar was lost with them: bronze is exactly what the vendor traded
    truth = in_range(market.daily_raw(), "date").select(BARS).sort("ticker", "date")
    bronze = read_bronze(reference_lake.lake)
    assert bronze.equals(truth.cast(bronze.schema))


def test_validation_reports_count_them(reference_lake, market):
    counted = {}
    for f in (reference_lake.lake / "reports/validation/stocks_daily").rglob("*.json"):
        rep = json.loads(f.read_text())
        for reason, n in rep["quarantined_by_reason"].items():
            counted[reason] = counted.get(reason, 0) + n
        assert rep["rows_in"] == rep["rows_valid"] + rep["rows_quarantined"] + rep["exact_duplicates_collapsed"]
    want = in_range(market.bar_errors(), "served_for").group_by("kind").len().rows()
    assert counted == {REASON[k]: n for k, n in want}


def test_doubtful_splits_are_quarantined_reported_and_not_applied(reference_lake, market):
    bogus = in_range(market.bogus_splits(), "execution_date")
    assert {"duplicate", "absurd_ratio", "ratio_mismatch"} <= set(bogus["reason"])  # not_in_bars: in March
    lake = reference_lake.lake
    q = pl.concat([pl.read_parquet(f) for f in (lake / "quarantine/corporate_actions").rglob("*.parquet")])
    key = ["ticker", "execution_date", "split_from", "split_to"]
    got = q.filter(pl.col("event") == "split").select(pl.col("date").alias("execution_date"), "ticker",
                                                        "split_from", "split_to", "code")
    assert got.null_count().row(0) == (0,) * got.width and q["reason"].null_count() == 0
    assert sorted(got.select(*key, "code").rows()) == sorted(bogus.select(*key, "reason").rows())
    mismatch = q.filter(pl.col("code") == "ratio_mismatch")["reason"][0]
    assert "is not explained by a 3-for-1 split" in mismatch and "x0.4" in mismatch
    reports = [json.loads(f.read_text()) for f in (lake / "reports/validation/corporate_actions").rglob("*.json")]
    by_reason = {}
    for rep in reports:
        for k, n in rep["quarantined_by_reason"].items():
            by_reason[k] = by_reason.get(k, 0) + n
    assert by_reason == {f"split:{k}": n for k, n in bogus.group_by("reason").len().rows()}
    # never applied: each silver month's factors are the simulator's true CRSP factors as of its end
    checked = 0
    for f in sorted((lake / "silver/stocks_daily").rglob("data.parquet")):
        part = pl.read_parquet(f)
        truth = market_to(part["date"].max()).daily_adjusted().select("ticker", "date", pl.col("factor").alias("t"))
        got = part.join(truth, on=["ticker", "date"], how="left")
        assert got["t"].null_count() == 0 and (got["factor"] - got["t"]).abs().max() < 1e-9, f
        checked += got.filter(pl.col("factor") != 1.0).height
    assert checked > 0, "no adjusted row: the check proves nothing"
