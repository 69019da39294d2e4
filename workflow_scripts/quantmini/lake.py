"""Where every file of the lake lives: one place, so rules, scripts, tests and the CLI agree.

Layout under data_root (Hive-style, date first, so DuckDB and polars prune by year/month):
  landing/<type>/year=YYYY/month=MM/<YYYY-MM-DD>.json.gz   raw API bodies, gzip
  landing/<type>/year=YYYY/month=MM/_manifest.json         what the month's landing holds (rule output)
  landing/<type>/year=YYYY/_manifest.json                  the same for a year (corporate actions: one
                                                           landing job per year; its month files below)
  bronze/<type>/year=YYYY/month=MM/data.parquet            validated rows, ZSTD
  quarantine/<type>/year=YYYY/month=MM/data.parquet        rejected rows with a `reason`
  reports/validation/<type>/year=YYYY/month=MM.json        per-partition validation report
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path


# Types whose month partition holds several tables (file stems) instead of one data.parquet.
MULTI_TABLE = {"news": ("articles", "article_tickers")}


def month_dir(year: int, month: int) -> str:
    return f"year={year:04d}/month={month:02d}"


class LakePaths:
    def __init__(self, root: str | Path):
        self.root = Path(root)

    def landing_dir(self, dtype: str, year: int, month: int) -> Path:
        return self.root / "landing" / dtype / month_dir(year, month)

    def landing_day(self, dtype: str, day: dt.date) -> Path:
        return self.landing_dir(dtype, day.year, day.month) / f"{day.isoformat()}.json.gz"

    def landing_year_dir(self, dtype: str, year: int) -> Path:
        return self.root / "landing" / dtype / f"year={year:04d}"

    def landing_file(self, dtype: str, year: int, month: int, name: str) -> Path:
        """A month's landing file that is not one per day (reference data: one per month and window)."""
        return self.landing_dir(dtype, year, month) / name

    def landing_manifest(self, dtype: str, year: int, month: int) -> Path:
        return self.landing_dir(dtype, year, month) / "_manifest.json"

    def bronze(self, dtype: str, year: int, month: int) -> Path:
        """The month's bronze file (of a type with several tables: its first, e.g. news/articles)."""
        name = MULTI_TABLE[dtype][0] if dtype in MULTI_TABLE else "data"
        return self.root / "bronze" / dtype / month_dir(year, month) / f"{name}.parquet"

    def quarantine(self, dtype: str, year: int, month: int) -> Path:
        return self.root / "quarantine" / dtype / month_dir(year, month) / "data.parquet"

    def validation_report(self, dtype: str, year: int, month: int) -> Path:
        return self.root / "reports" / "validation" / dtype / f"{month_dir(year, month)}.json"

    def bronze_glob(self, dtype: str) -> str:
        return str(self.root / "bronze" / dtype / "year=*" / "month=*" / "data.parquet")
