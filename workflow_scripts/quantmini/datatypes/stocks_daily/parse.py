"""Stock day bars: grouped-daily and per-ticker range bodies -> one typed polars frame.

Bodies are parsed straight into Arrow with `polars.read_json` and an explicit schema (no per-row
Python objects). A bar's session date is its epoch-ms stamp read in America/New_York: grouped-daily
bars are stamped 16:00 ET and range day bars 00:00 ET, so a UTC date would be right only by luck.
"""

from __future__ import annotations

import io

import polars as pl

NY_TZ = "America/New_York"

BARS_SCHEMA = pl.Schema(
    {
        "ticker": pl.Utf8,
        "date": pl.Date,
        "open": pl.Float64,
        "high": pl.Float64,
        "low": pl.Float64,
        "close": pl.Float64,
        "volume": pl.Float64,
        "vwap": pl.Float64,
        "transactions": pl.Int64,
        "otc": pl.Boolean,
    }
)

# The wire form of one aggregate bar (single-letter keys of the v2 aggs endpoints).
_WIRE_BAR = pl.Struct(
    {
        "T": pl.Utf8,
        "o": pl.Float64,
        "h": pl.Float64,
        "l": pl.Float64,
        "c": pl.Float64,
        "v": pl.Float64,
        "vw": pl.Float64,
        "n": pl.Int64,
        "t": pl.Int64,
        "otc": pl.Boolean,
    }
)
# The envelope: only the keys we read; everything else in the body is ignored.
_WIRE_ENVELOPE = {
    "status": pl.Utf8,
    "error": pl.Utf8,
    "message": pl.Utf8,
    "ticker": pl.Utf8,
    "results": pl.List(_WIRE_BAR),
}
_OK_STATUSES = ("OK", "DELAYED")


class BodyError(ValueError):
    """A response body that is not a successful aggregates envelope (one-line message)."""


def _read_envelope(body: bytes | str, what: str) -> dict:
    if isinstance(body, str):
        body = body.encode()
    try:
        env = pl.read_json(io.BytesIO(body), schema=_WIRE_ENVELOPE)
    except Exception as exc:  # polars raises ComputeError/others on malformed JSON
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BodyError(f"{what}: body is not valid aggregates JSON ({len(body)} bytes): {first}") from None
    if env.height != 1:
        raise BodyError(f"{what}: body is not a single JSON object")
    row = env.select("status", "error", "message", "ticker").row(0, named=True)
    status = row["status"]
    if status is not None and status not in _OK_STATUSES:
        detail = row["error"] or row["message"] or "no error text"
        raise BodyError(f"{what}: response status {status}: {detail}")
    return {"env": env, "ticker": row["ticker"]}


def _bars(env: pl.DataFrame, ticker_expr: pl.Expr) -> pl.DataFrame:
    """Explode the `results` list into BARS_SCHEMA (empty frame when results is absent/null/[])."""
    if not env.get_column("results").list.len()[0]:  # None (absent/null) or 0
        return pl.DataFrame(schema=BARS_SCHEMA)
    out = (
        env.select(pl.col("results").explode())
        .unnest("results")
        .select(
            ticker_expr.alias("ticker"),
            pl.col("t").cast(pl.Datetime("ms", "UTC")).dt.convert_time_zone(NY_TZ).dt.date().alias("date"),
            pl.col("o").alias("open"),
            pl.col("h").alias("high"),
            pl.col("l").alias("low"),
            pl.col("c").alias("close"),
            pl.col("v").alias("volume"),
            pl.col("vw").alias("vwap"),
            pl.col("n").alias("transactions"),
            pl.col("otc").fill_null(False).alias("otc"),
        )
    )
    missing_t = out.get_column("date").null_count()
    if missing_t:
        raise BodyError(f"aggregates body has {missing_t} bars without a timestamp (t)")
    return out


