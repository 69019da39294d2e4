"""Ticker details snapshots (`/v3/reference/tickers/{ticker}?date=`): one per month, and the universe
filter that reads them.

A month's snapshot covers the tickers that traded in the month (those with a bar in the month's landed
grouped-daily bodies, within a configured `universe` list), each as of its last session in the month
that is in range: the month's last session in range for most, the last bar for a ticker delisted or
renamed during the month (the old symbol is unknown to the vendor after the change). One request per
ticker; a 404 (ticker unknown on that date) leaves the ticker out of the snapshot, and the report
lists it.

Landing: one gzip JSON document per month named after the snapshot date
(landing/ticker_details/year=YYYY/month=MM/<date>.json.gz), immutable; a rerun requests only the
months whose snapshot date has no file yet (when `end` moves on: the current month). Jobs are per year,
like corporate actions; the year's `_manifest.json` lists the month files.

Universe filter (`universe_filter: {types: [CS, ...]}`): bronze stocks_daily of month M keeps the
tickers whose type in M's snapshot is one of `types` (point in time: the month's snapshot decides;
a ticker missing from the snapshot is dropped). Everything downstream (silver, gold, news_daily) is
built from bronze stocks_daily, so it follows.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import logging
from pathlib import Path

import orjson
import polars as pl

from quantmini import atomic
from quantmini.lake import LakePaths

log = logging.getLogger("quantmini.ticker_details")

PATH = "/v3/reference/tickers/{ticker}"
DETAILS_WIRE = pl.Struct({
    "ticker": pl.Utf8, "name": pl.Utf8, "type": pl.Utf8, "active": pl.Boolean, "market": pl.Utf8,
    "locale": pl.Utf8, "primary_exchange": pl.Utf8, "currency_name": pl.Utf8, "cik": pl.Utf8,
    "composite_figi": pl.Utf8, "share_class_figi": pl.Utf8, "list_date": pl.Utf8, "market_cap": pl.Float64,
    "share_class_shares_outstanding": pl.Float64, "weighted_shares_outstanding": pl.Float64,
    "sic_code": pl.Utf8, "sic_description": pl.Utf8, "total_employees": pl.Int64, "round_lot": pl.Int64,
})
SCHEMA = {
    "ticker": pl.Utf8, "snapshot_date": pl.Date, "as_of": pl.Date, "name": pl.Utf8, "type": pl.Utf8,
    "active": pl.Boolean, "market": pl.Utf8, "locale": pl.Utf8, "primary_exchange": pl.Utf8,
    "currency_name": pl.Utf8, "cik": pl.Utf8, "composite_figi": pl.Utf8, "share_class_figi": pl.Utf8,
    "list_date": pl.Date, "market_cap": pl.Float64, "share_class_shares_outstanding": pl.Float64,
    "weighted_shares_outstanding": pl.Float64, "sic_code": pl.Utf8, "sic_description": pl.Utf8,
    "total_employees": pl.Int64, "round_lot": pl.Int64,
}


# ------------------------------------------------------------------------------------------ landing
def traded_tickers(lake: LakePaths, sessions: list[dt.date], universe) -> dict[str, dt.date]:
    """ticker -> its last session with a bar among `sessions`, from the landed grouped-daily bodies
    (read with gzip directly: quantmini.bronze would import pandera into a download job)."""
    last: dict[str, dt.date] = {}
    for day in sorted(sessions):
        body = orjson.loads(gzip.decompress(lake.landing_day("stocks_daily", day).read_bytes()))
        for bar in body.get("results") or []:
            t = bar.get("T")
            if t and (universe == "all" or t in universe):
                last[t] = day
    return last


def snapshot_requests(tickers: dict[str, dt.date]) -> list[tuple[str, dict[str, str]]]:
    return [(PATH.format(ticker=t), {"date": d.isoformat()}) for t, d in sorted(tickers.items())]


def land_details_year(lake: LakePaths, year: int, months: list[dict], universe, manifest: Path, opts) -> int:
    """Land the snapshots of the year's months ({year, month, sessions}) not landed yet; write the
    manifest; return how many months were downloaded now."""
    from quantmini.landing_documents import land_files  # the shared "one client, write each file" loop

    files, todo = [], []
    for mo in months:
        sessions = [dt.date.fromisoformat(s) for s in mo["sessions"]]
        snap = max(sessions)
        path = lake.landing_file("ticker_details", mo["year"], mo["month"], f"{snap.isoformat()}.json.gz")
        if not path.exists():
            tickers = traded_tickers(lake, sessions, universe)
            todo.append((path, "ticker_details", [snap.isoformat(), snap.isoformat()], snapshot_requests(tickers)))
        files.append((f"{mo['year']:04d}-{mo['month']:02d}", snap, path))
    land_files(opts, todo, listing=False)
    entries = []
    for key, snap, f in files:
        data = f.read_bytes()
        entries.append({"month": key, "snapshot_date": snap.isoformat(), "file": str(f.relative_to(manifest.parent)),
                        "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    doc = {"dtype": "ticker_details", "year": year, "files": entries}
    atomic.write_text(manifest, json.dumps(doc, indent=1) + "\n")
    return len(todo)


# ------------------------------------------------------------------------------------------ bronze
def parse_details(doc: bytes, snapshot_date: dt.date) -> tuple[pl.DataFrame, list[str]]:
    """A landing document -> (one row per ticker found, typed; the tickers asked for and not found)."""
    from quantmini.bronze import CorruptLandingError

    envelope = pl.Struct({"status": pl.Utf8, "error": pl.Utf8, "message": pl.Utf8, "results": DETAILS_WIRE})
    schema = {"requests": pl.List(pl.Struct({"path": pl.Utf8, "params": pl.Struct({"date": pl.Utf8}),
                                             "pages": pl.List(envelope)}))}
    try:
        raw = pl.read_json(io.BytesIO(doc), schema=schema)
    except Exception as exc:
        raise CorruptLandingError(f"ticker_details: landing document is not the expected JSON: {exc}") from None
    reqs = raw.select(pl.col("requests").explode()).filter(pl.col("requests").is_not_null()).unnest("requests")
    asked = reqs.select(pl.col("path").str.extract(r"/tickers/([^/]+)$", 1).alias("asked"),
                        pl.col("params").struct.field("date").alias("as_of"), "pages")
    pages = asked.explode("pages").filter(pl.col("pages").is_not_null()).unnest("pages")
    bad = pages.filter(pl.col("status").is_not_null() & ~pl.col("status").is_in(["OK", "DELAYED"]))
    if bad.height:
        row = bad.row(0, named=True)
        raise CorruptLandingError(f"ticker_details: the answer for {row['asked']} has status {row['status']}: "
                                  f"{row['error'] or row['message'] or 'no error text'}")
    found = pages.filter(pl.col("results").is_not_null())
    missing = sorted(set(asked["asked"].to_list()) - set(found["asked"].to_list()))
    rows = found.select("as_of", "results").unnest("results").with_columns(
        pl.lit(snapshot_date, pl.Date).alias("snapshot_date"),
        pl.col("as_of").str.to_date("%Y-%m-%d", strict=False),
        pl.col("list_date").str.to_date("%Y-%m-%d", strict=False),
    )
    return rows.select(list(SCHEMA)).cast(SCHEMA), missing


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
