"""Completeness of the lake against the XNYS calendar: what is missing, where, and what to rebuild.

A ticker is expected on every session from its first to its last bar in the range (its own listed
span), so an IPO inside the range, a delisting or a ticker change is never a gap; a session inside the
span without a bar is. The range's sessions, landing files and month partitions are checked against
the calendar; a session or month with clearly fewer rows than the ones before it is "thin" (rows dropped
upstream). Quarantined rows are listed with their reason: a quarantined bar also leaves a ticker gap.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from quantmini import calendar, catalog
from quantmini.catalog import EVERY_SESSION, SILVER_SIDE_TABLES, DataType
from quantmini.lake import LakePaths
from quantmini.lake_files import lake_files

DAILY = "stocks_daily"
THIN_RATIO = 0.8          # fewer rows than this fraction of the baseline is "thin"
SESSION_BASELINE = 20     # baseline of a session: median rows of the previous 20 sessions with bars
MONTH_BASELINE = 3        # baseline of a month: median rows per session of the previous 3 months


def _empty(schema: dict) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


@dataclass
class Gaps:
    root: Path | str  # a folder, or a bucket lake's s3:// URL
    start: dt.date
    end: dt.date
    types: list[str]
    missing_partitions: pl.DataFrame   # layer, type, partition (YYYY-MM), path
    missing_landing: pl.DataFrame      # type, date (sessions), partition, path: a landing file absent
    missing_sessions: pl.DataFrame     # date: a session without any bar in bronze
    ticker_gaps: pl.DataFrame          # ticker, date: a session inside the ticker's span without its bar
    thin: pl.DataFrame                 # level (session|month), key, rows, baseline
    quarantine: pl.DataFrame           # type, partition, reason, rows
    rows_per_session: pl.DataFrame     # date, rows
    spans: pl.DataFrame                # ticker, first, last, bars, expected
    unreadable: list[str] = field(default_factory=list)  # "path: reason" of bronze files that do not parse

    @property
    def complete(self) -> bool:
        return not self.unreadable and not any(f.height for f in (
            self.missing_partitions, self.missing_landing, self.missing_sessions, self.ticker_gaps, self.thin))

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

    def repairs(self) -> dict[tuple[str, str], set[tuple[int, int]]]:
        """(type, layer) -> the (year, month) partitions a backfill must redo at that layer (landing: land
        again, only what is missing is downloaded; bronze, silver: rebuild)."""
        out: dict[tuple[str, str], set] = {}
        months = list(calendar.month_sessions(self.start, self.end))
        for row in self.missing_partitions.iter_rows(named=True):
            unit = row["partition"]
            yms = [ym for ym in months if ym[0] == int(unit)] if len(unit) == 4 else [tuple(map(int, unit.split("-")[:2]))]
            out.setdefault((row["type"], row["layer"]), set()).update(yms)
        for row in self.missing_landing.iter_rows(named=True):
            unit = row["partition"]
            yms = [ym for ym in months if ym[0] == int(unit)] if len(unit) == 4 else [tuple(map(int, unit.split("-")))]
            out.setdefault((row["type"], "landing"), set()).update(yms)
        dates = pl.concat([
            self.missing_sessions.select("date"), self.ticker_gaps.select("date"),
            self.thin.filter(pl.col("level") == "session").select(pl.col("key").str.to_date().alias("date")),
        ])
        daily = {(d.year, d.month) for d in dates["date"].to_list()}
        daily |= {tuple(map(int, k.split("-"))) for k in self.thin.filter(pl.col("level") == "month")["key"].to_list()}
        if daily:
            out.setdefault((DAILY, "landing"), set()).update(daily)
        for (dtype, layer), yms in list(out.items()):  # a landing repair rebuilds the type's bronze too
            if layer == "landing":
                out.setdefault((dtype, "bronze"), set()).update(yms)
        return out

    def months_to_repair(self) -> dict[str, list[tuple[int, int]]]:
        """Per type, the (year, month) partitions a backfill lands again or rebuilds."""
        out: dict[str, set] = {}
        for (dtype, _), yms in self.repairs().items():
            out.setdefault(dtype, set()).update(yms)
        return {t: sorted(v) for t, v in sorted(out.items())}

    def forcerun_paths(self, lake: LakePaths, layers=("landing", "bronze", "silver")) -> list[str]:
        """The Snakemake outputs to force to repair every gap of `layers`: the landing manifests of the
        units to land again, and one output of each bronze or silver job to rebuild (paths from the
        catalog, as the rules spell them). Land first, then rebuild, in two runs: Snakemake drops the
        jobs downstream of a forced landing job that read it as `ancient` (closed years' options), even
        when their outputs are missing."""
        first_year = self.start.year
        paths: list[Path] = []
        for (dtype, layer), yms in sorted(self.repairs().items()):
            if layer not in layers:
                continue
            t = catalog.data_type(dtype)
            for y, m in sorted(yms):
                if layer == "landing":
                    paths.append(lake.landing_manifest(dtype, y, m) if t.landing_grain == "month"
                                 else lake.landing_year_manifest(dtype, max(y, first_year)))
                elif layer == "bronze":
                    table = next((x for x in t.bronze if (y, m) in t.table_months(x, [(y, m)])), t.bronze[0])
                    paths.append(lake.partition_dir("bronze", table.name, y, m) if table.grain == "session"
                                 else lake.bronze(table.name, y, m, table.stem))
                elif layer == "silver":
                    paths += [lake.silver(x.name, y, m, x.stem) for x in t.silver[:1]]
        return list(dict.fromkeys(str(p) for p in paths))

    def counts(self) -> dict[str, int]:
        return {
            "missing_partitions": self.missing_partitions.height,
            "missing_landing_files": self.missing_landing.height,
            "missing_sessions": self.missing_sessions.height,
            "ticker_gaps": self.ticker_gaps.height,
            "tickers_with_gaps": self.ticker_gaps["ticker"].n_unique(),
            "thin_partitions": self.thin.height,
            "quarantined_rows": int(self.quarantine["rows"].sum()) if self.quarantine.height else 0,
            "unreadable_files": len(self.unreadable),
        }


def _read(files: list[Path], columns: list[str], unreadable: list[str], where) -> pl.DataFrame | None:
    """The files' rows; a file that does not parse is named in `unreadable` and skipped (one corrupt
    partition must not hide the rest of the lake). `where`: the lake's files (quantmini.lake_files)."""
    frames = []
    for f in files:
        if not where.exists(f):
            continue
        try:
            frames.append(pl.read_parquet(where.parquet_source(f), columns=columns))
        except Exception as exc:  # noqa: BLE001
            unreadable.append(f"{where.shown(f)}: {(str(exc).splitlines() or [type(exc).__name__])[0][:200]}")
    return pl.concat(frames) if frames else None


