"""`quantmini`: operate the lake. `ingest` runs the Snakemake workflow through Snakemake's Python API
(the same rules, the same lock; no second pipeline); `status`, `gaps`, `validate` and `query` read the
lake; `sim` is the simulator's own CLI. Bad input: one line on stderr, exit 2; a failed run: exit 1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import yaml

from quantmini import config as qm_config

REPO = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG = REPO / "config" / "config.yaml"
PROFILE = REPO / "profiles" / "default" / "config.yaml"
def _schema_types() -> tuple[str, ...]:
    """Every data type the workflow knows: the config schema's enum (one list for config and CLI)."""
    return tuple(yaml.safe_load(qm_config.SCHEMA_PATH.read_text())["properties"]["data_types"]["items"]["enum"])


DATA_TYPES = _schema_types()
LAYERS = ("bronze", "silver", "gold", "all")


class UsageError(Exception):
    """Bad input, phrased as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        print(f"quantmini: error: {message}", file=sys.stderr)
        sys.exit(2)


def _fail(message: str, code: int) -> int:
    print(f"quantmini: {message}", file=sys.stderr, flush=True)
    return code


# ---------------------------------------------------------------------- configuration
def _date_arg(raw: str) -> str:
    if raw == "today":
        return raw
    try:
        return dt.date.fromisoformat(raw).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{raw}' is not a YYYY-MM-DD date (or 'today')") from None


def number(kind: type, minimum: float, maximum: float | None = None):
    """An argparse type: a `kind` (int or float) from minimum to maximum, else one clear line (also
    the simulator's CLI's)."""
    what = "an integer" if kind is int else "a number"

    def parse(raw: str):
        try:
            value = kind(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{raw}' is not {what}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"'{raw}' must be >= {minimum}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"'{raw}' must be <= {maximum}")
        return value

    return parse


_positive = number(int, 1)


def _types(values: list[str] | None) -> list[str]:
    out = []
    for v in values or []:
        for t in filter(None, v.split(",")):
            if t not in DATA_TYPES:
                raise UsageError(f"unknown data type {t!r} (one of: {', '.join(DATA_TYPES)})")
            out.append(t)
    return list(dict.fromkeys(out))


def load_config(path: str | None, overrides: dict | None = None) -> dict:
    """The config Snakemake would see: the repository's config.yaml, then FILE over it, then overrides."""
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text()) or {}
    if path:
        try:
            user = yaml.safe_load(Path(path).read_text())
        except FileNotFoundError:
            raise qm_config.ConfigError(f"config: file not found: {path}") from None
        except yaml.YAMLError as exc:
            raise qm_config.ConfigError(f"config: {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
        if not isinstance(user, dict):
            raise qm_config.ConfigError(f"config: {path} is not a mapping of keys to values")
        _merge(raw, user)
    raw.update(overrides or {})
    return qm_config.validate(raw)


def _merge(base: dict, new: dict) -> None:
    """Nested update, as Snakemake merges --configfile over the workflow's configfile."""
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def _root(args, cfg: dict | None = None) -> Path:
    if getattr(args, "data_root", None):
        return Path(args.data_root)
    cfg = cfg or load_config(args.config)
    return Path(cfg["data_root"])


def _lake(args) -> Path:
    """The lake a read-only command reads; none there fails the command (main: "CMD: no lake at ROOT", exit 1)."""
    root = _root(args)
    if not root.is_dir():
        raise FileNotFoundError(f"no lake at {root}")
    return root


# ---------------------------------------------------------------------- Snakemake through its API
def _profile() -> dict:
    """The default profile's settings, so `quantmini ingest` schedules exactly like `snakemake`."""
    return yaml.safe_load(PROFILE.read_text()) or {}


def run_snakemake(targets: list[str], *, configfile: str | None, overrides: dict, cores: int | None,
                  forcerun: list[str] = (), dry_run: bool = False) -> None:
    """Build `targets` with Snakemake's Python API in this directory; raise on failure."""
    from snakemake.api import SnakemakeApi
    from snakemake.scheduling.greedy import SchedulerSettings as GreedySchedulerSettings
    from snakemake.settings.enums import RerunTrigger
    from snakemake.settings.types import (
        ConfigSettings,
        DAGSettings,
        ExecutionSettings,
        OutputSettings,
        ResourceSettings,
        SchedulingSettings,
    )

    prof = _profile()
    resources = dict(item.split("=", 1) for item in prof.get("resources", []))
    with SnakemakeApi(OutputSettings(printshellcmds=bool(prof.get("printshellcmds", False)),
                                     show_failed_logs=bool(prof.get("show-failed-logs", True)))) as api:
        wf = api.workflow(
            resource_settings=ResourceSettings(cores=cores or int(prof.get("cores", 1)),
                                               resources={k: int(v) for k, v in resources.items()}),
            config_settings=ConfigSettings(configfiles=[Path(configfile)] if configfile else [], config=overrides),
            snakefile=REPO / "Snakefile", workdir=Path.cwd(),
        )
        dag = wf.dag(DAGSettings(
            targets=frozenset(targets), forcerun=frozenset(forcerun),
            force_incomplete=bool(prof.get("rerun-incomplete", True)),
            rerun_triggers=RerunTrigger.parse_choices_set(prof.get("rerun-triggers", ["mtime", "params", "input"])),
        ))
        dag.execute_workflow(
            executor="local", pseudo_executor="dryrun" if dry_run else None,
            execution_settings=ExecutionSettings(keep_going=bool(prof.get("keep-going", False))),
            scheduling_settings=SchedulingSettings(scheduler=prof.get("scheduler", "greedy"),
                                                   subsample=prof.get("scheduler-subsample")),
            scheduler_settings=GreedySchedulerSettings(),
        )


def _snakemake_error(exc: BaseException) -> str:
    from snakemake.exceptions import LockException

    if isinstance(exc, LockException):
        return (f"another run holds the workflow lock on {Path.cwd()} (Snakemake's lock); this run stops "
                "without touching the lake - try again when the other run has finished")
    lines = [l.strip() for l in str(exc).splitlines() if l.strip()]
    return lines[0] if lines else type(exc).__name__


def _job_errors(root: Path, since: float) -> list[str]:
    """The ERROR lines that failed jobs wrote to their logs in this run (each job logs why it failed)."""
    out = []
    for f in sorted((root / "logs").rglob("*.log")) if (root / "logs").is_dir() else []:
        if f.stat().st_mtime >= since:
            out += [line.split(": ", 1)[1].strip() for line in f.read_text(errors="replace").splitlines()
                    if " ERROR " in line and ": " in line]
    return out


def ingest(args, forcerun: list[str] = ()) -> int:
    types = _types(args.type)
    overrides = {}
    if args.start:
        overrides["start"] = args.start
    if args.end:
        overrides["end"] = args.end
    if args.max_concurrent:
        overrides["max_concurrency"] = args.max_concurrent
    base = load_config(args.config, overrides)
    types = types or list(base["data_types"])
    overrides["data_types"] = [t for t in DATA_TYPES if t in set(base["data_types"]) | set(types)]
    cfg = load_config(args.config, overrides)
    root = cfg["data_root"]
    targets = [f"ingest_{t}" for t in types] + ([] if args.to == "bronze" else [args.to])  # rules/targets.smk
    started, t0 = dt.datetime.now().astimezone(), time.time()
    error, locked = None, False
    try:
        run_snakemake(targets, configfile=args.config, overrides=overrides, cores=args.cores, forcerun=forcerun,
                      dry_run=args.dry_run)
    except Exception as exc:  # Snakemake reports the failed job's log above; we end with one line
        from snakemake.exceptions import LockException

        error, locked = _snakemake_error(exc), isinstance(exc, LockException)
        failed = _job_errors(Path(root), t0)
        if failed and not locked:
            error = "; ".join(failed[:3]) + (f" (and {len(failed) - 3} more)" if len(failed) > 3 else "")
    if args.summary and not locked:  # a locked-out run leaves the summary to the run that holds the lock
        _write_summary(Path(args.summary), Path(root), cfg, types, started, t0, error)
    if error:
        return _fail(f"ingest failed: {error}", 1)
    return 0


def _write_summary(path: Path, root: Path, cfg: dict, types: list[str], started, t0: float, error) -> None:
    from quantmini import atomic
    from quantmini.gaps import find_gaps
    from quantmini.lake_db import Lake
    from quantmini.lake_report import fetched_since, pipeline_summary

    start, end = qm_config.resolve_range(cfg)
    with Lake(root) as lake:
        status, validation = lake.status(), lake.validation_reports()
    gaps = find_gaps(root, start, end, types) if root.is_dir() else None
    text = pipeline_summary(root, started=started, finished=dt.datetime.now().astimezone(), ok=error is None,
                            error=error, cfg={**cfg, "end": f"{cfg['end']} ({end})"}, fetched=fetched_since(root, t0),
                            status=status, validation=validation, gaps=gaps)
    atomic.write_text(path, text)


# ---------------------------------------------------------------------- reading the lake
def _console():
    from rich.console import Console

    return Console(width=200 if not sys.stdout.isatty() else None)


def _rich_table(df, title: str | None = None):
    from rich.table import Table

    table = Table(title=title)
    for c in df.columns:
        table.add_column(c, overflow="fold")
    for row in df.iter_rows():
        table.add_row(*("" if v is None else str(v) for v in row))
    return table


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def status(args) -> int:
    import polars as pl

    from quantmini.lake_db import Lake

    root = _lake(args)
    with Lake(root) as lake:
        df = lake.status()
        daily = lake.query('SELECT min(date) AS first, max(date) AS last, count(DISTINCT date) AS sessions, '
                           'count(DISTINCT ticker) AS tickers FROM "bronze_stocks_daily"') \
            if "bronze_stocks_daily" in lake.views else None
    landing = sorted((root / "landing").glob("*/year=*/month=*/*.json.gz"))
    land = pl.DataFrame({"type": [f.parts[-4] for f in landing], "bytes": [f.stat().st_size for f in landing],
                         "part": [f"{f.parts[-3][5:]}-{f.parts[-2][6:]}" for f in landing],
                         "mtime": [f.stat().st_mtime for f in landing]},
                        schema={"type": pl.Utf8, "bytes": pl.Int64, "part": pl.Utf8, "mtime": pl.Float64})
    land = land.group_by("type").agg(
        partitions=pl.col("part").n_unique(), first=pl.col("part").min(), last=pl.col("part").max(),
        rows=pl.len(), bytes=pl.col("bytes").sum(),
        updated=pl.from_epoch(pl.col("mtime").max().cast(pl.Int64), time_unit="s"),
    ).select(pl.lit("landing").alias("layer"), "type", "partitions", "first", "last", "rows", "bytes", "updated")
    df = pl.concat([land.cast(df.schema), df]).with_columns(
        pl.col("bytes").map_elements(_size, return_dtype=pl.Utf8), pl.col("updated").dt.strftime("%Y-%m-%d %H:%M"))
    con = _console()
    con.print(_rich_table(df.rename({"rows": "rows/files", "first": "first month", "last": "last month"}),
                          title=f"lake {root}"))
    if daily is not None and daily.height:
        con.print(f"stocks_daily bronze: {daily['first'][0]} .. {daily['last'][0]}, "
                  f"{daily['sessions'][0]} sessions, {daily['tickers'][0]} tickers")
    con.print(_settled_line(args))
    from quantmini.revisions import latest

    for entry in latest(root):
        con.print(f"revised: {entry['type']} {entry['session']} at {entry['replaced_at']}: "
                  f"{entry['rows_changed']} rows ({entry['added']} added, {entry['removed']} removed, "
                  f"{entry['changed']} changed)")
    gold = root / "gold" / "qlib" / "calendars" / "day.txt"
    if gold.exists():
        days = gold.read_text().split()
        con.print(f"gold qlib: {len(days)} sessions ({days[0]} .. {days[-1]}), "
                  f"{len(list((root / 'gold' / 'qlib' / 'features').iterdir()))} instruments")
    return 0


def _settled_line(args) -> str:
    """The last settled session under the configured `settle` (quantmini.settle)."""
    from quantmini import settle

    try:
        hours = load_config(args.config)["settle"]
    except (qm_config.ConfigError, OSError):
        hours = settle.DEFAULT_SETTLE_HOURS
    return settle.describe(hours=hours)


def gaps(args) -> int:
    from quantmini.gaps import THIN_RATIO, find_gaps
    from quantmini.lake_report import write_gaps_report

    overrides = {k: v for k, v in (("start", args.start), ("end", args.end)) if v}
    cfg = load_config(args.config, overrides)
    start, end = qm_config.resolve_range(cfg)
    root = Path(args.data_root or cfg["data_root"])
    types = _types(args.type) or list(cfg["data_types"])
    if not root.is_dir() and not args.backfill:
        return _fail(f"gaps: no lake at {root} (build it with `quantmini ingest`)", 1)
    g = find_gaps(root, start, end, types, thin_ratio=args.thin_ratio or THIN_RATIO)
    if args.backfill and not g.complete:
        forcerun = []
        for dtype, months in g.months_to_repair().items():
            for y, m in months:  # stocks_daily: land the month again (only missing days are fetched)
                if dtype == "stocks_daily":
                    forcerun.append(f"{cfg['data_root']}/landing/{dtype}/year={y:04d}/month={m:02d}/_manifest.json")
                forcerun.append(f"{cfg['data_root']}/bronze/{dtype}/year={y:04d}/month={m:02d}/data.parquet")
        print("quantmini: backfill: rebuilding "
              + ", ".join(f"{t} {y:04d}-{m:02d}" for t, ms in g.months_to_repair().items() for y, m in ms),
              file=sys.stderr)
        ns = argparse.Namespace(type=types, start=start.isoformat(), end=end.isoformat(), max_concurrent=None,
                                config=args.config, cores=args.cores, to=args.to, dry_run=False, summary=None)
        rc = ingest(ns, forcerun=forcerun)
        if rc:
            return rc
        g = find_gaps(root, start, end, types, thin_ratio=args.thin_ratio or THIN_RATIO)
    out = Path(args.out) if args.out else root / "reports" / "gaps"
    backfill = "uv run quantmini gaps --backfill" + (f" --config {args.config}" if args.config else "") + \
        f" -s {start} -e {end}"
    paths = write_gaps_report(g, out, backfill=backfill)
    con = _console()
    counts = g.counts()
    con.print(f"lake {root}, {start} .. {end}: [bold]{'COMPLETE' if g.complete else 'INCOMPLETE'}[/bold] - "
              + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items()))
    for title, df in (("missing partitions", g.missing_partitions.drop("path")),
                      ("sessions without any bar", g.missing_sessions),
                      ("sessions without a landing file", g.missing_landing),
                      ("ticker gaps", g.ticker_gap_ranges()), ("thin", g.thin)):
        if df.height:
            con.print(_rich_table(df.head(30), title=f"{title} ({df.height})"))
    con.print(f"report: {paths['gaps.md']} and {paths['gaps.html']}")
    if not g.complete:
        con.print(f"backfill: {backfill}")
    return 0 if g.complete else 1


