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
from pathlib import Path

import polars as pl

from quantmini import atomic
from quantmini.lake import LakePaths
from quantmini.landing_documents import ClientOptions, land_files

DTYPES = ("stocks_minute", "options_minute")

RANGE_PATH = "/v2/aggs/ticker/{ticker}/range/1/minute/{day}/{day}"

PAGE_LIMIT = 50_000  # the endpoint's maximum: a session (<= 960 bars) is one page

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
