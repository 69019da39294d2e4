"""Corporate actions (splits, dividends) and reference data (tickers, ticker changes): landing and bronze.

Jobs are per year (one landing and one bronze job per type and year: a job costs a Python start-up
and imports, and these types are sparse); partitions stay per month, like stocks_daily, and a
year's bronze job writes the month partitions of its year that are in range. What a month holds:
- splits / dividends hold the events dated (execution / ex-dividend date) inside the month's window
  [lo, hi]: lo is the month's first day (or the range's first session when the range starts inside
  the month), hi the month's last day once the month is closed (its last XNYS session is in range),
  else the last session in range. A closed month never changes; the current month grows with `end`;
  a weekend-dated event of a closed month is not lost between two months.
- tickers holds the reference snapshot as of the month's last session in range (active AND inactive).
- ticker_changes holds the renames that took effect after the previous snapshot (the session before
  the month's first session) and on or before this month's snapshot. Renames are found per year:
  the securities whose composite FIGI shows more than one ticker across two consecutive snapshots
  (the previous year's last one, then this year's month snapshots), with a changed set of tickers,
  are asked for their events once: one request per renamed security, not one per ticker of the market.

Landing: gzip JSON documents holding every page's raw body verbatim (quantmini.landing_documents);
splits, dividends and tickers: one per month window (landing/<type>/year=YYYY/month=MM/<window>.json.gz);
ticker_changes: one per year and span, plus a digest of the FIGIs asked for (landing/ticker_changes/
year=YYYY/), and for the range's first year the snapshot as of the session before the range. A file is
named after what it holds, so it is immutable: a rerun (forced, or after a code edit) downloads nothing
already landed; when `end` moves on only the current month's window (and the current year's events)
is downloaded again, under a new name. The year's `_manifest.json` lists its files (with sha256); the
bronze job reads only those.

Bronze checks (`schema.py`) are structural: types, required fields, unique ids, dates
inside the window. Whether an event is plausible against the bars is `event_validation`'s job.

pandera, exchange_calendars and the bronze helpers are imported inside the functions that need them, and
the windows come from the rule's params: a landing job then starts in a fraction of the time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from quantmini import atomic
from quantmini.datatypes.corporate_actions.parse import parse_tickers
from quantmini.lake import LakePaths
from quantmini.landing_documents import ClientOptions, Request, land_files

log = logging.getLogger("quantmini.corporate_actions")



DTYPES = ("splits", "dividends", "tickers", "ticker_changes")

PAGE_LIMIT = 1000  # the maximum `limit` of the v3 reference listings

SPLITS_PATH = "/v3/reference/splits"

DIVIDENDS_PATH = "/v3/reference/dividends"

TICKERS_PATH = "/v3/reference/tickers"

EVENTS_PATH = "/vX/reference/tickers/{figi}/events"

DATE_FIELD = {"splits": "execution_date", "dividends": "ex_dividend_date"}

# ------------------------------------------------------------------------------------------ windows
@dataclass(frozen=True)
class Window:
    """What a month partition covers; see the module docstring."""

    lo: dt.date  # first event date of splits/dividends
    hi: dt.date  # last event date of splits/dividends
    first_session: dt.date
    last_session: dt.date  # the tickers snapshot date
    prev_session: dt.date  # the XNYS session before first_session (the previous snapshot)

    @property
    def name(self) -> str:
        return f"{self.lo.isoformat()}_{self.hi.isoformat()}"

    @property
    def year(self) -> int:
        return self.first_session.year

    @property
    def month(self) -> int:
        return self.first_session.month

    @property
    def key(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    def to_params(self) -> dict[str, str]:
        """For a rule's params (computed once by Snakemake, so jobs need not load the calendar)."""
        return {k: getattr(self, k).isoformat() for k in self.__dataclass_fields__}

    @classmethod
    def from_params(cls, params: dict[str, str]) -> Window:
        return cls(**{k: dt.date.fromisoformat(params[k]) for k in cls.__dataclass_fields__})

