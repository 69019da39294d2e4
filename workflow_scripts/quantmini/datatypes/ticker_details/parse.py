"""ticker_details: landing bodies -> typed frames (the vendor's wire shapes and the bronze column types)."""

from __future__ import annotations

import datetime as dt
import io

import polars as pl

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