def validate(args) -> int:
    from quantmini.gaps import check_lake

    root = _lake(args)
    reports, problems = check_lake(root)
    con = _console()
    con.print(_rich_table(reports, title=f"validation reports of {root}"))
    for p in problems:
        con.print(f"[red]problem[/red]: {p}")
    con.print("validation: " + ("OK" if not problems else f"{len(problems)} problem(s)"))
    return 1 if problems else 0


def query(args) -> int:
    import duckdb

    from quantmini.lake_db import Lake

    with Lake(_lake(args)) as lake:
        catalog = lake.write_catalog()
    con = duckdb.connect(str(catalog), read_only=True)
    try:
        rel = con.sql(args.sql)
        df = rel.pl() if rel is not None else None
    except duckdb.Error as exc:
        return _fail(f"query: {str(exc).splitlines()[0]}", 1)
    finally:
        con.close()
    if df is None:
        return 0
    if args.format == "csv":
        sys.stdout.write(df.write_csv())
    elif args.format == "json":
        sys.stdout.write(df.write_json() + "\n")
    else:
        _console().print(_rich_table(df.head(args.limit),
                                     title=f"{df.height} row(s)" + (f", first {args.limit} shown" if df.height > args.limit else "")))
    return 0


def sim(args) -> int:
    from quantmini.sim.__main__ import main as sim_main

    return sim_main(args.sim_args)


