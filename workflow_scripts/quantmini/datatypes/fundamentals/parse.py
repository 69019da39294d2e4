"""fundamentals: landing bodies -> typed frames (the vendor's wire shapes and the bronze column types)."""

from __future__ import annotations

import polars as pl

from quantmini.vendor_shapes import acceptance_fallback

STATEMENTS = ("balance_sheet", "income_statement", "cash_flow_statement", "comprehensive_income")

FINANCIALS_SCHEMA = {
    "ticker": pl.Utf8, "cik": pl.Utf8, "statement": pl.Utf8, "field": pl.Utf8, "value": pl.Float64,
    "unit": pl.Utf8, "label": pl.Utf8, "fiscal_period": pl.Utf8, "fiscal_year": pl.Int32, "timeframe": pl.Utf8,
    "start_date": pl.Date, "end_date": pl.Date, "filing_date": pl.Date,
    "acceptance_datetime": pl.Datetime("us", "UTC"),
}

SHORT_INTEREST_SCHEMA = {"ticker": pl.Utf8, "settlement_date": pl.Date, "short_interest": pl.Int64,
                         "avg_daily_volume": pl.Int64, "days_to_cover": pl.Float64}

_VENUES = ["nyse_short_volume", "nyse_short_volume_exempt", "nasdaq_carteret_short_volume",
           "nasdaq_carteret_short_volume_exempt", "nasdaq_chicago_short_volume",
           "nasdaq_chicago_short_volume_exempt", "adf_short_volume", "adf_short_volume_exempt"]

SHORT_VOLUME_SCHEMA = {"ticker": pl.Utf8, "date": pl.Date, "total_volume": pl.Int64, "short_volume": pl.Int64,
                       "exempt_volume": pl.Int64, "non_exempt_volume": pl.Int64, "short_volume_ratio": pl.Float64,
                       **{v: pl.Int64 for v in _VENUES}}

SCHEMAS = {"financials": FINANCIALS_SCHEMA, "short_interest": SHORT_INTEREST_SCHEMA,
           "short_volume": SHORT_VOLUME_SCHEMA}

# ------------------------------------------------------------------------------------------ parsing
def _corrupt(message: str) -> Exception:
    from quantmini.bronze import CorruptLandingError

    return CorruptLandingError(message)

def _date(name: str) -> pl.Expr:
    return pl.col(name).cast(pl.Utf8).str.to_date("%Y-%m-%d", strict=False)

def _accepted(name: str) -> pl.Expr:
    """acceptance_datetime -> UTC: YYYYMMDDHHMMSS in New York time (the spec), or ISO 8601 with Z."""
    text = pl.col(name).cast(pl.Utf8)
    eastern = (text.str.to_datetime("%Y%m%d%H%M%S", strict=False, time_unit="us", time_zone="America/New_York",
                                    ambiguous="earliest").dt.convert_time_zone("UTC"))
    iso = text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.fZ", strict=False, time_zone="UTC", time_unit="us")
    return pl.coalesce(eastern, iso)

def _unparsed(parsers: dict[str, pl.Expr]) -> pl.Expr:
    return pl.concat_str([pl.when(pl.col(c).is_not_null() & e.is_null()).then(pl.lit(c)) for c, e in parsers.items()],
                         separator=",", ignore_nulls=True).alias("_unparsed")

def _field(struct: pl.Expr, dtype: pl.Struct, name: str, cast: pl.DataType) -> pl.Expr:
    if name not in {f.name for f in dtype.fields}:
        return pl.lit(None, cast)
    return struct.struct.field(name).cast(cast, strict=False)