def parse_grouped(body: bytes | str) -> pl.DataFrame:
    """Grouped-daily body (whole market, one session) -> BARS_SCHEMA frame.

    No `results` key or `"results": null` (weekend, holiday, legacy) gives an empty frame; an error
    envelope (status ERROR / NOT_AUTHORIZED / NOT_FOUND) or malformed JSON raises BodyError.
    """
    try:
        parsed = _read_envelope(body, "grouped daily")
    except BodyError:
        lenient = _lenient_grouped(body)  # valid JSON with a mistyped value: those bars, not the day, are bad
        if lenient is None:
            raise
        return lenient
    out = _bars(parsed["env"], pl.col("T"))
    if out.height and out["ticker"].null_count():
        raise BodyError(f"grouped daily: {out['ticker'].null_count()} bars without a ticker (T)")
    return out


# JSON types of the wire bar's keys (bool is not a number, though Python says it is an int)
_WIRE_TYPES = {"T": (str,), "o": (int, float), "h": (int, float), "l": (int, float), "c": (int, float),
               "v": (int, float), "vw": (int, float), "n": (int,), "t": (int,), "otc": (bool,)}
_REQUIRED = ("T", "t")


def _wire_problem(bar) -> str | None:
    if not isinstance(bar, dict):
        return f"wrong JSON type: the bar is a {type(bar).__name__}, not an object"
    bad = [k for k, types in _WIRE_TYPES.items() if bar.get(k) is not None
           and (not isinstance(bar[k], types) or (isinstance(bar[k], bool) and bool not in types))]
    missing = [k for k in _REQUIRED if bar.get(k) is None]
    if bad:
        return "wrong JSON type: " + ", ".join(f"{k} is {type(bar[k]).__name__} {str(bar[k])[:20]!r}" for k in bad)
    if missing:
        return "missing " + ", ".join(missing)
    return None


def _lenient_grouped(body: bytes | str) -> pl.DataFrame | None:
    """A grouped-daily body that is valid JSON but not of the typed wire form: every bar that is well
    typed parses as usual, every other bar is kept (its good fields) with `_wire_error` saying why, for
    quarantine. None when the body is not a JSON object with a results list (really corrupt)."""
    import json

    try:
        doc = json.loads(body)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
        return None
    if doc.get("status") is not None and doc.get("status") not in _OK_STATUSES:
        return None
    rows = []
    for bar in doc["results"]:
        problem = _wire_problem(bar)
        bar = bar if isinstance(bar, dict) else {}
        row = {k: (bar.get(k) if problem is None or (bar.get(k) is not None and isinstance(bar.get(k), t)
                                                      and not (isinstance(bar.get(k), bool) and bool not in t))
                   else None) for k, t in _WIRE_TYPES.items()}
        rows.append({**row, "_wire_error": problem})
    schema = {**dict(_WIRE_BAR.to_schema()), "_wire_error": pl.Utf8}
    wire = pl.DataFrame(rows, schema=schema, orient="row", strict=False)
    return wire.select(
        pl.col("T").alias("ticker"),
        pl.col("t").cast(pl.Datetime("ms", "UTC")).dt.convert_time_zone(NY_TZ).dt.date().alias("date"),
        pl.col("o").alias("open"), pl.col("h").alias("high"), pl.col("l").alias("low"), pl.col("c").alias("close"),
        pl.col("v").alias("volume"), pl.col("vw").alias("vwap"), pl.col("n").alias("transactions"),
        pl.col("otc").fill_null(False).alias("otc"), "_wire_error",
    )


def parse_range(body: bytes | str, ticker: str) -> pl.DataFrame:
    """Range day-bar body for one ticker -> BARS_SCHEMA frame (ticker from the argument).

    Raises BodyError when the body names a different ticker than the one asked for.
    """
    parsed = _read_envelope(body, f"range bars for {ticker}")
    body_ticker = parsed["ticker"]
    if body_ticker is not None and body_ticker != ticker:
        raise BodyError(f"range bars: body is for ticker {body_ticker!r}, expected {ticker!r}")
    return _bars(parsed["env"], pl.lit(ticker, dtype=pl.Utf8))


def parse_range_pages(bodies: list[bytes], ticker: str) -> pl.DataFrame:
    """All pages of one range listing -> one frame, in page order."""
    frames = [parse_range(b, ticker) for b in bodies]
    return pl.concat(frames, how="vertical") if frames else pl.DataFrame(schema=BARS_SCHEMA)
