"""Minute bars (stocks_minute, options_minute): landing and bronze.

Granularity: one request per (ticker, session) -- `/v2/aggs/ticker/{T}/range/1/minute/{day}/{day}`,
adjusted=false, limit 50,000, every `next_url` page followed -- landed as one immutable gzip file
    landing/<type>/year=YYYY/month=MM/date=YYYY-MM-DD/<ticker>.json.gz   (':' of O: tickers -> '_')
holding the raw pages verbatim (the corporate-actions landing document). A (ticker, session) file is
named after what it holds and written once the session is complete (the range ends at the last
completed session), so a rerun (a new session, an edited script, a forced run) downloads only missing
files. Jobs are per month (a job costs a Python start-up): the month's `_manifest.json` lists its files.

Which tickers: stocks_minute takes, per session, the configured tickers that have a daily bar in the
month's bronze stocks_daily (a list), or the first N such tickers alphabetically (a count). options_minute
takes, per session and per underlying of bronze options_daily (config options.underlyings), the N
(minute.options_per_stock) contracts with a daily bar that session whose strike is nearest the
underlying's close (calls and puts alike; ties by ticker).

Bronze: bronze/<type>/year=YYYY/month=MM/date=YYYY-MM-DD/data.parquet, one file per session (Hive, date
first; the month directory is the job's output), columns ticker, timestamp (UTC, ms), date (the ET session),
session ('pre' | 'regular' | 'post', from the exchange calendar: pre 04:00 ET to the open, regular to the
close -- 13:00 on half days --, post to four hours after the close), open, high, low, close, volume,
vwap, transactions. Rows failing `schema.MinuteBronze` go to quarantine/<type>/year=/month=/
data.parquet with their reason. The month report (reports/validation/<type>/year=YYYY/month=MM.json)
counts each session's regular bars per ticker against the session's minutes (390, 210 on half days):
a stock short of them, or without any bar, FLAGS the session (`flagged_sessions`, `ok: false`).
Options trade in few minutes, so their counts are reported, never flagged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from pathlib import Path

import orjson
import polars as pl

from quantmini import atomic
from quantmini.lake import LakePaths
from quantmini.landing_documents import ClientOptions, land_files

log = logging.getLogger("quantmini.minute")

DTYPES = ("stocks_minute", "options_minute")
RANGE_PATH = "/v2/aggs/ticker/{ticker}/range/1/minute/{day}/{day}"
PAGE_LIMIT = 50_000  # the endpoint's maximum: a session (<= 960 bars) is one page
COLUMNS = ["ticker", "timestamp", "date", "session", "open", "high", "low", "close", "volume", "vwap",
           "transactions"]
BARS_SCHEMA = {"ticker": pl.Utf8, "timestamp": pl.Datetime("ms", "UTC"), "date": pl.Date, "session": pl.Utf8,
               "open": pl.Float64, "high": pl.Float64, "low": pl.Float64, "close": pl.Float64,
               "volume": pl.Float64, "vwap": pl.Float64, "transactions": pl.Int64}
_WIRE = pl.List(pl.Struct({"t": pl.Int64, "o": pl.Float64, "h": pl.Float64, "l": pl.Float64, "c": pl.Float64,
                           "v": pl.Float64, "vw": pl.Float64, "n": pl.Int64}))


# ------------------------------------------------------------------------------------------ selection
def select_stocks(daily: pl.DataFrame, spec: int | list[str]) -> pl.DataFrame:
    """(date, ticker) pairs to land from a month of bronze stocks_daily: see the module docstring."""
    pairs = daily.select("date", "ticker").unique()
    if isinstance(spec, int):
        pairs = pairs.sort("date", "ticker").group_by("date", maintain_order=True).head(spec)
    else:
        pairs = pairs.filter(pl.col("ticker").is_in(list(spec)))
    return pairs.sort("date", "ticker")


def select_options(options_daily: pl.DataFrame, stocks_daily: pl.DataFrame, per_stock: int) -> pl.DataFrame:
    """(date, ticker) option pairs: per session and underlying of bronze options_daily, the `per_stock`
    contracts traded that session whose strike is nearest the underlying's close (module docstring).

    options_daily: date, ticker, underlying, strike; stocks_daily: date, ticker, close.
    """
    closes = stocks_daily.select("date", pl.col("ticker").alias("underlying"), "close")
    cand = options_daily.select("date", "ticker", "underlying", "strike").join(
        closes, on=["date", "underlying"], how="inner")
    return (cand.with_columns((pl.col("strike") - pl.col("close")).abs().alias("_dist"))
            .sort("date", "underlying", "_dist", "ticker")
            .group_by("date", "underlying", maintain_order=True).head(per_stock)
            .select("date", "ticker").sort("date", "ticker"))


# ------------------------------------------------------------------------------------------ landing
def landing_file(lake: LakePaths, dtype: str, day: dt.date, ticker: str) -> Path:
    return (lake.landing_dir(dtype, day.year, day.month) / f"date={day.isoformat()}"
            / f"{ticker.replace(':', '_')}.json.gz")


def request_of(ticker: str, day: dt.date) -> tuple[str, dict[str, str]]:
    return (RANGE_PATH.format(ticker=ticker, day=day.isoformat()),
            {"adjusted": "false", "sort": "asc", "limit": str(PAGE_LIMIT)})


def land_month(dtype: str, lake: LakePaths, year: int, month: int, sessions: list[dt.date],
               pairs: pl.DataFrame, manifest: Path, opts: ClientOptions) -> int:
    """Download the (date, ticker) pairs not landed yet, then write the month's manifest; return how
    many were downloaded now. Each file is written as soon as its pages are in (a failure keeps them)."""
    todo = [(d, t) for d, t in pairs.select("date", "ticker").iter_rows()
            if not landing_file(lake, dtype, d, t).exists()]
    land_files(opts, [(landing_file(lake, dtype, d, t), dtype, [d.isoformat(), d.isoformat()], [request_of(t, d)])
                      for d, t in todo], listing=True)
    files = []
    for d, t in pairs.select("date", "ticker").iter_rows():
        f = landing_file(lake, dtype, d, t)
        data = f.read_bytes()
        files.append({"date": d.isoformat(), "ticker": t, "file": str(f.relative_to(manifest.parent)),
                      "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()})
    doc = {"dtype": dtype, "year": year, "month": month, "sessions": [d.isoformat() for d in sessions],
           "files": files}
    atomic.write_text(manifest, json.dumps(doc, indent=1) + "\n")
    return len(todo)


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


def session_windows(sessions: list[dt.date]) -> pl.DataFrame:
    """Per session: pre start (04:00 ET), open, close (13:00 ET on half days), post end (close + 4 h), UTC."""
    from quantmini import calendar

    rows = []
    for d in sessions:
        o, c = calendar.session_bounds_utc(d)
        pre = dt.datetime(d.year, d.month, d.day, 4, tzinfo=calendar.NY).astimezone(dt.timezone.utc)
        rows.append((d, pre, o, c, c + dt.timedelta(hours=4)))
    ts = pl.Datetime("ms", "UTC")
    return pl.DataFrame(rows, schema={"_expected_session": pl.Date, "_pre": ts, "_open": ts, "_close": ts,
                                      "_post": ts}, orient="row")


def flag_sessions(bars: pl.DataFrame, windows: pl.DataFrame) -> pl.DataFrame:
    """Add `session`: pre / regular / post, or 'outside' the requested session's extended window."""
    t = pl.col("timestamp")
    flag = (pl.when((t >= pl.col("_open")) & (t < pl.col("_close"))).then(pl.lit("regular"))
            .when((t >= pl.col("_pre")) & (t < pl.col("_open"))).then(pl.lit("pre"))
            .when((t >= pl.col("_close")) & (t < pl.col("_post"))).then(pl.lit("post"))
            .otherwise(pl.lit("outside")))
    return (bars.join(windows, on="_expected_session", how="left")
            .with_columns(flag.alias("session")).drop("_pre", "_open", "_close", "_post"))


