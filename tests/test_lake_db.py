"""quantmini.lake_db against a lake laid out the workflow's way (LakePaths, write_parquet) from the
simulator's ground truth: answers equal the truth, parameters are bound (an injection is inert), and a
one-month query reads that month's file only (EXPLAIN ANALYZE)."""

from __future__ import annotations

import datetime as dt
import re

import duckdb
import polars as pl
import pytest
from quantmini.lake import LakePaths
from quantmini.lake_db import Lake
from quantmini.parquet_io import write_parquet
from quantmini.sim.market import Market, MarketConfig

BARS = ["ticker", "date", "open", "high", "low", "close", "volume", "vwap", "transactions"]
INJECTION = "A'; DROP TABLE x; --"


@pytest.fixture(scope="module")
def truth():
    return Market(MarketConfig(seed=5, n_tickers=12, start="2024-01-02", end="2024-03-28")).daily_raw() \
        .select(BARS).sort("ticker", "date")


@pytest.fixture(scope="module")
def root(truth, tmp_path_factory):
    root = tmp_path_factory.mktemp("lakedb") / "lake"
    lake = LakePaths(root)
    for (y, m), part in truth.group_by(pl.col("date").dt.year().alias("y"), pl.col("date").dt.month().alias("m")):
        write_parquet(part.sort("ticker", "date"), lake.bronze("stocks_daily", y, m))
        write_parquet(part.head(0).with_columns(reason=pl.lit(None, pl.Utf8)), lake.quarantine("stocks_daily", y, m))
    return root


def files_read(plan: str) -> int:
    m = re.search(r"Total Files Read:\s*(\d+)", plan)
    assert m, plan
    return int(m.group(1))


def test_stocks_daily_equals_truth(root, truth):
    with Lake(root) as lake:
        assert {"bronze_stocks_daily", "quarantine_stocks_daily"} <= set(lake.views)
        tickers = truth["ticker"].unique().sort().to_list()[:3]
        got = lake.stocks_daily(tickers=tickers, start="2024-02-05", end=dt.date(2024, 3, 8))
        assert lake.stocks_daily().equals(truth)
    want = truth.filter(pl.col("ticker").is_in(tickers) & pl.col("date").is_between(dt.date(2024, 2, 5), dt.date(2024, 3, 8)))
    assert got.height > 0 and got.equals(want)


def test_injection_is_inert(root, truth):
    with Lake(root) as lake:
        lake.con.execute("CREATE TABLE x AS SELECT 42 AS answer")
        assert lake.stocks_daily(tickers=[INJECTION]).height == 0
        assert lake.stocks_daily(tickers=INJECTION).height == 0
        assert lake.query("SELECT answer FROM x")["answer"].to_list() == [42]  # x survived
        assert lake.query("SELECT count(*) AS n FROM bronze_stocks_daily")["n"][0] == truth.height
        with pytest.raises(ValueError):
            lake.stocks_daily(start="2024-01-01'; DROP TABLE x; --")
        with pytest.raises(ValueError):
            lake.stocks_daily(layer="bronze_stocks_daily; DROP TABLE x")
        sql, params = lake.stocks_daily_sql(tickers=[INJECTION], start="2024-02-01", end="2024-02-29")
        assert INJECTION not in sql and "DROP" not in sql and [INJECTION] in params


def test_one_month_reads_one_file(root):
    with Lake(root) as lake:
        one = lake.explain_analyze(*lake.stocks_daily_sql(start="2024-02-01", end="2024-02-29"))
        two = lake.explain_analyze(*lake.stocks_daily_sql(start="2024-02-15", end="2024-03-05"))
        every = lake.explain_analyze(*lake.stocks_daily_sql(tickers=["X"]))
    assert (files_read(one), files_read(two), files_read(every)) == (1, 2, 3)


def test_catalog_for_bi_tools(root, truth):
    with Lake(root) as lake:
        path = lake.write_catalog()
        mtime = path.stat().st_mtime_ns
        assert lake.write_catalog() == path and path.stat().st_mtime_ns == mtime  # current: not rewritten
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM bronze_stocks_daily").fetchone()[0] == truth.height
        with pytest.raises(duckdb.Error):
            con.execute("DROP VIEW bronze_stocks_daily")
    finally:
        con.close()
    # a new table appears -> the catalog is rewritten with its view
    write_parquet(pl.DataFrame({"id": ["s1"], "ticker": ["A"]}), LakePaths(root).bronze("splits", 2024, 1))
    with Lake(root) as lake:
        lake.write_catalog()
        status = lake.status()
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM bronze_splits").fetchone()[0] == 1
    finally:
        con.close()
    daily = status.filter((pl.col("layer") == "bronze") & (pl.col("type") == "stocks_daily")).row(0, named=True)
    assert (daily["partitions"], daily["first"], daily["last"], daily["rows"]) == (3, "2024-01", "2024-03", truth.height)
