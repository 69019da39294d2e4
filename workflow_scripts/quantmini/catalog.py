"""The catalog of data types: what each type lands, which tables it writes at which grain, and how its
completeness is judged -- declared once, read by the rules, `status`, `gaps`, `validate`, the DuckDB
views, the gaps report and the tests, so a reader of the lake always agrees with its writer.

A data type (a name in config `data_types`) lands raw bodies under one or more landing folders, writes one
or more bronze tables (each with its quarantine file) and validation reports, and possibly silver tables.
Paths come from quantmini.lake.LakePaths; this module says which of them a type has for which months.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from quantmini import calendar
from quantmini.lake import LakePaths

# How a type's completeness is judged (beyond "every expected partition exists"):
EVERY_SESSION = "every session"            # a landing file and bars on every session; per ticker, every
#                                            session inside its own span (first to last bar)
LISTING_SPAN = "inside each listing's span"  # contracts trade when they trade: partitions only
SPARSE = "sparse events, no expectation"     # events or snapshots: partitions only, any row count
MINUTE_WINDOW = "minute window"              # a session partition per session of the configured months

HISTORY_MONTHS = 15  # financials are landed from this many months before the range (silver looks back)


@dataclass(frozen=True)
class Table:
    """A table a data type writes: bronze/<name>/.../<stem>.parquet (+ quarantine), or silver/<name>/...

    `grain` is "month" (one file per month partition) or "session" (minute bars: a file per session inside
    the month folder). `history` tables also cover the HISTORY_MONTHS before the range. A `to_date` table's
    month file repeats every earlier month's rows (a job's running input, so a reader declares one file,
    not one per earlier month): it is checked like any table but gets no query view (rows would repeat).
    """

    name: str
    stem: str = "data"
    grain: str = "month"
    history: bool = False
    to_date: bool = False

    @property
    def view(self) -> str:
        """The DuckDB view suffix: the folder, plus the stem where a folder holds several tables."""
        return self.name if self.stem == "data" else f"{self.name}_{self.stem}"


@dataclass(frozen=True)
class Revised:
    """How the vendor revises a type after landing it: what the revision sweep (quantmini.revisions) asks
    again for the last `revision_sessions` sessions, and how it tells rows apart to count them.

    body "grouped": a raw grouped-daily body per session (stocks_daily); "document": a landing document
    (quantmini.landing_documents) whose recorded requests are asked again, for the manifest entries of
    `kinds` (all when empty) whose window meets the revision window. `listing`: follow next_url pages.
    `row_key`: the fields naming a row inside one request (a change of such a row counts as changed,
    not removed and added).
    """

    body: str = "document"
    row_key: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    listing: bool = True


@dataclass(frozen=True)
class DataType:
    name: str
    family: str                      # the package folder whose code builds it
    landing_grain: str               # "month" (a manifest per month) or "year" (a manifest per year)
    bronze: tuple[Table, ...]
    expect: str
    reports: tuple[str, ...] = ()    # report folders (default: one per bronze table)
    silver: tuple[Table, ...] = ()
    landing_dirs: tuple[str, ...] = ()  # folders under landing/ its files live in (default: its name)
    files_relative_to: str = "manifest"  # manifest entries' `file` is relative to the manifest's folder,
    #                                      or to landing/ ("landing") when a type lands into several folders
    requires: tuple[str, ...] = ()   # config keys that must be set when the type is enabled
    window: str | None = None        # config key limiting the type to the range's last N months
    revised: Revised | None = None   # the vendor revises it after landing (None: a landed file is final)

    @property
    def report_dirs(self) -> tuple[str, ...]:
        return self.reports or tuple(dict.fromkeys(t.name for t in self.bronze))

    @property
    def landing_folders(self) -> tuple[str, ...]:
        return self.landing_dirs or (self.name,)

    # ------------------------------------------------------------------ months and files
    def months(self, months: list[tuple[int, int]], cfg: dict | None = None) -> list[tuple[int, int]]:
        """The range's months this type covers (minute types: only the configured last N)."""
        if self.window and cfg is not None:
            n = _get(cfg, self.window)
            return months[-n:] if n else list(months)
        return list(months)

    def table_months(self, table: Table, months: list[tuple[int, int]], cfg: dict | None = None) -> list[tuple[int, int]]:
        own = self.months(months, cfg)
        return (history_months(own[0]) + own) if table.history and own else own

    def landing_manifests(self, lake: LakePaths, months: list[tuple[int, int]], cfg: dict | None = None
                          ) -> list[Path]:
        own = self.months(months, cfg)
        if self.landing_grain == "month":
            return [lake.landing_manifest(self.name, y, m) for y, m in own]
        return [lake.landing_year_manifest(self.name, y) for y in sorted({y for y, _ in own})]

    def manifest_file(self, lake: LakePaths, manifest: Path, entry: dict) -> Path:
        """The landing file a manifest entry names."""
        base = lake.landing_root() if self.files_relative_to == "landing" else manifest.parent
        return base / entry["file"]

    def bronze_files(self, lake: LakePaths, year: int | str, month: int | str) -> list[Path]:
        """The bronze outputs of one month: files, or for session-grain tables the month folder."""
        return [lake.partition_dir("bronze", t.name, year, month) if t.grain == "session"
                else lake.bronze(t.name, year, month, t.stem) for t in self.bronze]

    def quarantine_files(self, lake: LakePaths, year: int | str, month: int | str) -> list[Path]:
        return [lake.quarantine(t.name, year, month, t.stem if t.grain == "month" else "data") for t in self.bronze]

    def report_files(self, lake: LakePaths, year: int | str, month: int | str) -> list[Path]:
        return [lake.validation_report(r, year, month) for r in self.report_dirs]

    def expected_bronze(self, lake: LakePaths, months: list[tuple[int, int]], cfg: dict | None = None
                        ) -> Iterator[tuple[Table, tuple[int, int], Path]]:
        """Every bronze file the range should hold: (table, (year, month), path); session-grain tables
        yield one file per session of the month inside the range."""
        for table in self.bronze:
            for y, m in self.table_months(table, months, cfg):
                if table.grain == "session":
                    for d in _month_sessions(y, m, cfg):
                        yield table, (y, m), lake.bronze_session(table.name, d)
                else:
                    yield table, (y, m), lake.bronze(table.name, y, m, table.stem)

    def expected_silver(self, lake: LakePaths, months: list[tuple[int, int]], cfg: dict | None = None
                        ) -> Iterator[tuple[Table, tuple[int, int], Path]]:
        for table in self.silver:
            for y, m in self.months(months, cfg):
                yield table, (y, m), lake.silver(table.name, y, m, table.stem)


