"""Fundamentals: company financials, short interest and short volume — landing and bronze.

One data type (`fundamentals`) builds three tables, each partitioned by month:
- financials by FILING month (`filing_date`), from `/vX/reference/financials?filing_date.gte&.lte`
  (limit 100, the vendor's cap; every page), flattened to a long table: one row per (filing result,
  ticker, statement, field). The months start HISTORY_MONTHS before the lake's first month, so the
  point-in-time silver of the first months has the filings it looks back to.
- short_interest by settlement month, `/stocks/v1/short-interest?settlement_date.gte&.lte`.
- short_volume by session month, `/stocks/v1/short-volume?date.gte&.lte`.

Jobs are per year (one landing and one bronze job for the three tables: a job costs a Python start-up),
partitions per month. A month's window is [lo, hi]: the month's first day (short tables: the range's first
session if the range starts inside the month) to its last day once the month is closed, else the last
session in range.

Landing is immutable and incremental: a month's landing is a chain of chunk files
landing/<table>/year=YYYY/month=MM/<a>_<b>.json.gz, each holding every page of one listing over the days
[a, b] (the raw bodies verbatim: quantmini.landing_documents). A job downloads only the days of the window
no chunk covers yet — when `end` moves on by a session, one request per table (plus its pages) — and a
rerun after a code edit downloads nothing. The year's `_manifest.json` lists the chunks (with sha256);
the bronze job reads only those.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
from pathlib import Path

import polars as pl

from quantmini import atomic
from quantmini.lake import LakePaths
from quantmini.landing_documents import ClientOptions, Request, land_files, results_list
from quantmini.vendor_shapes import acceptance_fallback, is_fallback

log = logging.getLogger("quantmini.fundamentals")

DTYPE = "fundamentals"
TABLES = ("financials", "short_interest", "short_volume")
HISTORY_MONTHS = 15  # financials landed before the range: silver's look-back (four quarters + filing lag)
FIN_LIMIT = 100  # the vendor's maximum for /vX/reference/financials
V1_LIMIT = 50_000  # the maximum of the /stocks/v1 listings
ENDPOINTS = {  # table -> (path, date field filtered on, fixed params)
    "financials": ("/vX/reference/financials", "filing_date",
                   {"sort": "filing_date", "order": "asc", "limit": str(FIN_LIMIT)}),
    "short_interest": ("/stocks/v1/short-interest", "settlement_date",
                       {"sort": "settlement_date.asc", "limit": str(V1_LIMIT)}),
    "short_volume": ("/stocks/v1/short-volume", "date", {"sort": "date.asc", "limit": str(V1_LIMIT)}),
}
STATEMENTS = ("balance_sheet", "income_statement", "cash_flow_statement", "comprehensive_income")
_CHUNK_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})_(\d{4}-\d{2}-\d{2})\.json\.gz$")

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


# ------------------------------------------------------------------------------------------ windows
def _last_day(year: int, month: int) -> dt.date:
    return dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)


def history_months(first: tuple[int, int], n: int = HISTORY_MONTHS) -> list[tuple[int, int]]:
    """The n months before `first`, oldest first."""
    y, m = first
    out = []
    for _ in range(n):
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
        out.append((y, m))
    return out[::-1]


def year_windows(year: int, sessions: dict[tuple[int, int], list[dt.date]],
                 history: list[tuple[int, int]]) -> list[dict]:
    """The windows of `year`: per table and month, {table, year, month, lo, hi} (ISO dates).

    `sessions`: the year's months in range -> their sessions in range; `history`: the financials-only
    months before the range (whole calendar months), given to the job of the range's first year (so
    they cost no job of their own).
    """
    from quantmini.corporate_actions import month_window

    out = []
    for y, m in history:
        out.append({"table": "financials", "year": y, "month": m, "lo": dt.date(y, m, 1).isoformat(),
                    "hi": _last_day(y, m).isoformat()})
    for (y, m), days in sorted(sessions.items()):
        if y != year:
            continue
        w = month_window(y, m, days)
        for table in TABLES:
            lo = dt.date(y, m, 1) if table == "financials" else w.lo
            out.append({"table": table, "year": y, "month": m, "lo": lo.isoformat(), "hi": w.hi.isoformat()})
    return out


def window_key(w: dict) -> str:
    return f"{w['table']}/{w['year']:04d}-{w['month']:02d}"


# ------------------------------------------------------------------------------------------ landing
def chunk_requests(table: str, lo: dt.date, hi: dt.date) -> list[Request]:
    path, field, fixed = ENDPOINTS[table]
    return [(path, {f"{field}.gte": lo.isoformat(), f"{field}.lte": hi.isoformat(), **fixed})]


def chunk_chain(folder: Path, lo: dt.date, hi: dt.date) -> tuple[list[Path], tuple[dt.date, dt.date] | None]:
    """The landed chunks that cover [lo, hi] from lo on without a gap (the longest at each step), and the
    days still missing after them (None when the window is covered)."""
    spans: dict[dt.date, list[tuple[dt.date, Path]]] = {}
    if folder.is_dir():
        for p in folder.iterdir():
            match = _CHUNK_RE.match(p.name)
            if match:
                a, b = (dt.date.fromisoformat(x) for x in match.groups())
                spans.setdefault(a, []).append((b, p))
    chain, cur = [], lo
    while cur <= hi:
        fits = [(b, p) for b, p in spans.get(cur, []) if b <= hi]
        if not fits:
            return chain, (cur, hi)
        b, p = max(fits)
        chain.append(p)
        cur = b + dt.timedelta(days=1)
    return chain, None


def land_year(lake: LakePaths, year: int, windows: list[dict], manifest: Path, opts: ClientOptions) -> int:
    """Land the year's windows, downloading only the days no chunk holds yet (one client for all);
    write the year's manifest; return the number of chunks downloaded now."""
    todo, plan = [], []
    for w in windows:
        lo, hi = dt.date.fromisoformat(w["lo"]), dt.date.fromisoformat(w["hi"])
        folder = lake.landing_dir(w["table"], w["year"], w["month"])
        chain, missing = chunk_chain(folder, lo, hi)
        if missing is not None:
            a, b = missing
            path = folder / f"{a.isoformat()}_{b.isoformat()}.json.gz"
            todo.append((path, w["table"], [a.isoformat(), b.isoformat()], chunk_requests(w["table"], a, b)))
            chain = [*chain, path]
        plan.append((w, chain))
    land_files(opts, todo, listing=True)
    entries, root = [], manifest.parent.parent.parent  # landing/
    for w, chain in plan:
        for f in chain:
            data = f.read_bytes()
            entries.append({"table": w["table"], "month": window_key(w), "file": str(f.relative_to(root)),
                            "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    doc = {"dtype": DTYPE, "year": year, "windows": windows, "files": entries}
    atomic.write_text(manifest, json.dumps(doc, indent=1) + "\n")
    return len(todo)


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
    from quantmini.fundamentals_schemas import MODELS, SORT_BY
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
