"""`quantmini status`, `gaps` and `validate`: what the lake holds, whether it is complete, whether bronze
still matches its validation reports (and `gaps --backfill` to repair it)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from quantmini.cli.common import (
    console,
    data_types,
    disk_only,
    fail,
    lake_location,
    lake_root,
    load_config,
    rich_table,
    size,
)
from quantmini.cli.ingest import ingest
from quantmini.cli.prune import outside_of, print_outside
from quantmini.config import resolve_range


def status(args) -> int:
    import polars as pl

    from quantmini.lake_db import Lake, foreign_folders

    root = lake_root(args)
    with Lake(root) as lake:
        df = lake.status()
        land = lake.landing_status()
        unreadable = lake.unreadable
        daily = lake.query('SELECT min(date) AS first, max(date) AS last, count(DISTINCT date) AS sessions, '
                           'count(DISTINCT ticker) AS tickers FROM "bronze_stocks_daily"') \
            if "bronze_stocks_daily" in lake.views else None
    df = pl.concat([land, df]).with_columns(
        pl.col("bytes").map_elements(size, return_dtype=pl.Utf8), pl.col("updated").dt.strftime("%Y-%m-%d %H:%M"))
    con = console()
    con.print(rich_table(df.rename({"rows": "rows/files", "first": "first month", "last": "last month"}),
                          title=f"lake {root}"))
    if daily is not None and daily.height:
        con.print(f"stocks_daily bronze: {daily['first'][0]} .. {daily['last'][0]}, "
                  f"{daily['sessions'][0]} sessions, {daily['tickers'][0]} tickers")
    con.print(_settled_line(args))
    if isinstance(root, str):  # object storage: the tables above were read in place; gold is on disk
        _gold_line(con, Path(load_config(args.config)["data_root"]))
        return 0
    from quantmini.revisions import latest

    for entry in latest(root):
        con.print(f"revised: {entry['type']} {entry['session']} at {entry['replaced_at']}: "
                  f"{entry['rows_changed']} rows ({entry['added']} added, {entry['removed']} removed, "
                  f"{entry['changed']} changed) in {entry['files']} file(s)")
    for folder in foreign_folders(root):
        con.print(f"[yellow]ignored[/yellow]: {folder} is not a table of the catalog (no reader uses it)")
    for path, why in unreadable.items():
        con.print(f"[red]unreadable[/red] Parquet file {path}: {why} (left out above; `quantmini validate`)",
                  soft_wrap=True)
    _gold_line(con, root)
    _, start, end, outside = outside_of(args)
    print_outside(con, outside, start, end)
    return 0


def _gold_line(con, root: Path) -> None:
    from quantmini.lake import LakePaths

    gold = LakePaths(root).gold_calendar()
    if gold.exists():
        days = gold.read_text().split()
        con.print(f"gold qlib: {len(days)} sessions ({days[0]} .. {days[-1]}), "
                  f"{len(list((LakePaths(root).gold_dir() / 'features').iterdir()))} instruments")


def _settled_line(args) -> str:
    """The last settled session under the configured `settle` (quantmini.settle)."""
    from quantmini import settle
    from quantmini.config import ConfigError

    try:
        hours = load_config(args.config)["settle"]
    except (ConfigError, OSError):
        hours = settle.DEFAULT_SETTLE_HOURS
    return settle.describe(hours=hours)


def gaps(args) -> int:
    from quantmini.gaps import THIN_RATIO, find_gaps

    overrides = {k: v for k, v in (("start", args.start), ("end", args.end)) if v}
    cfg = load_config(args.config, overrides)
    start, end = resolve_range(cfg)
    root = lake_location(args, cfg)
    types = data_types(args.type) or list(cfg["data_types"])
    if isinstance(root, str):  # a bucket lake: read in place (quantmini.lake_files)
        if args.backfill:
            return fail(f"gaps: --backfill repairs a lake on disk only, not yet one on object storage ({root}); "
                        "`quantmini ingest` rebuilds what is missing there", 2)
        lake_root(args)  # the bucket answers and holds a lake, or one line
        return _report_gaps(args, root, start, end, types, cfg)
    if not root.is_dir() and not args.backfill:
        return fail(f"gaps: no lake at {root} (build it with `quantmini ingest`)", 1)
    g = find_gaps(root, start, end, types, thin_ratio=args.thin_ratio or THIN_RATIO, cfg=cfg)
    if args.backfill and not g.complete:
        from quantmini.lake import LakePaths

        # the outputs to force, spelled as the rules spell them (relative to the working directory)
        paths = LakePaths(args.data_root or cfg["data_root"])
        landing, rebuild = g.forcerun_paths(paths, ("landing",)), g.forcerun_paths(paths, ("bronze", "silver"))
        print("quantmini: backfill: rebuilding "
              + ", ".join(f"{t} {y:04d}-{m:02d}" for t, ms in g.months_to_repair().items() for y, m in ms),
              file=sys.stderr)
        ns = argparse.Namespace(type=types, start=start.isoformat(), end=end.isoformat(), max_concurrent=None,
                                config=args.config, cores=args.cores, to=args.to, dry_run=False, summary=None,
                                data_root=args.data_root)
        rc = ingest(ns, forcerun=landing, targets=landing) if landing else 0
        rc = rc or ingest(ns, forcerun=rebuild)
        if rc:
            return rc
        g = find_gaps(root, start, end, types, thin_ratio=args.thin_ratio or THIN_RATIO, cfg=cfg)
    return _report_gaps(args, root, start, end, types, cfg, g)


def _report_gaps(args, root, start, end, types, cfg, g=None) -> int:
    """Print the gaps of the lake at `root` (a folder or a bucket's URL) and write the report: under the
    lake's reports/gaps (in the bucket for a bucket lake: written locally, then one upload per file), or
    `--out`."""
    import tempfile

    from quantmini.gaps import THIN_RATIO, find_gaps
    from quantmini.lake import LakePaths
    from quantmini.lake_report import write_gaps_report

    remote = isinstance(root, str)
    if g is None:
        g = find_gaps(root, start, end, types, thin_ratio=args.thin_ratio or THIN_RATIO, cfg=cfg)
    backfill = ("uv run quantmini ingest" if remote else "uv run quantmini gaps --backfill") + \
        (f" --config {args.config}" if args.config else "") + f" -s {start} -e {end}"
    with tempfile.TemporaryDirectory(prefix="quantmini-gaps-") as tmp:
        out = Path(args.out) if args.out else Path(tmp) if remote else LakePaths(root).gaps_dir()
        paths = write_gaps_report(g, out, backfill=backfill)
        if remote and not args.out:
            from quantmini import storage

            target = f"{root}/{LakePaths('').gaps_dir().as_posix()}"  # the lake-relative reports/gaps
            fs = storage.filesystem()
            for name, path in paths.items():
                fs.put_file(str(path), f"{target}/{name}")
            paths = {name: f"{target}/{name}" for name in paths}
    con = console()
    counts = g.counts()
    con.print(f"lake {root}, {start} .. {end}: [bold]{'COMPLETE' if g.complete else 'INCOMPLETE'}[/bold] - "
              + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in counts.items()))
    for title, df in (("missing partitions", g.missing_partitions.drop("path")),
                      ("sessions without any bar", g.missing_sessions),
                      ("sessions without a landing file", g.missing_landing),
                      ("ticker gaps", g.ticker_gap_ranges()), ("thin", g.thin)):
        if df.height:
            con.print(rich_table(df.head(30), title=f"{title} ({df.height})"))
    for line in g.unreadable:
        con.print(f"[red]unreadable[/red] Parquet file {line} (delete it and backfill to rebuild it)", soft_wrap=True)
    if not remote:  # what lies outside the range: `quantmini prune`, a lake on disk only
        _, _, _, outside = outside_of(args)
        print_outside(con, outside, start, end)
    con.print(f"report: {paths['gaps.md']} and {paths['gaps.html']}")
    if not g.complete:
        con.print(f"backfill: {backfill}")
    return 0 if g.complete else 1


def validate(args) -> int:
    from quantmini.accepted import flags, report_accepted
    from quantmini.gaps import check_lake

    root = lake_root(args)
    reports, problems = check_lake(root)
    if isinstance(root, str):  # a bucket lake (read in place): its gold is the local folder under data_root
        from quantmini.lake_check import gold_problems

        problems += gold_problems(Path(load_config(args.config)["data_root"]))
    found = flags(root)
    flagged = {(f.dtype, f.partition) for f in found}
    # a report failed only for flags a person accepted is not a problem; others name what is flagged
    problems = [p for p in problems if not any(p.startswith(f"{t} {m}: report not ok") and report_accepted(root, t, m)
                                                for t, m in flagged)]
    pending = {}
    for f in found:
        if not f.accepted:
            pending.setdefault(f"{f.dtype} {f.partition}: report not ok", []).append(f"{f.session} {f.ticker}")
    problems = [p + (f" (flagged, not accepted: {', '.join(pending[p])})" if p in pending else "") for p in problems]
    con = console()
    con.print(rich_table(reports, title=f"validation reports of {root}"))
    for f in found:
        if f.accepted:
            con.print(f"accepted: {f.describe()}; by {f.accepted.get('by')}: {f.accepted.get('why')}",
                      highlight=False, soft_wrap=True)
        else:
            con.print(f"[red]flagged[/red]: {f.describe()}; after checking it: {f.accept_command()}",
                      highlight=False, soft_wrap=True)
    for p in problems:
        con.print(f"[red]problem[/red]: {p}", soft_wrap=True)
    con.print("validation: " + ("OK" if not problems else f"{len(problems)} problem(s)")
              + (f" ({sum(bool(f.accepted) for f in found)} accepted flag(s))" if any(f.accepted for f in found) else ""))
    return 1 if problems else 0


def accept(args) -> int:
    disk_only(args, "accept")
    from quantmini.accepted import accept as record

    root = lake_root(args)
    for f in record(root, args.type, args.session, args.ticker, args.by, args.why):
        print(f"accepted: {f.describe()}; by {args.by}: {args.why}")
    return 0
