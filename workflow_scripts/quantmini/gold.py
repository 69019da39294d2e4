"""Gold: the Qlib provider directory, adjusted as of the lake's end, published from silver.

Silver partitions are point in time (factor as of each month's end); here every security's history is
mapped to its latest symbol and back-adjusted with all validated events, so `$close` is the continuous
adjusted close and `$close / $factor` the traded one. The writer is incremental and byte-identical to
a rebuild (see qlib_writer).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from quantmini import adjust, qlib_writer
from quantmini.silver import CHANGE_SCHEMA, EVENT_SCHEMA, RAW, adjusted_bars, read_many

BASE_FIELDS = ["open", "high", "low", "close", "volume", "vwap", "factor", "change"]


def latest_adjusted(silver_files: list[Path], event_files: list[Path], change_files: list[Path],
                    sessions: list[dt.date], features: list[str] = ()) -> pl.DataFrame:
    """All silver bars re-keyed to the latest symbols and adjusted with every event (lake-end factor)."""
    raw = read_many(silver_files).select("ticker", "date", *RAW, "transactions", *features)
    events = read_many(event_files, EVENT_SCHEMA).select(list(EVENT_SCHEMA))
    changes = read_many(change_files, CHANGE_SCHEMA).unique()
    return adjusted_bars(raw, events, adjust.symbol_map(changes), sessions)


def publish(silver_files: list[Path], event_files: list[Path], change_files: list[Path],
            sessions: list[dt.date], provider_dir: Path, *, features: list[str] = ()) -> qlib_writer.PublishStats:
    bars = latest_adjusted(silver_files, event_files, change_files, sessions, list(features))
    frame = bars.select(
        pl.col("security").str.to_uppercase().alias("symbol"), "date",
        *[pl.col(f"adj_{c}").alias(c) for c in RAW], "factor", "change",
        *[pl.col(f).alias(f.lower()) for f in features],
    ).filter(pl.col("close").is_not_null())
    return qlib_writer.publish(provider_dir, frame, sessions, BASE_FIELDS + [f.lower() for f in features])
