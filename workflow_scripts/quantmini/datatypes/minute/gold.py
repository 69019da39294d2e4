"""Gold 1min: stocks_minute published as the Qlib `1min` frequency beside the daily gold.

Same provider directory as the daily publication (<data_root>/gold/qlib):
    calendars/1min.txt              every regular minute of the minute range's sessions, New York wall
                                    time "%Y-%m-%d %H:%M:%S" (09:30:00 .. 15:59:00, 12:59:00 on half days)
    instruments/minute.txt          the minute symbols and their spans (the daily gold owns all.txt)
    features/<sym>/<field>.1min.bin open, high, low, close, volume, vwap (float32; NaN for a minute
                                    without a bar)
Read with `D.features(D.instruments("minute"), ["$close"], freq="1min")`.
Only regular-hours bars are published (Qlib calendars have no session flag). Prices are the raw
(unadjusted) traded ones and the symbols the tickers as traded (the daily gold is back-adjusted and
keyed by each security's latest symbol). Incremental through `qlib_writer.publish`: a new session
appends to every file.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from quantmini import qlib_writer

FREQ = "1min"
MARKET = "minute"
FIELDS = ["open", "high", "low", "close", "volume", "vwap"]


def minute_calendar(sessions: list[dt.date]) -> list[dt.datetime]:
    """The regular minutes of `sessions` as naive New York wall times (a half day closes at 13:00)."""
    from quantmini import calendar

    out = []
    for d in sessions:
        o, c = calendar.session_bounds_utc(d)
        start = o.astimezone(calendar.NY).replace(tzinfo=None)
        out.extend(start + dt.timedelta(minutes=k) for k in range(int((c - o).total_seconds()) // 60))
    return out


def minute_frame(bronze_files: list[Path]) -> pl.DataFrame:
    """Regular bars of the bronze session files as the writer's input (symbol, date = NY wall minute)."""
    if not bronze_files:
        return pl.DataFrame(schema={"symbol": pl.Utf8, "date": pl.Datetime("us"), **{f: pl.Float64 for f in FIELDS}})
    bars = pl.concat([pl.read_parquet(f, columns=["ticker", "timestamp", "session", *FIELDS]) for f in bronze_files])
    return bars.filter(pl.col("session") == "regular").select(
        pl.col("ticker").str.to_uppercase().alias("symbol"),
        pl.col("timestamp").dt.convert_time_zone("America/New_York").dt.replace_time_zone(None)
        .dt.cast_time_unit("us").alias("date"),
        *FIELDS,
    )


def publish(bronze_dirs: list[Path], sessions: list[dt.date], provider_dir: Path) -> qlib_writer.PublishStats:
    files = sorted(f for d in bronze_dirs for f in Path(d).glob("date=*/data.parquet"))
    cal = minute_calendar(sessions)
    return qlib_writer.publish(provider_dir, minute_frame(files), cal, FIELDS, FREQ, market=MARKET)