def month_window(year: int, month: int, sessions: list[dt.date]) -> Window:
    from quantmini import calendar

    if not sessions:
        raise ValueError(f"{year:04d}-{month:02d}: no sessions in range")
    if any((d.year, d.month) != (year, month) for d in sessions):
        raise ValueError(f"{year:04d}-{month:02d}: sessions outside the month: {sessions}")
    first_day = dt.date(year, month, 1)
    last_day = dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)
    all_sessions = calendar.sessions(first_day, last_day)
    first, last = min(sessions), max(sessions)
    prev = calendar.sessions(first - dt.timedelta(days=20), first - dt.timedelta(days=1))[-1]
    return Window(
        lo=first_day if first == all_sessions[0] else first,
        hi=last_day if last == all_sessions[-1] else last,
        first_session=first, last_session=last, prev_session=prev,
    )

def year_windows(year: int, sessions: list[dt.date]) -> list[Window]:
    """The windows of the months of `year` that have sessions in range, in order (a yearly job's months)."""
    if not sessions:
        raise ValueError(f"{year:04d}: no sessions in range")
    if any(d.year != year for d in sessions):
        raise ValueError(f"{year:04d}: sessions outside the year: {sessions}")
    months: dict[int, list[dt.date]] = {}
    for d in sorted(sessions):
        months.setdefault(d.month, []).append(d)
    return [month_window(year, m, days) for m, days in months.items()]

# ------------------------------------------------------------------------------------------ requests
def listing_requests(dtype: str, w: Window, limit: int = PAGE_LIMIT) -> list[Request]:
    """The listings a month of splits, dividends or tickers needs (each followed through all pages)."""
    if dtype in ("splits", "dividends"):
        field = DATE_FIELD[dtype]
        path = SPLITS_PATH if dtype == "splits" else DIVIDENDS_PATH
        return [(path, {f"{field}.gte": w.lo.isoformat(), f"{field}.lte": w.hi.isoformat(),
                        "limit": str(limit)})]
    if dtype == "tickers":
        return snapshot_requests(w.last_session, limit)
    raise ValueError(f"no listing for data type {dtype!r}")

def snapshot_requests(day: dt.date, limit: int = PAGE_LIMIT) -> list[Request]:
    """The whole stocks reference as of `day`: active and inactive tickers are two listings."""
    return [(TICKERS_PATH, {"market": "stocks", "date": day.isoformat(), "active": active, "limit": str(limit)})
            for active in ("true", "false")]

def events_requests(figis: list[str]) -> list[Request]:
    return [(EVENTS_PATH.format(figi=f), {"types": "ticker_change"}) for f in figis]

def _write_manifest(path: Path, dtype: str, year: int, windows: list[Window],
                    files: list[tuple[str, str | None, Path]]) -> None:
    """The year's landing: (kind, month key or None, file) entries with their sha256."""
    entries = []
    for kind, month, f in files:
        data = f.read_bytes()
        entries.append({"kind": kind, "month": month, "file": str(f.relative_to(path.parent)), "bytes": len(data),
                        "sha256": hashlib.sha256(data).hexdigest()})
    doc = {"dtype": dtype, "year": year, "windows": [w.to_params() for w in windows], "files": entries}
    atomic.write_text(path, json.dumps(doc, indent=1) + "\n")

def listing_file(lake: LakePaths, dtype: str, w: Window) -> Path:
    """A month's landing file of splits, dividends (named after the window) or tickers (the snapshot date)."""
    name = f"{w.last_session.isoformat()}.json.gz" if dtype == "tickers" else f"{w.name}.json.gz"
    return lake.landing_file(dtype, w.year, w.month, name)

