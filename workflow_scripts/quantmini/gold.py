"""Gold: the Qlib provider directory, published from silver (incrementally, byte-identical to a rebuild)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from quantmini import qlib_writer

BASE_FIELDS = ["open", "high", "low", "close", "volume", "vwap", "factor", "change"]


def publish_from_silver(
    silver_files: list[Path], sessions: list[dt.date], provider_dir: Path, *, features: list[str] = (),
) -> qlib_writer.PublishStats:
    """Adjusted bars (and optionally Alpha158 features, lower-case) of every security -> provider_dir."""
    cols = ["security", "date", "adj_open", "adj_high", "adj_low", "adj_close", "adj_volume", "adj_vwap",
            "factor", "change", *features]
    frames = [pl.read_parquet(f, columns=cols) for f in silver_files]
    silver = pl.concat(frames)
    bars = silver.select(
        pl.col("security").str.to_uppercase().alias("symbol"), "date",
        *[pl.col(f"adj_{c}").alias(c) for c in ("open", "high", "low", "close", "volume", "vwap")],
        "factor", "change", *[pl.col(f).alias(f.lower()) for f in features],
    )
    fields = BASE_FIELDS + [f.lower() for f in features]
    return qlib_writer.publish(provider_dir, bars, sessions, fields)
