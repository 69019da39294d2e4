"""Partitions the lake holds outside the configured range: after `end` (or `start`) moves back, the months
beyond it stay on disk (no rule owns them any more, so no run removes or updates them). `status` and
`gaps` list them as "outside the range"; `quantmini prune` deletes them (dry run unless --yes).

Only bronze, silver, quarantine and validation reports of the enabled types are judged, by whole month
partitions, against the months the catalog expects for the range (financials' history months included).
Landing is never pruned: it holds the raw responses, and moving `end` forward again reuses them.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from quantmini import catalog
from quantmini.lake import LakePaths

_MONTH = re.compile(r"year=(\d{4})/month=(\d{2})(?:\.json)?$")


@dataclass(frozen=True)
class Outside:
    layer: str      # bronze, silver, quarantine or reports
    table: str
    month: str      # YYYY-MM
    path: Path      # the month folder (or report file) to delete

    def line(self) -> str:
        return f"{self.layer} {self.table} {self.month}: {self.path}"


def _allowed(cfg: dict, start: dt.date, end: dt.date) -> dict[tuple[str, str], set[tuple[int, int]]]:
    """(layer, table folder) -> the months the range expects there, for every enabled type."""
    months = catalog.range_months(start, end)
    rcfg = catalog.range_config(cfg, start, end)
    out: dict[tuple[str, str], set[tuple[int, int]]] = {}

    def add(layer: str, table: str, yms) -> None:
        out.setdefault((layer, table), set()).update(yms)

    for dtype in catalog.enabled(cfg):
        own = dtype.months(months, rcfg)
        for table in dtype.bronze:
            yms = dtype.table_months(table, months, rcfg)
            add("bronze", table.name, yms)
            add("quarantine", table.name, yms)
            add("reports", table.name, yms)
        for folder in dtype.report_dirs:
            add("reports", folder, own)
        for table in dtype.silver:
            add("silver", table.name, own)
    for side, owner in catalog.SILVER_SIDE_TABLES.items():
        if ("silver", owner) in out:  # its jobs write quarantine and reports beside silver
            add("quarantine", side, out[("silver", owner)])
            add("reports", side, out[("silver", owner)])
    return out


def find_outside(root: str | Path, cfg: dict, start: dt.date, end: dt.date) -> list[Outside]:
    """Every month partition of an enabled type's table outside the range, oldest first per table."""
    lake = LakePaths(root)
    found = []
    for (layer, table), yms in sorted(_allowed(cfg, start, end).items()):
        base = lake.root / "reports" / "validation" / table if layer == "reports" else lake.table_dir(layer, table)
        if not base.is_dir():
            continue
        pattern = "year=*/month=*.json" if layer == "reports" else "year=*/month=*"
        for path in sorted(base.glob(pattern)):
            m = _MONTH.search(path.relative_to(base).as_posix())
            if m and (int(m[1]), int(m[2])) not in yms:
                found.append(Outside(layer, table, f"{m[1]}-{m[2]}", path))
    return found


def summary(found: list[Outside]) -> list[str]:
    """One line per (layer, table): the months outside the range."""
    by: dict[tuple[str, str], list[str]] = {}
    for o in found:
        by.setdefault((o.layer, o.table), []).append(o.month)
    return [f"{layer} {table}: {', '.join(ms)}" for (layer, table), ms in by.items()]


def prune(found: list[Outside]) -> None:
    for o in found:
        if o.path.is_dir():
            shutil.rmtree(o.path)
        else:
            o.path.unlink(missing_ok=True)
