"""fundamentals: landed files (checked against their manifest) -> validated bronze partitions, quarantine, reports."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import polars as pl

from quantmini import atomic
from quantmini.datatypes.fundamentals.landing import window_key
from quantmini.datatypes.fundamentals.parse import SCHEMAS, _corrupt, parse
from quantmini.landing_documents import results_list
from quantmini.vendor_shapes import is_fallback

log = logging.getLogger("quantmini.fundamentals")



# ------------------------------------------------------------------------------------------ bronze
def _landed(manifest_doc: dict, root: Path, key: str) -> list[bytes]:
    """The month's chunk files the manifest lists, each checked against its sha256."""
    from quantmini.bronze import read_listed_landing

    return [read_listed_landing(root / e["file"], e["sha256"]) for e in manifest_doc["files"] if e["month"] == key]

def in_universe(df: pl.DataFrame, universe: str | list[str]) -> pl.DataFrame:
    """Rows of the configured universe (a row without a ticker stays, to be quarantined)."""
    if universe == "all":
        return df
    return df.filter(pl.col("ticker").is_in(list(universe)) | pl.col("ticker").is_null())

def build_bronze_year(year: int, windows: list[dict], universe: str | list[str], manifest: Path,
                      outputs: dict[str, tuple[Path, Path, Path]]) -> list[dict]:
    """Landing -> the year's validated month partitions of the three tables (bronze, quarantine, report).

    `outputs`: window key -> (bronze, quarantine, report). Every month is parsed and validated before the
    first file is written, each file atomically.
    """
    from quantmini.bronze import write_parquet
    from quantmini.datatypes.fundamentals.schema import MODELS, SORT_BY
    from quantmini.validation import validate_rows

    doc = json.loads(manifest.read_text())
    if doc.get("windows") != windows:
        raise _corrupt(f"{manifest} is for other windows than this job's (rerun the landing rule)")
    root = manifest.parent.parent.parent  # landing/
    built = []
    for w in windows:
        key = window_key(w)
        if key not in outputs:
            raise ValueError(f"no outputs for {key}")
        rows = pl.concat([parse(w["table"], results_list(d, key)) for d in _landed(doc, root, key)]
                         or [pl.DataFrame(schema={**SCHEMAS[w["table"]], "_unparsed": pl.Utf8})])
        rows = in_universe(rows, universe).with_columns(
            pl.lit(dt.date.fromisoformat(w["lo"])).alias("_lo"), pl.lit(dt.date.fromisoformat(w["hi"])).alias("_hi"))
        clean, quarantine, report = validate_rows(rows, MODELS[w["table"]], sort_by=SORT_BY[w["table"]])
        report = {"dtype": w["table"], "partition": f"{w['year']:04d}-{w['month']:02d}",
                  "window": [w["lo"], w["hi"]], **report}
        if w["table"] == "financials" and (fallback := clean.filter(is_fallback(pl.col("acceptance_datetime"))).height):
            report["acceptance_datetime_fallback"] = fallback  # only then: default reports stay as they were
        built.append((key, clean.select(list(SCHEMAS[w["table"]])), quarantine, report))
    for key, clean, quarantine, report in built:
        out_bronze, out_quarantine, out_report = outputs[key]
        write_parquet(clean, out_bronze)
        write_parquet(quarantine, out_quarantine)
        atomic.write_text(out_report, json.dumps(report, indent=1, sort_keys=True) + "\n")
        if quarantine.height:
            log.warning("%s: %d row(s) quarantined: %s", key, quarantine.height, report["quarantined_by_reason"])
    return [b[-1] for b in built]
