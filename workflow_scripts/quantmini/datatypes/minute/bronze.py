"""minute: landed files (checked against their manifest) -> validated bronze partitions, quarantine, reports."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import polars as pl

from quantmini import atomic
from quantmini.datatypes.minute.parse import BARS_SCHEMA, COLUMNS, parse_landing
from quantmini.lake import LakePaths

log = logging.getLogger("quantmini.minute")



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
    root = (lake if isinstance(lake, LakePaths) else LakePaths(lake)).table_dir("bronze", dtype)
    files = sorted(root.glob("year=*/month=*/date=*/data.parquet"))
    if not files:
        return pl.DataFrame(schema=BARS_SCHEMA)
    return pl.concat([pl.read_parquet(f) for f in files]).sort("ticker", "timestamp")