def _part(ym: tuple[int, int]) -> str:
    return f"{ym[0]:04d}-{ym[1]:02d}"


def _missing_partitions(lake: LakePaths, types: list[DataType], months: list[tuple[int, int]], cfg: dict,
                        where) -> pl.DataFrame:
    """Every partition the catalog expects for the range that is not on disk: landing manifests (a month's
    or a year's), bronze files (a session's, for minute bars), and silver once the lake has that table."""
    rows = []
    for t in types:
        for path in t.landing_manifests(lake, months, cfg):
            unit = path.parent.name[5:] if path.parent.name.startswith("year=") else \
                f"{path.parent.parent.name[5:]}-{path.parent.name[6:]}"
            if not where.exists(path):
                rows.append(("landing", t.name, unit, where.shown(path)))
        for table, ym, path in t.expected_bronze(lake, months, cfg):
            if not where.exists(path):
                unit = path.parent.name[5:] if table.grain == "session" else _part(ym)
                rows.append(("bronze", t.name, unit, where.shown(path)))
        for table, ym, path in t.expected_silver(lake, months, cfg):
            if where.is_dir(lake.table_dir("silver", table.name)) and not where.exists(path):
                rows.append(("silver", t.name, _part(ym), where.shown(path)))
    return pl.DataFrame(rows, schema={"layer": pl.Utf8, "type": pl.Utf8, "partition": pl.Utf8, "path": pl.Utf8},
                        orient="row")


