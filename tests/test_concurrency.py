"""Readers during a write: two `Lake` (DuckDB) readers hammer a partition while it is rewritten.

Every read must see the old partition or the new one, whole -- never a torn file, a failed read or a
mix. The writer is the lake's own (`parquet_io.write_parquet`: temp file, fsync, rename). Two runs at
once (the workflow lock) are covered by tests/test_cli_cron.py (test_late_vendor_data_..._then_retry_and_overlap_then_noop).
"""

from __future__ import annotations

import shutil
import threading
import time

import polars as pl
from quantmini.lake_db import Lake
from quantmini.parquet_io import write_parquet

# 20 times the repetitions that once let a torn read through in the whole suite (issue 15)
REPS = 800
SQL = ("SELECT count(*) AS n, sum(close) AS s, min(close) AS lo FROM bronze_stocks_daily "
       "WHERE year = 2024 AND month = 1")


def test_two_readers_see_old_or_new_partition_never_a_torn_one(reference_lake, tmp_path):
    root = tmp_path / "lake"
    shutil.copytree(reference_lake.lake / "bronze", root / "bronze")
    part = root / "bronze/stocks_daily/year=2024/month=01/data.parquet"
    old = pl.read_parquet(part)
    # the new content has other rows and other prices: a mix of old and new would match neither
    new = pl.concat([old, old.with_columns(pl.col("ticker") + "X")]).with_columns(pl.col("close") * 2)
    expected = {(old.height, round(old["close"].sum(), 6), old["close"].min()),
                (new.height, round(new["close"].sum(), 6), new["close"].min())}
    stop = threading.Event()
    seen, errors, reads = [], [], [0, 0]

    def reader(k: int) -> None:
        with Lake(root) as lake:
            while not stop.is_set():
                try:
                    n, s, lo = lake.query(SQL).row(0)
                except Exception as exc:  # noqa: BLE001 -- a failed read is the failure being tested
                    errors.append(repr(exc))
                    continue
                seen.append((n, round(s, 6), lo))
                reads[k] += 1

    threads = [threading.Thread(target=reader, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    writes = 0
    t0 = time.monotonic()
    while writes < REPS or min(reads) < REPS:
        write_parquet(new if writes % 2 == 0 else old, part)
        writes += 1
        if time.monotonic() - t0 > 300:
            break
    stop.set()
    for t in threads:
        t.join()
    assert not errors, f"{len(errors)} failed reads, e.g. {errors[:3]}"
    assert min(reads) >= REPS, f"too few reads to prove anything: {reads} during {writes} rewrites"
    assert set(seen) <= expected, f"torn reads: {set(seen) - expected}"
    assert set(seen) == expected, "the readers never saw both versions: the rewrite did not overlap them"
    assert not [p for p in part.parent.iterdir() if p.name != "data.parquet"], "a temporary file was left"