def session_report(clean: pl.DataFrame, pairs: pl.DataFrame, sessions: list[dt.date], check_counts: bool) -> dict:
    """Per session: expected regular minutes, tickers asked, bars, and (stocks) which tickers fall short."""
    from quantmini import calendar

    counts = (clean.filter(pl.col("session") == "regular").group_by("date", "ticker").len("regular")
              if clean.height else pl.DataFrame(schema={"date": pl.Date, "ticker": pl.Utf8, "regular": pl.UInt32}))
    per = pairs.join(counts, on=["date", "ticker"], how="left").with_columns(pl.col("regular").fill_null(0))
    out, flagged = {}, []
    for day in sessions:
        expected = calendar.regular_minutes(day)
        rows = per.filter(pl.col("date") == day)
        short = rows.filter(pl.col("regular") < expected)
        entry = {"regular_minutes": expected, "tickers": rows.height,
                 "bars": int(clean.filter(pl.col("date") == day).height),
                 "regular_bars": int(rows["regular"].sum())}
        if check_counts:
            entry["incomplete"] = {t: int(n) for t, n in short.select("ticker", "regular").iter_rows()}
            if short.height:
                flagged.append(day.isoformat())
        out[day.isoformat()] = entry
    return {"sessions": out, "flagged_sessions": flagged}