# ---------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="quantmini", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(sp, data_root=True):
        sp.add_argument("--config", metavar="FILE", help="config file over config/config.yaml (as --configfile)")
        if data_root:
            sp.add_argument("--data-root", metavar="DIR", help="the lake (default: data_root of the config)")

    i = sub.add_parser("ingest", help="build the lake for a date range (incremental: only what is missing)")
    i.add_argument("-t", "--type", action="append", metavar="TYPE",
                   help=f"data type, repeatable or comma-separated: {', '.join(DATA_TYPES)} (default: config)")
    i.add_argument("-s", "--start", type=_date_arg, help="first date (default: config start)")
    i.add_argument("-e", "--end", type=_date_arg, help="last date or 'today' (default: config end)")
    i.add_argument("--to", choices=LAYERS, default="bronze", help="the layer to build up to (default: bronze)")
    i.add_argument("--max-concurrent", type=_positive, help="concurrent requests per download job")
    i.add_argument("--cores", type=_positive, help="cores for Snakemake (default: the profile's)")
    i.add_argument("-n", "--dry-run", action="store_true", help="show what would run")
    i.add_argument("--incremental", action="store_true", help="accepted for the old CLI; always incremental")
    i.add_argument("--summary", metavar="FILE", help="write a PIPELINE_SUMMARY.md of the run")
    common(i, data_root=False)
    i.set_defaults(func=ingest)

    s = sub.add_parser("status", help="what the lake holds per layer and type")
    common(s)
    s.set_defaults(func=status)

    g = sub.add_parser("gaps", help="completeness report; exit 0 = complete, 1 = gaps found")
    g.add_argument("-t", "--type", action="append", metavar="TYPE")
    g.add_argument("-s", "--start", type=_date_arg)
    g.add_argument("-e", "--end", type=_date_arg)
    g.add_argument("--out", metavar="DIR", help="report directory (default: <lake>/reports/gaps)")
    g.add_argument("--thin-ratio", type=float, help="a session/month below this fraction of its baseline is thin")
    g.add_argument("--backfill", action="store_true", help="land and rebuild the partitions with gaps, then report")
    g.add_argument("--to", choices=LAYERS, default="bronze", help="backfill up to this layer")
    g.add_argument("--cores", type=_positive)
    common(g)
    g.set_defaults(func=gaps)

    v = sub.add_parser("validate", help="validation reports, and bronze re-checked against them and its schema")
    common(v)
    v.set_defaults(func=validate)

    q = sub.add_parser("query", help="SQL over the lake (DuckDB views bronze_*, silver_*, quarantine_*)")
    q.add_argument("sql")
    q.add_argument("--format", choices=("table", "csv", "json"), default="table")
    q.add_argument("--limit", type=_positive, default=100, help="rows shown in a table")
    common(q)
    q.set_defaults(func=query)

    m = sub.add_parser("sim", help="the simulator: quantmini sim serve ... | quantmini sim truth --out DIR",
                       add_help=False)
    m.add_argument("sim_args", nargs=argparse.REMAINDER)
    m.set_defaults(func=sim)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (UsageError, qm_config.ConfigError) as exc:
        return _fail(str(exc), 2)
    except (LookupError, ValueError, OSError) as exc:
        return _fail(f"{args.command}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


if __name__ == "__main__":
    sys.exit(main())