def _get(cfg: dict, dotted: str):
    value = cfg
    for key in dotted.split("."):
        value = (value or {}).get(key)
    return value


def _month_sessions(year: int, month: int, cfg: dict | None) -> list[dt.date]:
    """The sessions of a month inside the configured range (the whole month without a config)."""
    first = dt.date(year, month, 1)
    last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1))
    if cfg is not None and "_start" in cfg:
        first, last = max(first, cfg["_start"]), min(last, cfg["_end"])
    return calendar.sessions(first, last)


def history_months(first: tuple[int, int], n: int = HISTORY_MONTHS) -> list[tuple[int, int]]:
    """The n months before `first`, oldest first."""
    y, m = first
    out = []
    for _ in range(n):
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
        out.append((y, m))
    return out[::-1]


def _corporate(name: str, revised: Revised) -> DataType:
    return DataType(name, "corporate_actions", "year", (Table(name),), SPARSE, revised=revised)


_BARS = Revised(row_key=("t",))  # aggregate bars of one ticker: a bar is named by its start time


CATALOG: dict[str, DataType] = {t.name: t for t in (
    DataType("stocks_daily", "stocks_daily", "month", (Table("stocks_daily"),), EVERY_SESSION,
             silver=(Table("stocks_daily"), Table("corporate_actions", "events"), Table("securities"),
                     Table("corporate_actions", "events_to_date", to_date=True),
                     Table("corporate_actions", "renames_to_date", to_date=True)),
             revised=Revised("grouped", row_key=("T",))),
    _corporate("splits", Revised(row_key=("id",))),
    _corporate("dividends", Revised(row_key=("id",))),
    _corporate("ticker_changes", Revised(kinds=("events",), listing=False)),
    _corporate("tickers", Revised(row_key=("ticker",))),
    DataType("news", "news", "year", (Table("news", "articles"), Table("news", "article_tickers")), SPARSE,
             reports=("news",), silver=(Table("news_daily"),)),
    DataType("ticker_details", "ticker_details", "year", (Table("ticker_details"),), SPARSE),
    DataType("fundamentals", "fundamentals", "year",
             (Table("financials", history=True), Table("short_interest"), Table("short_volume")), SPARSE,
             silver=(Table("fundamentals_daily"),),
             landing_dirs=("fundamentals", "financials", "short_interest", "short_volume"),
             files_relative_to="landing"),
    DataType("stocks_minute", "minute", "month", (Table("stocks_minute", grain="session"),), MINUTE_WINDOW,
             window="minute.months", revised=_BARS),
    DataType("options_daily", "options", "year", (Table("options_daily"), Table("options_contracts")),
             LISTING_SPAN, silver=(Table("options_daily"),), requires=("options.underlyings",),
             revised=Revised(row_key=("t",), kinds=("bars",))),
    DataType("options_minute", "minute", "month", (Table("options_minute", grain="session"),), MINUTE_WINDOW,
             requires=("options.underlyings",), window="minute.months", revised=_BARS),
)}
DATA_TYPES = tuple(CATALOG)

# Silver tables other types' jobs write beside their own (their quarantine and report live with them).
SILVER_SIDE_TABLES = {"corporate_actions": "stocks_daily"}


def data_type(name: str) -> DataType:
    try:
        return CATALOG[name]
    except KeyError:
        raise LookupError(f"unknown data type {name!r} (known: {', '.join(DATA_TYPES)})") from None


def enabled(cfg: dict) -> list[DataType]:
    """The config's data types, in catalog order (the order every reader lists them in)."""
    wanted = set(cfg.get("data_types") or ())
    return [t for t in CATALOG.values() if t.name in wanted]


def revised(cfg: dict) -> list[DataType]:
    """The enabled types the vendor revises (each gets a revision sweep when revision_sessions > 0)."""
    return [t for t in enabled(cfg) if t.revised is not None]


def missing_requirements(cfg: dict) -> list[str]:
    """One line per enabled type whose required config keys are empty (e.g. options without underlyings)."""
    return [f"config: {key}: empty, but data_types has {t.name} (list the {key.rsplit('.', 1)[-1]})"
            for t in enabled(cfg) for key in t.requires if not _get(cfg, key)]


def range_config(cfg: dict, start: dt.date, end: dt.date) -> dict:
    """The config with the resolved range attached (what the session-grain expectations need)."""
    return {**cfg, "_start": start, "_end": end}


def range_months(start: dt.date, end: dt.date) -> list[tuple[int, int]]:
    return list(calendar.month_sessions(start, end))
