"""Parquet written the lake's way (ZSTD, statistics for pruning, atomically: temp file, fsync, rename), and
read back with a corrupt file named in one line.

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


class UnreadableFileError(RuntimeError):
    """A lake file that cannot be read back (truncated, corrupt): named, with what to do, in one line."""


def read_parquet_checked(path, columns: list[str] | None = None) -> pl.DataFrame:
    """pl.read_parquet, but a corrupt or truncated file is one line naming it and the fix: deleting it
    makes its job stale, so the next run rebuilds it (bronze from landing, silver from bronze)."""
    try:
        return pl.read_parquet(path, columns=columns)
    except Exception as exc:  # polars raises ComputeError/OSError/... with multi-line messages
        detail = " ".join(str(exc).split())[:200]
        raise UnreadableFileError(f"unreadable Parquet file {path} ({type(exc).__name__}: {detail}); "
                                  "delete it and run again to rebuild it") from None


def read_many(files, schema: dict | None = None, columns: list[str] | None = None) -> pl.DataFrame:
    """The files' rows concatenated; only `columns` are read when given (silver has ~180 columns)."""
    frames = [read_parquet_checked(f, columns) for f in files if Path(f).exists()]
    if frames:
        return pl.concat(frames, how="diagonal_relaxed")
    return pl.DataFrame(schema=schema or {})