def parse_financials(results: list[dict]) -> pl.DataFrame:
    """Vendor results -> the long table (FINANCIALS_SCHEMA + `_unparsed`): one row per ticker, statement and field."""
    empty = pl.DataFrame(schema={**FINANCIALS_SCHEMA, "_unparsed": pl.Utf8})
    if not results:
        return empty
    try:
        base = pl.DataFrame(results, infer_schema_length=None)
    except Exception as exc:  # noqa: BLE001 -- mixed JSON types the frame cannot hold
        raise _corrupt(f"financials: results do not form a table: {str(exc).splitlines()[0]}") from None
    for col in ("cik", "tickers", "fiscal_period", "fiscal_year", "timeframe", "start_date", "end_date",
                "filing_date", "acceptance_datetime", "financials"):
        if col not in base.columns:
            base = base.with_columns(pl.lit(None).alias(col))
    if base.schema["tickers"] == pl.Null:
        base = base.with_columns(pl.lit(None, pl.List(pl.Utf8)).alias("tickers"))
    ids = ["cik", "tickers", "fiscal_period", "fiscal_year", "timeframe", "start_date", "end_date", "filing_date",
           "acceptance_datetime"]
    fin_type = base.schema["financials"]
    parts = []
    for stmt in STATEMENTS:
        if not isinstance(fin_type, pl.Struct) or stmt not in {f.name for f in fin_type.fields}:
            continue
        s_type = next(f.dtype for f in fin_type.fields if f.name == stmt)
        if not isinstance(s_type, pl.Struct):
            continue
        s = pl.col("financials").struct.field(stmt)
        items = []
        for f in s_type.fields:
            v = s.struct.field(f.name)
            f_type = f.dtype if isinstance(f.dtype, pl.Struct) else pl.Struct({})
            items.append(pl.when(v.is_not_null()).then(pl.struct(
                pl.lit(f.name).alias("field"),
                _field(v, f_type, "value", pl.Float64).alias("value"),
                _field(v, f_type, "value", pl.Utf8).alias("_value_text"),
                _field(v, f_type, "unit", pl.Utf8).alias("unit"),
                _field(v, f_type, "label", pl.Utf8).alias("label"),
            )))
        parts.append(base.select(*ids, pl.lit(stmt).alias("statement"), pl.concat_list(items).alias("_f"))
                     .explode("_f").filter(pl.col("_f").is_not_null()).unnest("_f"))
    if not parts:
        return empty
    no_ticker = pl.col("tickers").is_null() | (pl.col("tickers").list.len() == 0)
    long = (pl.concat(parts)  # a result without tickers keeps one row (ticker null), to be quarantined
            .with_columns(pl.when(no_ticker).then(pl.lit([None], pl.List(pl.Utf8))).otherwise(pl.col("tickers"))
                          .alias("tickers"))
            .explode("tickers").rename({"tickers": "ticker"}))
    parsers = {"start_date": _date("start_date"), "end_date": _date("end_date"), "filing_date": _date("filing_date"),
               "acceptance_datetime": _accepted("acceptance_datetime"),
               "fiscal_year": pl.col("fiscal_year").cast(pl.Utf8).cast(pl.Int32, strict=False)}
    unparsed = pl.concat_str(
        [pl.when(pl.col(c).is_not_null() & e.is_null()).then(pl.lit(c)) for c, e in parsers.items()]
        + [pl.when(pl.col("_value_text").is_not_null() & pl.col("value").is_null()).then(pl.lit("value"))],
        separator=",", ignore_nulls=True).alias("_unparsed")
    long = long.with_columns(pl.col(c).cast(pl.Utf8) for c in ("cik", "fiscal_period", "timeframe"))
    # no acceptance_datetime at all (older responses): the filing date's end of day (quantmini.vendor_shapes)
    absent = pl.col("acceptance_datetime").is_null().alias("_absent")  # absent, not merely unparseable
    return long.with_columns(unparsed, absent).with_columns(**parsers).with_columns(
        pl.when(pl.col("_absent")).then(acceptance_fallback(pl.col("filing_date"))).otherwise(pl.col("acceptance_datetime"))
        .alias("acceptance_datetime")).select(*FINANCIALS_SCHEMA, "_unparsed").cast(FINANCIALS_SCHEMA)

def _flat(results: list[dict], schema: dict, dates: tuple[str, ...]) -> pl.DataFrame:
    """Flat vendor results -> typed columns + `_unparsed` (a number given as text fails its column)."""
    if not results:
        return pl.DataFrame(schema={**schema, "_unparsed": pl.Utf8})
    try:
        raw = pl.DataFrame(results, infer_schema_length=None)
    except Exception as exc:  # noqa: BLE001
        raise _corrupt(f"results do not form a table: {str(exc).splitlines()[0]}") from None
    raw = raw.with_columns(pl.lit(None).alias(c) for c in schema if c not in raw.columns)
    parsers = {c: (_date(c) if c in dates else pl.col(c).cast(t, strict=False)) for c, t in schema.items()}
    return raw.with_columns(_unparsed(parsers)).with_columns(**parsers).select(*schema, "_unparsed").cast(schema)

def parse(table: str, results: list[dict]) -> pl.DataFrame:
    if table == "financials":
        return parse_financials(results)
    if table == "short_interest":
        return _flat(results, SHORT_INTEREST_SCHEMA, ("settlement_date",))
    if table == "short_volume":
        return _flat(results, SHORT_VOLUME_SCHEMA, ("date",))
    raise ValueError(f"unknown fundamentals table {table!r}")
