"""corporate_actions: landed files (checked against their manifest) -> validated bronze partitions, quarantine, reports."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import polars as pl

from quantmini import atomic
from quantmini.datatypes.corporate_actions.landing import MonthOutputs, Window
from quantmini.datatypes.corporate_actions.parse import (
    EMPTY,
    parse_dividends,
    parse_splits,
    parse_ticker_changes,
    parse_tickers,
)

log = logging.getLogger("quantmini.corporate_actions")



def _landed(manifest: Path, kind: str, month: str | None = None) -> bytes:
    """The landing file of `kind` (and month) the manifest lists, checked against its recorded sha256."""
    from quantmini.bronze import CorruptLandingError, read_listed_landing

    doc = json.loads(manifest.read_text())
    entry = next((e for e in doc["files"] if e["kind"] == kind and e.get("month") == month), None)
    if entry is None:
        what = f"{kind} landing file" + (f" for {month}" if month else "")
        raise CorruptLandingError(f"{manifest} lists no {what} (rerun the landing rule)")
    return read_listed_landing(manifest.parent / entry["file"], entry["sha256"])

def load_year(dtype: str, manifest: Path, windows: list[Window]) -> list[tuple[pl.DataFrame, dt.date, dt.date]]:
    """Parse a year's landing into the bronze columns: per month, its rows and the window its dates must be in."""
    from quantmini.bronze import CorruptLandingError

    listed = [Window.from_params(p) for p in json.loads(manifest.read_text()).get("windows", [])]
    if listed != windows:
        raise CorruptLandingError(f"{manifest} is for other month windows than this job's (rerun the landing rule)")
    if dtype == "ticker_changes":
        # the events endpoint returns a security's whole history: each month keeps its own renames; an
        # event without a date goes to the first month (to be quarantined there)
        events = parse_ticker_changes(_landed(manifest, "events"))
        out = []
        for i, w in enumerate(windows):
            lo, hi = w.prev_session + dt.timedelta(days=1), w.last_session
            keep = pl.col("date").is_between(lo, hi) | (pl.col("date").is_null() & pl.lit(i == 0))
            out.append((events.filter(keep), lo, hi))
        return out
    parse = {"splits": parse_splits, "dividends": parse_dividends,
             "tickers": lambda doc, w: parse_tickers(doc, w.last_session)}.get(dtype)
    if parse is None:
        raise ValueError(f"unknown corporate-actions data type {dtype!r}")
    out = []
    for w in windows:
        doc = _landed(manifest, "listing", w.key)
        if dtype == "tickers":
            out.append((parse(doc, w), w.last_session, w.last_session))
        else:
            out.append((parse(doc), w.lo, w.hi))
    return out

def in_universe(dtype: str, df: pl.DataFrame, universe: str | list[str]) -> pl.DataFrame:
    """Rows of the configured universe. Reference data (tickers) stays market-wide: renames are found
    from it. A row without a ticker is kept, to be quarantined rather than dropped unseen."""
    if universe == "all" or dtype == "tickers":
        return df
    names = list(universe)
    if dtype == "ticker_changes":
        cols = [pl.col("old_ticker"), pl.col("new_ticker")]
        return df.filter(pl.any_horizontal(*[c.is_in(names) for c in cols], *[c.is_null() for c in cols]))
    return df.filter(pl.col("ticker").is_in(names) | pl.col("ticker").is_null())

def build_bronze_year(dtype: str, year: int, windows: list[Window], universe: str | list[str], manifest: Path,
                      outputs: list[MonthOutputs]) -> list[dict]:
    """Landing -> the year's validated month partitions (bronze, quarantine with reasons, report each).

    Every month is parsed and validated before the first file is written, each file atomically: bad
    input leaves no new partition behind.
    """
    from quantmini.bronze import write_parquet
    from quantmini.datatypes.corporate_actions.schema import SCHEMAS, SORT_BY
    from quantmini.validation import validate_rows

    if len(outputs) != len(windows) or any(w.year != year for w in windows):
        raise ValueError(f"{year:04d}: {len(outputs)} output month(s) for windows {[w.key for w in windows]}")
    built = []
    for (rows, lo, hi), w in zip(load_year(dtype, manifest, windows), windows, strict=True):
        rows = in_universe(dtype, rows, universe)
        rows = rows.with_columns(pl.lit(lo, pl.Date).alias("_lo"), pl.lit(hi, pl.Date).alias("_hi"))
        clean, quarantine, report = validate_rows(rows, SCHEMAS[dtype], sort_by=SORT_BY[dtype])
        report = {"dtype": dtype, "partition": w.key, "window": [lo.isoformat(), hi.isoformat()], **report}
        built.append((clean.select(list(EMPTY[dtype])), quarantine, report))
    for (clean, quarantine, report), (out_bronze, out_quarantine, out_report) in zip(built, outputs, strict=True):
        write_parquet(clean, out_bronze)
        write_parquet(quarantine, out_quarantine)
        atomic.write_text(out_report, json.dumps(report, indent=1, sort_keys=True) + "\n")
        if quarantine.height:
            log.warning("%s %s: %d row(s) quarantined: %s", dtype, report["partition"], quarantine.height,
                        report["quarantined_by_reason"])
    return [report for *_, report in built]
