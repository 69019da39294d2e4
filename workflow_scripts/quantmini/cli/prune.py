"""`quantmini prune`: delete the partitions outside the configured range (quantmini.outside); a dry run
that only lists them unless --yes."""

from __future__ import annotations

from pathlib import Path

from quantmini.cli.common import console, disk_only, lake_root, load_config
from quantmini.config import resolve_range
from quantmini.outside import find_outside, prune as delete


def outside_of(args):
    """(root, partitions outside the range) for the config (and -s/-e) the command was given."""
    overrides = {k: v for k, v in (("start", getattr(args, "start", None)), ("end", getattr(args, "end", None))) if v}
    cfg = load_config(args.config, overrides)
    root = Path(args.data_root) if getattr(args, "data_root", None) else Path(cfg["data_root"])
    start, end = resolve_range(cfg)
    return root, start, end, find_outside(root, cfg, start, end)


def print_outside(con, found, start, end) -> None:
    from quantmini.outside import summary

    if found:
        con.print(f"[yellow]outside the range[/yellow] {start} .. {end} ({len(found)} partitions; "
                  "`quantmini prune` lists them, `quantmini prune --yes` deletes them):")
        for line in summary(found):
            con.print(f"  {line}")


def prune(args) -> int:
    disk_only(args, "prune")
    lake_root(args)  # no lake: "prune: no lake at ROOT"
    root, start, end, found = outside_of(args)
    con = console()
    if not found:
        con.print(f"lake {root}, {start} .. {end}: nothing outside the range")
        return 0
    for o in found:
        con.print(f"{'deleting' if args.yes else 'would delete'} {o.line()}", highlight=False)
    if args.yes:
        delete(found)
        con.print(f"deleted {len(found)} partitions outside {start} .. {end}")
    else:
        con.print(f"dry run: {len(found)} partitions outside {start} .. {end}; run again with --yes to delete them "
                  "(landing is kept)")
    return 0
