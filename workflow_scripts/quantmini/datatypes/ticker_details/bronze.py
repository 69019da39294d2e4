"""ticker_details: landed files (checked against their manifest) -> validated bronze partitions, quarantine, reports."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import polars as pl

from quantmini import atomic
from quantmini.datatypes.ticker_details.parse import SCHEMA, parse_details


def build_details_year(year: int, manifest: Path, outputs: list[tuple[Path, Path, Path]]) -> list[dict]:
    """Landing -> the year's validated month snapshots (bronze, quarantine, report), all validated first."""
    from quantmini.bronze import CorruptLandingError, read_landing
    from quantmini.datatypes.ticker_details.schema import TickerDetailsBronze
    from quantmini.parquet_io import write_parquet
    from quantmini.validation import validate_rows

    entries = json.loads(manifest.read_text())["files"]
    if len(entries) != len(outputs):
        raise CorruptLandingError(f"{manifest} lists {len(entries)} month(s), this job writes {len(outputs)} "
                                  "(rerun the landing rule)")
    built = []
    for e in entries:
        path = manifest.parent / e["file"]
        raw = path.read_bytes() if path.exists() else b""
        if hashlib.sha256(raw).hexdigest() != e["sha256"]:
            raise CorruptLandingError(f"landing file {path} is missing or does not match its manifest; "
                                      "delete both to download again")
        snap = dt.date.fromisoformat(e["snapshot_date"])
        rows, missing = parse_details(read_landing(path), snap)
        clean, bad, rep = validate_rows(rows, TickerDetailsBronze, sort_by=["ticker"])
        report = {"dtype": "ticker_details", "partition": e["month"], "snapshot_date": e["snapshot_date"],
                  **rep, "not_found": missing}
        built.append((clean.select(list(SCHEMA)), bad, report))
    for (clean, bad, report), (out_b, out_q, out_r) in zip(built, outputs, strict=True):
        write_parquet(clean, out_b)
        write_parquet(bad, out_q)
        atomic.write_text(out_r, json.dumps(report, indent=1, sort_keys=True) + "\n")
    return [b[-1] for b in built]

# ------------------------------------------------------------------------------------------ universe
def universe_tickers(snapshot: Path, types: list[str], universe) -> list[str]:
    """The tickers of the month's snapshot whose type is one of `types` (within a universe list)."""
    df = pl.read_parquet(snapshot, columns=["ticker", "type"]).filter(pl.col("type").is_in(list(types)))
    keep = df["ticker"].unique().sort().to_list()
    return keep if universe == "all" else [t for t in keep if t in set(universe)]
