"""Where every file of the lake lives: the one place a lake path is spelled.

Layout under data_root (Hive-style, date first, so DuckDB and polars prune by year/month):
  landing/<type>/year=YYYY/month=MM/_manifest.json      a month's landing (one file per session or ticker)
  landing/<type>/year=YYYY/_manifest.json               a year's landing (month windows under it)
  bronze/<table>/year=YYYY/month=MM/<stem>.parquet      validated rows, ZSTD (minute: .../date=D/data.parquet)
  quarantine/<table>/year=YYYY/month=MM/<stem>.parquet  rejected rows with a `reason`
  reports/validation/<table>/year=YYYY/month=MM.json    per-partition validation report
  silver/<table>/year=YYYY/month=MM/<stem>.parquet      adjusted, enriched
  gold/qlib/                                           the Qlib provider directory
Which tables a data type has, and at which grain, is declared in quantmini.catalog.

Every method takes a year and month as numbers, or as Snakemake wildcards ("{year}", "{month}"), so rules
and readers build their paths from the same code.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

MANIFEST = "_manifest.json"
LAYERS = ("landing", "bronze", "silver", "quarantine")


def _year(year: int | str) -> str:
    return f"year={year:04d}" if isinstance(year, int) else f"year={year}"


def month_dir(year: int | str, month: int | str) -> str:
    """`year=YYYY/month=MM` (or the wildcard form `year={year}/month={month}`)."""
    return f"{_year(year)}/month={month:02d}" if isinstance(month, int) else f"{_year(year)}/month={month}"


def session_dir(day: dt.date) -> str:
    return f"date={day.isoformat()}"


class LakePaths:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    # ------------------------------------------------------------------ plan (quantmini/session_plans.py)
    def session_plan(self, year: int | str, month: int | str) -> Path:
        """The month's expected XNYS sessions under the config's range: an input of every landing job."""
        return self.root / "plan" / month_dir(year, month) / "sessions.json"

    def setting_plan(self, name: str) -> Path:
        """A config setting that decides what partitions hold (e.g. the universe): an input of the jobs
        whose output it changes (rules/common.smk `setting`)."""
        return self.root / "plan" / "settings" / f"{name}.json"

    # ------------------------------------------------------------------ landing
    def landing_root(self) -> Path:
        return self.root / "landing"

    def landing_dir(self, dtype: str, year: int | str, month: int | str) -> Path:
        return self.root / "landing" / dtype / month_dir(year, month)

    def landing_folder(self, folder: str) -> Path:
        """A landing folder of a data type (catalog: `DataType.landing_folders`)."""
        return self.root / "landing" / folder

    def landing_day(self, dtype: str, day: dt.date) -> Path:
        return self.landing_dir(dtype, day.year, day.month) / f"{day.isoformat()}.json.gz"

    def landing_session_dir(self, dtype: str, day: dt.date) -> Path:
        """A session's folder of per-ticker files (minute bars)."""
        return self.landing_dir(dtype, day.year, day.month) / session_dir(day)

    def landing_year_dir(self, dtype: str, year: int | str) -> Path:
        return self.root / "landing" / dtype / _year(year)

    def landing_file(self, dtype: str, year: int, month: int, name: str) -> Path:
        """A month's landing file that is not one per day (reference data: one per month and window)."""
        return self.landing_dir(dtype, year, month) / name

    def landing_manifest(self, dtype: str, year: int | str, month: int | str) -> Path:
        return self.landing_dir(dtype, year, month) / MANIFEST

    def landing_year_manifest(self, dtype: str, year: int | str) -> Path:
        return self.landing_year_dir(dtype, year) / MANIFEST

    # ------------------------------------------------------------------ bronze, quarantine, reports, silver
    def table_dir(self, layer: str, table: str) -> Path:
        return self.root / layer / table

    def partition_dir(self, layer: str, table: str, year: int | str, month: int | str) -> Path:
        return self.root / layer / table / month_dir(year, month)

    def bronze(self, table: str, year: int | str, month: int | str, stem: str = "data") -> Path:
        return self.partition_dir("bronze", table, year, month) / f"{stem}.parquet"

    def bronze_session(self, table: str, day: dt.date) -> Path:
        """A session partition inside a month (minute bars)."""
        return self.partition_dir("bronze", table, day.year, day.month) / session_dir(day) / "data.parquet"

    def quarantine(self, table: str, year: int | str, month: int | str, stem: str = "data") -> Path:
        return self.partition_dir("quarantine", table, year, month) / f"{stem}.parquet"

    def validation_reports_dir(self, table: str) -> Path:
        return self.root / "reports" / "validation" / table

    def validation_report(self, table: str, year: int | str, month: int | str) -> Path:
        return self.root / "reports" / "validation" / table / f"{month_dir(year, month)}.json"

    def silver(self, table: str, year: int | str, month: int | str, stem: str = "data") -> Path:
        return self.partition_dir("silver", table, year, month) / f"{stem}.parquet"

    # ------------------------------------------------------------------ gold, reports, logs
    def gold_dir(self) -> Path:
        return self.root / "gold" / "qlib"

    def gold_calendar(self, freq: str = "day") -> Path:
        return self.gold_dir() / "calendars" / f"{freq}.txt"

    def gold_stamp(self, freq: str = "day") -> Path:
        return self.gold_dir() / (".published.json" if freq == "day" else f".published_{freq}.json")

    def gold_state(self) -> Path:
        """What the incremental publish of the daily provider knows about it (datatypes/stocks_daily/gold.py)."""
        return self.gold_dir() / ".publish_state.json"

    def gaps_dir(self) -> Path:
        return self.root / "reports" / "gaps"

    def revisions_dir(self) -> Path:
        return self.root / "reports" / "revisions"

    def revision_report(self, dtype: str, end: str) -> Path:
        """What the revision sweep of a range ending at `end` checked and replaced."""
        return self.revisions_dir() / dtype / f"{end}.json"

    def revision_stamp(self, dtype: str, year: int | str, month: int | str) -> Path:
        """Touched when a revision replaced landing of the type's month: an input of the jobs that read that
        month as `ancient` (their per-year producers rewrite closed months unchanged), so they rebuild."""
        return self.revisions_dir() / dtype / "stamps" / f"{month_dir(year, month)}.stamp"

    @staticmethod
    def landing_revision(folder: Path, relative: str, replaced_at: dt.datetime) -> Path:
        """Where the revision sweep keeps a replaced landing file: `folder` (its manifest's) /revisions/,
        same relative path, the replacement time (UTC) before `.json.gz`."""
        name = relative[: -len(".json.gz")] if relative.endswith(".json.gz") else relative
        return folder / "revisions" / f"{name}.{replaced_at:%Y%m%dT%H%M%SZ}.json.gz"

    def range_stamp(self, name: str) -> Path:
        """A job set's record of the months it covers (see rules/common.smk `range_stamp`): rewritten when
        that set changes, so the jobs reading it rerun in the same run."""
        return self.root / "reports" / "ranges" / f"{name}.json"

    def accepted_dir(self) -> Path:
        """Accepted exceptions (`quantmini accept`): one JSON file per accepted flag, with who and why."""
        return self.root / "reports" / "accepted"

    def universe_record(self) -> Path:
        return self.root / "reports" / "universe.json"

    def logs_dir(self) -> Path:
        return self.root / "logs"

    def log(self, rule: str, unit: str | None = None) -> Path:
        return self.root / "logs" / (f"{rule}/{unit}.log" if unit else f"{rule}.log")

    def benchmark(self, rule: str, unit: str | None = None) -> Path:
        return self.root / "benchmarks" / (f"{rule}/{unit}.tsv" if unit else f"{rule}.tsv")


class RulePaths:
    """LakePaths for Snakemake rules and the CLI's targets: the same paths, as the strings Snakemake
    matches (wildcards such as "{year}" pass through), from the same methods."""

    def __init__(self, root: str | Path):
        self.paths = LakePaths(root)
        self._made: dict = {}

    def __getattr__(self, name: str):
        """The method as a string-returning function, kept on the instance with its answers: input
        functions ask for the same few thousand paths again and again while Snakemake builds its DAG."""
        method = getattr(self.paths, name)
        made = self._made

        def as_string(*args, **kwargs) -> str:
            key = (name, args, tuple(kwargs.items()))
            try:
                return made[key]
            except KeyError:
                made[key] = path = str(method(*args, **kwargs))
                return path
            except TypeError:  # an unhashable argument: no memo
                return str(method(*args, **kwargs))

        setattr(self, name, as_string)
        return as_string


MONTH_WILDCARDS = month_dir("{year}", "{month}")  # a rule's month partition: year={year}/month={month}
