"""Completeness of the lake against the XNYS calendar: what is missing, where, and what to rebuild.

A ticker is expected on every session from its first to its last bar in the range (its own listed
span), so an IPO inside the range, a delisting or a ticker change is never a gap; a session inside the
span without a bar is. The range's sessions, landing files and month partitions are checked against
the calendar; a session or month with clearly fewer rows than the ones before it is "thin" (rows dropped
upstream). Quarantined rows are listed with their reason: a quarantined bar also leaves a ticker gap.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from quantmini import calendar
from quantmini.lake import LakePaths

DAILY = "stocks_daily"
THIN_RATIO = 0.8          # fewer rows than this fraction of the baseline is "thin"
SESSION_BASELINE = 20     # baseline of a session: median rows of the previous 20 sessions with bars
MONTH_BASELINE = 3        # baseline of a month: median rows per session of the previous 3 months


def _empty(schema: dict) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


@dataclass
class Gaps:
    root: Path
    start: dt.date
    end: dt.date
    types: list[str]
    missing_partitions: pl.DataFrame   # layer, type, partition (YYYY-MM), path
    missing_landing: pl.DataFrame      # type, date: a session whose landing file is absent
    missing_sessions: pl.DataFrame     # date: a session without any bar in bronze
    ticker_gaps: pl.DataFrame          # ticker, date: a session inside the ticker's span without its bar
    thin: pl.DataFrame                 # level (session|month), key, rows, baseline
    quarantine: pl.DataFrame           # type, partition, reason, rows
    rows_per_session: pl.DataFrame     # date, rows
    spans: pl.DataFrame                # ticker, first, last, bars, expected

    @property
    def complete(self) -> bool:
        return not any(f.height for f in (self.missing_partitions, self.missing_landing, self.missing_sessions,
                                          self.ticker_gaps, self.thin))

    def ticker_gap_ranges(self) -> pl.DataFrame:
        """Ticker gaps as runs of consecutive sessions: ticker, first, last, sessions."""
        if not self.ticker_gaps.height:
            return _empty({"ticker": pl.Utf8, "first": pl.Date, "last": pl.Date, "sessions": pl.UInt32})
        idx = self.rows_per_session.select("date").with_row_index("i")
        return (
            self.ticker_gaps.join(idx, on="date").sort("ticker", "date")
            .with_columns(run=(pl.col("i") - pl.col("i").shift(1).over("ticker") != 1).fill_null(True).cum_sum())
            .group_by("ticker", "run", maintain_order=True)
            .agg(first=pl.col("date").min(), last=pl.col("date").max(), sessions=pl.len())
            .drop("run")
        )

    def months_to_repair(self) -> dict[str, list[tuple[int, int]]]:
        """Per type, the (year, month) partitions a backfill must land again and rebuild."""
        out: dict[str, set] = {}
        for row in self.missing_partitions.iter_rows(named=True):
            y, m = map(int, row["partition"].split("-"))
            out.setdefault(row["type"], set()).add((y, m))
        dates = pl.concat([
            self.missing_landing.select("date"), self.missing_sessions.select("date"),
            self.ticker_gaps.select("date"),
            self.thin.filter(pl.col("level") == "session").select(pl.col("key").str.to_date().alias("date")),
        ])
        for d in dates["date"].to_list():
            out.setdefault(DAILY, set()).add((d.year, d.month))
        for key in self.thin.filter(pl.col("level") == "month")["key"].to_list():
            out.setdefault(DAILY, set()).add(tuple(map(int, key.split("-"))))
        return {t: sorted(v) for t, v in sorted(out.items())}

    def counts(self) -> dict[str, int]:
        return {
            "missing_partitions": self.missing_partitions.height,
            "missing_landing_files": self.missing_landing.height,
            "missing_sessions": self.missing_sessions.height,
            "ticker_gaps": self.ticker_gaps.height,
            "tickers_with_gaps": self.ticker_gaps["ticker"].n_unique(),
            "thin_partitions": self.thin.height,
            "quarantined_rows": int(self.quarantine["rows"].sum()) if self.quarantine.height else 0,
        }


def _read(files: list[Path], columns: list[str]) -> pl.DataFrame | None:
    files = [f for f in files if f.exists()]
    if not files:
        return None
    return pl.concat([pl.read_parquet(f, columns=columns) for f in files])


def _missing_partitions(lake: LakePaths, types: list[str], months: list[tuple[int, int]]) -> pl.DataFrame:
    rows = []
    for dtype in types:
        for y, m in months:
            checks = [("bronze", lake.bronze(dtype, y, m))]
            if dtype == DAILY:  # reference types land per request window, not per month: bronze tells
                checks.insert(0, ("landing", lake.landing_manifest(dtype, y, m)))
            if dtype == DAILY and (lake.root / "silver" / DAILY).is_dir():
                checks.append(("silver", lake.root / "silver" / DAILY / f"year={y:04d}" / f"month={m:02d}" / "data.parquet"))
            rows += [(layer, dtype, f"{y:04d}-{m:02d}", str(p)) for layer, p in checks if not p.exists()]
    return pl.DataFrame(rows, schema={"layer": pl.Utf8, "type": pl.Utf8, "partition": pl.Utf8, "path": pl.Utf8},
                        orient="row")


def _thin(rows: pl.DataFrame, ratio: float) -> pl.DataFrame:
    """Sessions and months with fewer rows than `ratio` x the median of the ones before them."""
    per_session = (
        rows.filter(pl.col("rows") > 0)
        .with_columns(baseline=pl.col("rows").cast(pl.Float64).shift(1)
                      .rolling_median(SESSION_BASELINE, min_samples=5))
        .filter(pl.col("rows") < ratio * pl.col("baseline"))
        .select(pl.lit("session").alias("level"), pl.col("date").cast(pl.Utf8).alias("key"),
                pl.col("rows").cast(pl.Float64), "baseline")
    )
    per_month = (
        rows.group_by(pl.col("date").dt.strftime("%Y-%m").alias("key"), maintain_order=True)
        .agg(rows=pl.col("rows").mean())
        .with_columns(baseline=pl.col("rows").shift(1).rolling_median(MONTH_BASELINE, min_samples=1))
        .filter(pl.col("rows") < ratio * pl.col("baseline"))
        .select(pl.lit("month").alias("level"), "key", "rows", "baseline")
    )
    return pl.concat([per_session, per_month])


def _quarantine(root: Path) -> pl.DataFrame:
    rows = []
    for f in sorted((root / "quarantine").glob("*/year=*/month=*/data.parquet")):
        df = pl.read_parquet(f)
        if df.height and "reason" in df.columns:
            part = f"{f.parent.parent.name[5:]}-{f.parent.name[6:]}"
            for reason, n in df.group_by("reason").len().sort("reason").iter_rows():
                rows.append((f.parent.parent.parent.name, part, reason, n))
    return pl.DataFrame(rows, schema={"type": pl.Utf8, "partition": pl.Utf8, "reason": pl.Utf8, "rows": pl.Int64},
                        orient="row")


def find_gaps(root: str | Path, start: dt.date, end: dt.date, types: list[str] = (DAILY,),
              thin_ratio: float = THIN_RATIO) -> Gaps:
    """Everything missing from the lake at `root` for the XNYS sessions in [start, end]."""
    lake = LakePaths(Path(root))
    by_month = calendar.month_sessions(start, end)
    sessions = pl.DataFrame({"date": calendar.sessions(start, end)}, schema={"date": pl.Date}).with_row_index("i")
    types = list(types)
    missing_landing = _empty({"type": pl.Utf8, "date": pl.Date})
    bars = _empty({"ticker": pl.Utf8, "date": pl.Date})
    if DAILY in types:
        days = sessions["date"].to_list()
        missing_landing = pl.DataFrame(
            {"type": DAILY, "date": [d for d in days if not lake.landing_day(DAILY, d).exists()]},
            schema={"type": pl.Utf8, "date": pl.Date})
        read = _read([lake.bronze(DAILY, y, m) for y, m in by_month], ["ticker", "date"])
        if read is not None:
            bars = read.filter(pl.col("date").is_between(start, end))

    bars_i = bars.join(sessions, on="date", how="inner")
    rows = sessions.join(bars.group_by("date").len("rows"), on="date", how="left").with_columns(
        pl.col("rows").fill_null(0).cast(pl.Int64)).select("date", "rows")
    missing_sessions = rows.filter(pl.col("rows") == 0).select("date") if DAILY in types else _empty({"date": pl.Date})

    spans = bars_i.group_by("ticker").agg(first_i=pl.col("i").min(), last_i=pl.col("i").max(), bars=pl.len())
    spans = spans.with_columns(expected=(pl.col("last_i") - pl.col("first_i") + 1).cast(pl.UInt32))
    holes = (
        spans.filter(pl.col("bars") < pl.col("expected"))
        .select("ticker", i=pl.int_ranges(pl.col("first_i"), pl.col("last_i") + 1, dtype=pl.UInt32))
        .explode("i")
        .join(bars_i.select("ticker", "i"), on=["ticker", "i"], how="anti")
        .join(sessions, on="i")
        .join(missing_sessions, on="date", how="anti")  # reported once, as a missing session
        .select("ticker", "date").sort("ticker", "date")
    )
    dates = sessions.select("i", "date")
    spans = (spans.join(dates.rename({"i": "first_i", "date": "first"}), on="first_i")
             .join(dates.rename({"i": "last_i", "date": "last"}), on="last_i")
             .select("ticker", "first", "last", "bars", "expected").sort("ticker"))
    return Gaps(
        root=lake.root, start=start, end=end, types=types,
        missing_partitions=_missing_partitions(lake, types, list(by_month)),
        missing_landing=missing_landing, missing_sessions=missing_sessions, ticker_gaps=holes,
        thin=_thin(rows, thin_ratio) if DAILY in types and bars.height else
        _empty({"level": pl.Utf8, "key": pl.Utf8, "rows": pl.Float64, "baseline": pl.Float64}),
        quarantine=_quarantine(lake.root), rows_per_session=rows, spans=spans,
    )


def check_lake(root: str | Path) -> tuple[pl.DataFrame, list[str]]:
    """Validation reports, and bronze checked against them: each partition has a report whose valid
    row count it still holds, no report is failed, and stocks_daily bronze still passes its schema.
    Returns (reports, problems), one line per problem."""
    from quantmini.lake_db import Lake
    from quantmini.datatypes.stocks_daily.schema import StocksDailyBronze

    root = Path(root)
    with Lake(root) as lake:
        reports = lake.validation_reports()
    problems = [f"{r['type']} {r['partition']}: report not ok"
                + (f" (sessions without bars: {r['sessions_without_bars']})" if r["sessions_without_bars"] else "")
                for r in reports.filter(~pl.col("ok")).iter_rows(named=True)]
    valid = {(r["type"], r["partition"]): r["rows_valid"] for r in reports.iter_rows(named=True)}
    for f in sorted((root / "bronze").glob("*/year=*/month=*/data.parquet")):
        dtype, part = f.parts[-4], f"{f.parts[-3][5:]}-{f.parts[-2][6:]}"
        df = pl.read_parquet(f)
        if (dtype, part) not in valid:
            problems.append(f"{dtype} {part}: bronze partition without a validation report")
        elif valid[(dtype, part)] != df.height:
            problems.append(f"{dtype} {part}: bronze holds {df.height} rows, its report says {valid[(dtype, part)]} valid")
        if dtype == DAILY:
            try:
                StocksDailyBronze.validate(df.with_columns(pl.col("date").alias("_expected_session")), lazy=True)
            except Exception as exc:  # pandera's SchemaErrors: name the failed checks in one line
                cases = getattr(exc, "failure_cases", None)
                what = ", ".join(sorted(set(cases["check"].cast(pl.Utf8).to_list()))) if cases is not None else str(exc)
                problems.append(f"{dtype} {part}: bronze fails its schema ({what})")
            off = [d for d in df["date"].unique().to_list() if not calendar.is_session(d)]
            if off:
                problems.append(f"{dtype} {part}: bars on non-sessions {off}")
    return reports, problems
