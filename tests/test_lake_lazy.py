"""`Lake()` reads a table's Parquet footers when a query first names it, not every footer at open
(bench/README.md, lake_open.py): a query of one table neither reads nor is stopped by another table's
corrupt file, and `unreadable` / `files` still check everything."""

from __future__ import annotations

import datetime as dt

import polars as pl
from quantmini.lake_db import Lake
from quantmini.parquet_io import write_parquet


def month(root, layer, table, m, rows):
    path = root / layer / table / f"year=2025/month={m:02d}/data.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_parquet(pl.DataFrame({"ticker": [f"T{i}" for i in range(rows)], "date": [dt.date(2025, m, 2)] * rows,
                                "close": [float(i) for i in range(rows)]}), path)
    return path


def test_a_query_reads_only_the_footers_of_the_tables_it_names(tmp_path):
    for m in (1, 2, 3):
        month(tmp_path, "bronze", "stocks_daily", m, 4)
        month(tmp_path, "silver", "stocks_daily", m, 5)
    bad = tmp_path / "silver" / "stocks_daily" / "year=2025" / "month=02" / "data.parquet"
    bad.write_bytes(b"not parquet at all" * 10)
    with Lake(tmp_path) as lake:
        assert lake.query("SELECT count(*) AS n FROM bronze_stocks_daily")["n"][0] == 12
        assert lake._unreadable == {} and set(lake._files) == {"bronze_stocks_daily"}  # silver not read
        assert lake.query("SELECT count(*) AS n FROM silver_stocks_daily")["n"][0] == 10  # the bad one skipped
        assert list(lake.unreadable) == [str(bad)]
    with Lake(tmp_path) as lake:  # a fresh reader: the properties check every table
        assert set(lake.files) == {"bronze_stocks_daily", "silver_stocks_daily"} and str(bad) in lake.unreadable
    with Lake(tmp_path) as lake:  # no table named: every view is made
        assert lake.query("SELECT 1 AS one")["one"][0] == 1 and str(bad) in lake._unreadable