def _missing_landing(lake: LakePaths, types: list[DataType], months: list[tuple[int, int]], cfg: dict,
                     sessions: list[dt.date], where) -> pl.DataFrame:
    """Landing files that should be there: a session's grouped-daily body (every session type), and every
    file a landing manifest lists."""
    rows = []
    for t in types:
        if t.expect == EVERY_SESSION:
            rows += [(t.name, d, _part((d.year, d.month)), where.shown(lake.landing_day(t.name, d)))
                     for d in sessions if not where.exists(lake.landing_day(t.name, d))]
            continue
        for manifest in t.landing_manifests(lake, months, cfg):
            try:
                entries = json.loads(where.read_text(manifest)).get("files", [])
            except (OSError, ValueError):
                continue  # a missing manifest is a missing partition; an unreadable one the landing job redoes
            for e in entries:
                path = t.manifest_file(lake, manifest, e)
                if not where.exists(path):
                    day = e.get("date")
                    # the entry's month (fundamentals: "<table>/YYYY-MM"), or the manifest's year for a file
                    # that serves the whole year (ticker_changes' listings)
                    unit = (e.get("month") or "")[-7:] or (day or "")[:7] or manifest.parent.name[5:]
                    rows.append((t.name, dt.date.fromisoformat(day) if day else None, unit, where.shown(path)))
    return pl.DataFrame(rows, schema={"type": pl.Utf8, "date": pl.Date, "partition": pl.Utf8, "path": pl.Utf8},
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


def _quarantine(lake: LakePaths, types: list[DataType], where) -> pl.DataFrame:
    """Quarantined rows per table, partition and reason, of the given types' bronze tables (and of the
    corporate actions silver validates beside stocks_daily)."""
    tables = [(t.name, x.name, x.stem if x.grain == "month" else "data") for t in types for x in t.bronze]
    tables += [(owner, side, "data") for side, owner in SILVER_SIDE_TABLES.items() if owner in {t.name for t in types}]
    import pyarrow.parquet as pq

    rows = []
    for _, name, stem in tables:
        for f in where.glob(lake.table_dir("quarantine", name), f"year=*/month=*/{stem}.parquet"):
            try:  # most partitions quarantine nothing: their footer says so, and only `reason` is read
                pf = pq.ParquetFile(where.parquet_source(f))
                if not pf.metadata.num_rows or "reason" not in pf.schema_arrow.names:
                    continue
                df = pl.from_arrow(pf.read(columns=["reason"]))
            except Exception:  # an unreadable file is validate's to report, not a reason to stop here
                continue
            if df.height:
                part = f"{f.parent.parent.name[5:]}-{f.parent.name[6:]}"
                label = name if stem == "data" else f"{name}/{stem}"
                for reason, n in df.group_by("reason").len().sort("reason").iter_rows():
                    rows.append((label, part, reason, n))
    return pl.DataFrame(rows, schema={"type": pl.Utf8, "partition": pl.Utf8, "reason": pl.Utf8, "rows": pl.Int64},
                        orient="row")


def find_gaps(root: str | Path, start: dt.date, end: dt.date, types: list[str] = (DAILY,),
              thin_ratio: float = THIN_RATIO, cfg: dict | None = None) -> Gaps:
    """Everything missing from the lake at `root` for the XNYS sessions in [start, end], judged per data
    type as the catalog declares (`cfg` supplies the type windows, e.g. minute.months). `root`: a folder,
    or a bucket lake's `s3://bucket/prefix/<data_root>` (read in place, its keys listed once)."""
    where = lake_files(root)
    lake = LakePaths(where.root)
    by_month = calendar.month_sessions(start, end)
    months = list(by_month)
    sessions = pl.DataFrame({"date": calendar.sessions(start, end)}, schema={"date": pl.Date}).with_row_index("i")
    types = list(types)
    kinds = [catalog.data_type(t) for t in types]
    rcfg = catalog.range_config(cfg or {}, start, end)
    daily = DAILY in types
    bars = _empty({"ticker": pl.Utf8, "date": pl.Date})
    unreadable: list[str] = []
    if daily:
        read = _read([lake.bronze(DAILY, y, m) for y, m in by_month], ["ticker", "date"], unreadable, where)
        if read is not None:
            bars = read.filter(pl.col("date").is_between(start, end))

    bars_i = bars.join(sessions, on="date", how="inner")
    rows = sessions.join(bars.group_by("date").len("rows"), on="date", how="left").with_columns(
        pl.col("rows").fill_null(0).cast(pl.Int64)).select("date", "rows")
    missing_sessions = rows.filter(pl.col("rows") == 0).select("date") if daily else _empty({"date": pl.Date})

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
        root=root if where.remote else lake.root, start=start, end=end, types=types,
        missing_partitions=_missing_partitions(lake, kinds, months, rcfg, where),
        missing_landing=_missing_landing(lake, kinds, months, rcfg, sessions["date"].to_list(), where),
        missing_sessions=missing_sessions, ticker_gaps=holes,
        thin=_thin(rows, thin_ratio) if daily and bars.height else
        _empty({"level": pl.Utf8, "key": pl.Utf8, "rows": pl.Float64, "baseline": pl.Float64}),
        quarantine=_quarantine(lake, kinds, where), rows_per_session=rows, spans=spans, unreadable=unreadable,
    )