def read_manifest(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def build_bronze_month(dtype: str, manifest: Path, sessions: list[dt.date], extended_hours: bool,
                       out_dir: Path, out_quarantine: Path, out_report: Path) -> dict:
    """The month's session partitions, quarantine and report from the landing files its manifest lists."""
    from quantmini.bronze import CorruptLandingError, read_landing
    from quantmini.datatypes.minute.schema import MinuteBronze
    from quantmini.parquet_io import write_parquet
    from quantmini.validation import validate_rows

    man = read_manifest(manifest)
    frames = []
    for entry in man["files"]:
        path = manifest.parent / entry["file"]
        day = dt.date.fromisoformat(entry["date"])
        try:
            frames.append(parse_landing(read_landing(path), entry["ticker"], day))
        except CorruptLandingError:
            raise
        except Exception as exc:
            raise CorruptLandingError(f"corrupt landing file {path}: {exc}; delete it to download it again") from None
    empty = pl.DataFrame(schema={**{k: v for k, v in BARS_SCHEMA.items() if k != "session"},
                                 "_expected_session": pl.Date})
    bars = pl.concat([empty, *frames], how="vertical") if frames else empty
    bars = flag_sessions(bars, session_windows(sessions))
    clean, quarantine, report = validate_rows(bars, MinuteBronze, sort_by=["ticker", "timestamp"])
    clean = clean.select(COLUMNS)
    pairs = pl.DataFrame([(dt.date.fromisoformat(e["date"]), e["ticker"]) for e in man["files"]],
                         schema={"date": pl.Date, "ticker": pl.Utf8}, orient="row")
    report.update(session_report(clean, pairs, sessions, check_counts=dtype == "stocks_minute"))
    report = {"dtype": dtype, "partition": f"{man['year']:04d}-{man['month']:02d}", **report,
              "sessions_expected": len(sessions),
              "sessions_without_bars": [d.isoformat() for d in sessions
                                        if report["sessions"][d.isoformat()]["bars"] == 0
                                        and report["sessions"][d.isoformat()]["tickers"] > 0],
              "extended_hours": extended_hours}
    report["ok"] = report["rows_quarantined"] == 0 and not report["flagged_sessions"]
    if not extended_hours:
        clean = clean.filter(pl.col("session") == "regular")
    for day in sessions:
        write_parquet(clean.filter(pl.col("date") == day), out_dir / f"date={day.isoformat()}" / "data.parquet")
    write_parquet(quarantine, out_quarantine)
    atomic.write_text(out_report, json.dumps(report, indent=1, sort_keys=True) + "\n")
    if not report["ok"]:
        log.warning("%s %s: %d row(s) quarantined, flagged (incomplete) sessions: %s", dtype,
                    report["partition"], report["rows_quarantined"], report["flagged_sessions"])
    return report


def read_bronze(lake: LakePaths | Path | str, dtype: str) -> pl.DataFrame:
    """Every session partition of a minute type (tests, gold)."""
    root = Path(lake.root if isinstance(lake, LakePaths) else lake) / "bronze" / dtype
    files = sorted(root.glob("year=*/month=*/date=*/data.parquet"))
    if not files:
        return pl.DataFrame(schema=BARS_SCHEMA)
    return pl.concat([pl.read_parquet(f) for f in files]).sort("ticker", "timestamp")
