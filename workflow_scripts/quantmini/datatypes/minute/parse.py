"""minute: landing bodies -> typed frames (the vendor's wire shapes and the bronze column types)."""

from __future__ import annotations

import datetime as dt

import orjson
import polars as pl

COLUMNS = ["ticker", "timestamp", "date", "session", "open", "high", "low", "close", "volume", "vwap",
           "transactions"]

BARS_SCHEMA = {"ticker": pl.Utf8, "timestamp": pl.Datetime("ms", "UTC"), "date": pl.Date, "session": pl.Utf8,
               "open": pl.Float64, "high": pl.Float64, "low": pl.Float64, "close": pl.Float64,
               "volume": pl.Float64, "vwap": pl.Float64, "transactions": pl.Int64}

_WIRE = pl.List(pl.Struct({"t": pl.Int64, "o": pl.Float64, "h": pl.Float64, "l": pl.Float64, "c": pl.Float64,
                           "v": pl.Float64, "vw": pl.Float64, "n": pl.Int64}))

# ------------------------------------------------------------------------------------------ bronze
def parse_landing(doc: bytes, ticker: str, day: dt.date) -> pl.DataFrame:
    """Every page's results of one landing document -> bars with the requested ticker and session."""
    parsed = orjson.loads(doc)
    results = [r for req in parsed["requests"] for page in req["pages"] for r in (page.get("results") or [])]
    raw = pl.DataFrame({"r": [results]}, schema={"r": _WIRE}).explode("r").unnest("r").drop_nulls("t")
    return raw.select(
        pl.lit(ticker).alias("ticker"),
        pl.col("t").cast(pl.Datetime("ms", "UTC")).alias("timestamp"),
        pl.lit(day).alias("date"),
        pl.col("o").alias("open"), pl.col("h").alias("high"), pl.col("l").alias("low"), pl.col("c").alias("close"),
        pl.col("v").alias("volume"), pl.col("vw").alias("vwap"), pl.col("n").alias("transactions"),
        pl.lit(day).alias("_expected_session"),
    )
