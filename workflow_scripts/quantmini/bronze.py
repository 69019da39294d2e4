"""Bronze: landing bodies -> parsed, validated, ZSTD Parquet month partitions (plus quarantine, report)."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import logging
import zlib
from pathlib import Path

import polars as pl

from quantmini import atomic
from quantmini.lake import LakePaths
from quantmini.parquet_io import PARQUET_OPTIONS, write_parquet  # noqa: F401 (re-exported)
from quantmini.normalise.stocks_daily import BARS_SCHEMA, parse_grouped
from quantmini.validation import validate_partition

log = logging.getLogger("quantmini.bronze")

# the landing job checks every landed file and downloads missing or corrupt ones again
REFETCH = "run again with `-R landing_stocks_daily` to download it again"


class CorruptLandingError(RuntimeError):
    """A landing file that cannot be read back (truncated gzip, invalid JSON)."""


def read_landing(path: Path) -> bytes:
    try:
        return gzip.decompress(path.read_bytes())
    except FileNotFoundError:
        raise CorruptLandingError(f"landing file missing: {path} ({REFETCH})") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise CorruptLandingError(f"corrupt landing file {path}: {exc}; {REFETCH}") from None


def read_listed_landing(path: Path, sha256: str) -> bytes:
    """A landing file a manifest lists, decompressed, after checking it is the file the manifest recorded."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CorruptLandingError(f"landing file missing: {path} (rerun the landing rule)") from None
    if hashlib.sha256(raw).hexdigest() != sha256:
        raise CorruptLandingError(f"landing file {path} does not match its manifest; delete both to download again")
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CorruptLandingError(f"corrupt landing file {path}: {first}; delete it and its manifest to download "
                                  "again") from None


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
    return pl.concat(frames, how="vertical")


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
