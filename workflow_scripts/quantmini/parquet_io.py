"""Parquet written the lake's way: ZSTD, statistics for pruning, atomically (temp file, fsync, rename).

Kept apart from bronze/validation so silver and gold jobs do not pay for importing pandera.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from quantmini import atomic

PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 3, "statistics": True}


def write_parquet(df: pl.DataFrame, path: str | Path) -> None:
    with atomic.atomic_path(path) as tmp:
        df.write_parquet(tmp, **PARQUET_OPTIONS)