def land_listing_year(dtype: str, lake: LakePaths, year: int, windows: list[Window], manifest: Path,
                      opts: ClientOptions, limit: int = PAGE_LIMIT) -> int:
    """Land a year of splits, dividends or tickers, one file per month window; download only the windows
    not landed yet (one client session for all); return how many were downloaded now."""
    files = [("listing", w.key, listing_file(lake, dtype, w)) for w in windows]
    todo = [(path, dtype, [w.lo.isoformat(), w.hi.isoformat()], listing_requests(dtype, w, limit))
            for (_, _, path), w in zip(files, windows, strict=True) if not path.exists()]
    land_files(opts, todo, listing=True)
    _write_manifest(manifest, dtype, year, windows, files)
    return len(todo)

def _snapshot_date(df: pl.DataFrame, path: Path, expected: dt.date) -> None:
    dates = df["snapshot_date"].unique().to_list()
    if dates and dates != [expected]:
        raise ValueError(f"tickers snapshot {path} is as of {dates}, expected {expected}")

def land_ticker_changes_year(lake: LakePaths, year: int, windows: list[Window], snapshots: list[Path],
                             previous: Path | None, manifest: Path, opts: ClientOptions,
                             limit: int = PAGE_LIMIT) -> list[str]:
    """Land the ticker-change events of the securities renamed in the year's range; return their FIGIs.

    `snapshots` are this year's bronze tickers month partitions (in month order); `previous` the previous
    year's last one (None for the range's first year: the snapshot as of the session before the range is
    then landed here).
    """
    first = windows[0]
    files: list[tuple[str, str | None, Path]] = []
    if previous is not None:
        opening = pl.read_parquet(previous)
        _snapshot_date(opening, previous, first.prev_session)
    else:
        day = first.prev_session.isoformat()
        path = lake.landing_year_dir("ticker_changes", year) / f"opening_{day}.json.gz"
        if not path.exists():
            land_files(opts, [(path, "tickers", [day, day], snapshot_requests(first.prev_session, limit))], True)
        opening = parse_tickers(_read_landing(path), first.prev_session)
        files.append(("opening_snapshot", None, path))
    if len(snapshots) != len(windows):
        raise ValueError(f"{len(snapshots)} tickers snapshot(s) for {len(windows)} month(s)")
    chain = [opening]
    for path, w in zip(snapshots, windows, strict=True):
        chain.append(pl.read_parquet(path))
        _snapshot_date(chain[-1], path, w.last_session)
    figis = sorted({f for before, after in zip(chain, chain[1:]) for f in rename_candidates(before, after)})
    digest = hashlib.sha256(",".join(figis).encode()).hexdigest()[:12]
    span = [(first.prev_session + dt.timedelta(days=1)).isoformat(), windows[-1].last_session.isoformat()]
    path = lake.landing_year_dir("ticker_changes", year) / f"{span[0]}_{span[1]}-{digest}.json.gz"
    if path.exists():
        log.info("events of %d renamed security(ies) already landed: %s", len(figis), path.name)
    else:
        land_files(opts, [(path, "ticker_changes", span, events_requests(figis))], listing=False)
    files.append(("events", None, path))
    _write_manifest(manifest, "ticker_changes", year, windows, files)
    return figis

def rename_candidates(opening: pl.DataFrame, closing: pl.DataFrame) -> list[str]:
    """FIGIs under more than one ticker across two snapshots whose set of tickers differs between them."""

    def sets(df: pl.DataFrame, name: str) -> pl.DataFrame:
        return (df.filter(pl.col("composite_figi").is_not_null()).group_by("composite_figi")
                .agg(pl.col("ticker").unique().sort().alias(name)))

    both = sets(opening, "o").join(sets(closing, "c"), on="composite_figi", how="full", coalesce=True)
    both = both.with_columns(pl.col("o", "c").fill_null(pl.lit([], pl.List(pl.Utf8))))
    return (both.filter((pl.concat_list("o", "c").list.unique().list.len() > 1) & (pl.col("o") != pl.col("c")))
            ["composite_figi"].sort().to_list())

def _read_landing(path: Path) -> bytes:
    from quantmini.bronze import read_landing

    return read_landing(path)

MonthOutputs = tuple[Path, Path, Path]  # bronze, quarantine, report
