"""corporate_actions: landing bodies -> typed frames (the vendor's wire shapes and the bronze column types)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from quantmini.landing_documents import pages_frame, results_frame
from quantmini.vendor_shapes import fill_content_ids

# ------------------------------------------------------------------------------------------ parsing
_SPLIT_WIRE = pl.Struct({"id": pl.Utf8, "ticker": pl.Utf8, "execution_date": pl.Utf8,
                         "split_from": pl.Float64, "split_to": pl.Float64})

_DIVIDEND_WIRE = pl.Struct({"id": pl.Utf8, "ticker": pl.Utf8, "cash_amount": pl.Float64, "currency": pl.Utf8,
                            "declaration_date": pl.Utf8, "ex_dividend_date": pl.Utf8, "record_date": pl.Utf8,
                            "pay_date": pl.Utf8, "frequency": pl.Int64, "dividend_type": pl.Utf8})

_TICKER_WIRE = pl.Struct({"ticker": pl.Utf8, "name": pl.Utf8, "market": pl.Utf8, "type": pl.Utf8,
                          "active": pl.Boolean, "primary_exchange": pl.Utf8, "composite_figi": pl.Utf8,
                          "cik": pl.Utf8, "delisted_utc": pl.Utf8})

_EVENTS_WIRE = pl.Struct({"composite_figi": pl.Utf8, "events": pl.List(pl.Struct(
    {"type": pl.Utf8, "date": pl.Utf8, "ticker_change": pl.Struct({"ticker": pl.Utf8})}))})

SPLITS_SCHEMA = {"id": pl.Utf8, "ticker": pl.Utf8, "execution_date": pl.Date, "split_from": pl.Float64,
                 "split_to": pl.Float64}

DIVIDENDS_SCHEMA = {"id": pl.Utf8, "ticker": pl.Utf8, "cash_amount": pl.Float64, "currency": pl.Utf8,
                    "declaration_date": pl.Date, "ex_dividend_date": pl.Date, "record_date": pl.Date,
                    "pay_date": pl.Date, "frequency": pl.Int64, "dividend_type": pl.Utf8}

TICKERS_SCHEMA = {"ticker": pl.Utf8, "name": pl.Utf8, "market": pl.Utf8, "type": pl.Utf8, "active": pl.Boolean,
                  "primary_exchange": pl.Utf8, "composite_figi": pl.Utf8, "cik": pl.Utf8,
                  "delisted_utc": pl.Datetime("us", "UTC"), "snapshot_date": pl.Date}

TICKER_CHANGES_SCHEMA = {"composite_figi": pl.Utf8, "date": pl.Date, "old_ticker": pl.Utf8,
                         "new_ticker": pl.Utf8}

def _date(name: str) -> pl.Expr:
    return pl.col(name).str.to_date("%Y-%m-%d", strict=False)

def _utc(name: str) -> pl.Expr:
    return pl.col(name).str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", strict=False, time_zone="UTC", time_unit="us")

def _typed(raw: pl.DataFrame, schema: dict, parsers: dict[str, pl.Expr], **extra: pl.Expr) -> pl.DataFrame:
    """Wire strings -> typed columns, plus `_unparsed`: the fields whose text did not parse (a schema check)."""
    unparsed = pl.concat_str(
        [pl.when(pl.col(c).is_not_null() & e.is_null()).then(pl.lit(c)) for c, e in parsers.items()],
        separator=",", ignore_nulls=True,
    ).alias("_unparsed")
    out = raw.with_columns(unparsed, *[e.alias(c) for c, e in parsers.items()], **extra)
    return out.select(*schema, "_unparsed").cast(schema)

def parse_splits(doc: bytes) -> pl.DataFrame:
    """Splits; a row the vendor sent without `id` gets a content key (quantmini.vendor_shapes)."""
    return fill_content_ids(
        _typed(results_frame(doc, _SPLIT_WIRE, "splits"), SPLITS_SCHEMA, {"execution_date": _date("execution_date")}),
        "splits")

def parse_dividends(doc: bytes) -> pl.DataFrame:
    """Dividends; a row the vendor sent without `id` gets a content key (quantmini.vendor_shapes)."""
    dates = ("declaration_date", "ex_dividend_date", "record_date", "pay_date")
    return fill_content_ids(
        _typed(results_frame(doc, _DIVIDEND_WIRE, "dividends"), DIVIDENDS_SCHEMA, {c: _date(c) for c in dates}),
        "dividends")

def parse_tickers(doc: bytes, snapshot_date: dt.date) -> pl.DataFrame:
    return _typed(results_frame(doc, _TICKER_WIRE, "tickers"), TICKERS_SCHEMA,
                  {"delisted_utc": _utc("delisted_utc")}, snapshot_date=pl.lit(snapshot_date, pl.Date))

def parse_ticker_changes(doc: bytes) -> pl.DataFrame:
    """composite_figi, date, old_ticker, new_ticker: consecutive ticker_change events of each security.

    The FIGI is the one asked for (the path); the vendor's example bodies do not repeat it.
    """
    pages = pages_frame(doc, _EVENTS_WIRE, "ticker_changes").filter(pl.col("results").is_not_null())
    events = (pages.select(pl.col("path").str.extract(r"/tickers/([^/]+)/events", 1).alias("composite_figi"),
                           pl.col("results").struct.field("events"))
              .explode("events").filter(pl.col("events").is_not_null()).unnest("events")
              .filter(pl.col("type") == "ticker_change"))
    if events.is_empty():
        return pl.DataFrame(schema={**TICKER_CHANGES_SCHEMA, "_unparsed": pl.Utf8})
    events = events.select("composite_figi", "date",
                           pl.col("ticker_change").struct.field("ticker").alias("new_ticker"))
    return (_typed(events.with_columns(pl.lit(None, pl.Utf8).alias("old_ticker")), TICKER_CHANGES_SCHEMA,
                   {"date": _date("date")})
            .sort("composite_figi", "date", nulls_last=True)
            .with_columns(pl.col("new_ticker").shift(1).over("composite_figi").alias("old_ticker"))
            .filter(pl.col("old_ticker").is_not_null() & (pl.col("old_ticker") != pl.col("new_ticker"))))

# ------------------------------------------------------------------------------------------ bronze
EMPTY = {"splits": SPLITS_SCHEMA, "dividends": DIVIDENDS_SCHEMA, "tickers": TICKERS_SCHEMA,
         "ticker_changes": TICKER_CHANGES_SCHEMA}