def _rows(path: Path, problems: list[str], where) -> pl.DataFrame | None:
    """A bronze file's rows, or None with the file named in `problems` when it cannot be read."""
    try:
        return pl.read_parquet(where.parquet_source(path))
    except Exception as exc:  # one corrupt file must not hide the rest of the lake
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        problems.append(f"unreadable Parquet file {where.shown(path)}: {first[:200]}; delete it and run again "
                        "to rebuild it")
        return None


def check_lake(root: str | Path) -> tuple[pl.DataFrame, list[str]]:
    """Validation reports, and bronze checked against them: each catalog table's partition has a report
    whose valid row count it still holds, no report is failed, and stocks_daily bronze still passes its
    schema. Returns (reports, problems), one line per problem. `root`: a folder, or a bucket lake's
    `s3://bucket/prefix/<data_root>` (read in place; its gold is on disk: `gold_problems` of that)."""
    from quantmini.datatypes.stocks_daily.schema import StocksDailyBronze
    from quantmini.lake_db import Lake, foreign_folders, stray_files

    where = lake_files(root)
    root = root if where.remote else Path(root)
    lake = LakePaths(where.root)
    with Lake(root) as db:
        reports = db.validation_reports()
        unreadable = dict(db.unreadable)
    problems = [f"{where.shown(p)} is not a table of the catalog: no reader uses it (move it out of the lake)"
                for p in foreign_folders(root, where if where.remote else None)]
    problems += [f"stray file {where.shown(p)}: not a file of its table, no reader uses it (move it out of the "
                 "lake)" for p in stray_files(root, where if where.remote else None)]
    problems += [f"{r['type']} {r['partition']}: report not ok"
                + (f" (sessions without bars: {r['sessions_without_bars']})" if r["sessions_without_bars"] else "")
                for r in reports.filter(~pl.col("ok")).iter_rows(named=True)]
    for t in catalog.CATALOG.values():
        for table in t.bronze:
            base = lake.table_dir("bronze", table.name)
            pattern = "year=*/month=*" if table.grain == "session" else f"year=*/month=*/{table.stem}.parquet"
            for f in where.glob(base, pattern):
                month = f if table.grain == "session" else f.parent
                part = f"{month.parent.name[5:]}-{month.name[6:]}"
                files = where.glob(month, "date=*/data.parquet") if table.grain == "session" else [f]
                frames = [_rows(x, problems, where) for x in files]
                if any(x is None for x in frames):
                    continue
                held = sum(x.height for x in frames)
                report_dir = table.name if table.name in t.report_dirs else t.report_dirs[0]
                label = table.view
                try:
                    rep = json.loads(where.read_text(lake.validation_report(report_dir, int(part[:4]), int(part[5:]))))
                except FileNotFoundError:
                    problems.append(f"{label} {part}: bronze partition without a validation report")
                    continue
                except ValueError:
                    problems.append(f"{label} {part}: unreadable validation report")
                    continue
                # a report covers its folder's first table; the others (news: article_tickers) have their
                # own counts under their stem
                sub = rep if table.stem == t.bronze[0].stem or table.name != t.bronze[0].name else \
                    rep.get(table.stem, {})
                valid = sub.get("rows_valid")
                if valid is not None and valid != held:
                    problems.append(f"{label} {part}: bronze holds {held} rows, its report says {valid} valid")
                if t.name == DAILY:
                    df = frames[0]
                    try:
                        StocksDailyBronze.validate(df.with_columns(pl.col("date").alias("_expected_session")), lazy=True)
                    except Exception as exc:  # pandera's SchemaErrors: name the failed checks in one line
                        cases = getattr(exc, "failure_cases", None)
                        what = ", ".join(sorted(set(cases["check"].cast(pl.Utf8).to_list()))) if cases is not None \
                            else str(exc)
                        problems.append(f"{label} {part}: bronze fails its schema ({what})")
                    off = [d for d in df["date"].unique().to_list() if not calendar.is_session(d)]
                    if off:
                        problems.append(f"{label} {part}: bars on non-sessions {off}")
    from quantmini.lake_check import gold_problems, landing_problems

    problems += landing_problems(root, where) + ([] if where.remote else gold_problems(root))
    named = "\n".join(problems)
    problems += [f"unreadable Parquet file {p}: {why}; delete it and run again to rebuild it"
                 for p, why in unreadable.items() if p not in named]
    return reports, problems
