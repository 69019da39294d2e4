"""Bronze stocks_daily: a month's landed grouped-daily bodies -> one validated partition (plus quarantine
and report)."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import polars as pl

from quantmini import atomic
from quantmini.bronze import REFETCH, CorruptLandingError, read_landing
from quantmini.datatypes.stocks_daily.parse import BARS_SCHEMA, parse_grouped
from quantmini.datatypes.stocks_daily.schema import validate_partition
from quantmini.lake import LakePaths
from quantmini.parquet_io import write_parquet

log = logging.getLogger("quantmini.bronze")


def load_stocks_daily_month(lake: LakePaths, days: list[dt.date]) -> pl.DataFrame:
    """Parse every landed session of a month into one frame with the session each row was asked for."""
    frames = []
    for day in days:
        path = lake.landing_day("stocks_daily", day)
        try:
            df = parse_grouped(read_landing(path))
        except CorruptLandingError:
            raise
        except Exception as exc:
            raise CorruptLandingError(f"corrupt landing file {path}: {exc}; {REFETCH}") from None
        frames.append(df.with_columns(pl.lit(day).alias("_expected_session")))
    if not frames:
        return pl.DataFrame(schema={**BARS_SCHEMA, "_expected_session": pl.Date})
    return pl.concat(frames, how="diagonal")  # a day with mistyped bars adds `_wire_error` (parse.py)


def build_stocks_daily_month(
    lake: LakePaths, year: int, month: int, days: list[dt.date], universe: str | list[str],
    out_bronze: Path, out_quarantine: Path, out_report: Path,
) -> dict:
    bars = load_stocks_daily_month(lake, days)
    if universe != "all":
        bars = bars.filter(pl.col("ticker").is_in(list(universe)))
    bars = bars.drop("otc") if "otc" in bars.columns else bars
    clean, quarantine, report = validate_partition(bars, days)
    report = {"dtype": "stocks_daily", "partition": f"{year:04d}-{month:02d}", **report}
    write_parquet(clean, out_bronze)
    write_parquet(quarantine, out_quarantine)
    atomic.write_text(out_report, json.dumps(report, indent=1, sort_keys=True) + "\n")
    if report["rows_quarantined"] or not report["ok"]:
        log.warning("stocks_daily %04d-%02d: %d row(s) quarantined, sessions without bars: %s",
                    year, month, report["rows_quarantined"], report["sessions_without_bars"])
    return report
