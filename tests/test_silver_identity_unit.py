"""identity.py against the simulator's truth, without the workflow (fast).

- cum_factor: the ratio F(T)/F(t) from events of every month up to T is the truth's CRSP factor of the
  market ending at T, for several T (one market, prefix-stable), renames included;
- security_id: the FIGI from the renames or the tickers snapshot, else the assigned id.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from quantmini import adjust
from quantmini.datatypes.stocks_daily import identity
from quantmini.sim.market import Market, MarketConfig

SEED, N, START, END = 7, 20, "2024-01-02", "2024-06-28"


@pytest.fixture(scope="module")
def market():
    return Market(MarketConfig(seed=SEED, n_tickers=N, start=START, end=END))


@pytest.fixture(scope="module")
def lake_like(market):
    figi = market.securities().select("security_id", "composite_figi")
    changes = market.ticker_changes().join(figi, on="security_id").drop("security_id")
    bars = adjust.assign_security(market.daily_raw().drop("security_id"), adjust.symbol_map(changes))
    events = adjust.event_multipliers(
        bars, adjust.assign_security(market.splits().drop("security_id"), adjust.symbol_map(changes),
                                     "execution_date"),
        adjust.assign_security(market.dividends().drop("security_id"), adjust.symbol_map(changes),
                               "ex_dividend_date"))
    cum = identity.cumulative_factors(bars.select("security", "date"), events)
    return bars.join(cum, on=["security", "date"]), changes


@pytest.mark.parametrize("as_of", ["2024-02-15", "2024-03-28", "2024-05-01", END])
def test_cum_factor_ratio_is_the_truth_as_of_any_date(market, lake_like, as_of):
    bars, _ = lake_like
    cut = dt.date.fromisoformat(as_of)
    upto = bars.filter(pl.col("date") <= cut)
    got = upto.with_columns(
        (pl.col("cum_factor").sort_by("date").last().over("security") / pl.col("cum_factor")).alias("f"))
    truth = Market(MarketConfig(seed=SEED, n_tickers=N, start=START, end=as_of)).daily_adjusted()
    j = got.join(truth.select("ticker", "date", "factor"), on=["ticker", "date"])
    assert j.height == truth.height == upto.height
    assert (j["f"] - j["factor"]).abs().max() < 1e-12
    assert j.filter(pl.col("factor") != 1.0).height > 0, "no adjusted row: the check would prove nothing"


def test_security_id_is_the_figi_else_assigned(market, lake_like):
    bars, changes = lake_like
    snap = market.securities().select(pl.col("current_ticker").alias("ticker"), "composite_figi",
                                      pl.lit(dt.date.fromisoformat(END)).alias("snapshot_date"))
    ids = identity.security_ids(bars, changes, snap)
    truth = (market.daily_raw().join(market.securities(), on="security_id")
             .select("ticker", "date", "composite_figi"))
    j = bars.join(ids, on="security").join(truth, on=["ticker", "date"], suffix="_t")
    assert j.height == bars.height and (j["security_id"] == j["composite_figi_t"]).all()
    assert set(ids["id_source"]) <= {"ticker_changes", "tickers"} and "ticker_changes" in set(ids["id_source"])
    # no FIGI anywhere (hence no known rename): the id assigned from the security's symbol
    bare = identity.security_ids(bars, changes.clear(), pl.DataFrame())
    assert (bare["security_id"] == "QM:" + bare["security"]).all() and set(bare["id_source"]) == {"assigned"}
