"""`validate`'s checks of the files bronze does not cover: landing bodies and Qlib binaries.

A truncated landing `.json.gz` or a cut gold `.bin` used to surface only at the next publish or a forced
rerun; `quantmini validate` now reads them back. Landing: every gzip must decompress to its end. Gold: a
feature file is a float32 start index then one float32 per session, so its size, its start and its length
must agree with the calendar and the instrument's span in instruments/all.txt.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from quantmini.lake_files import DiskFiles


def landing_problems(root: Path, where=None) -> list[str]:
    """Landing bodies that do not decompress to their end. `where`: the lake's files (quantmini.lake_files:
    a bucket lake's objects are streamed), else the folder `root`."""
    where = where or DiskFiles(root)
    out = []
    for f in where.rglob(where.root / "landing", "*.json.gz"):
        try:
            with where.open(f) as raw, gzip.open(raw, "rb") as fh:
                while fh.read(1 << 20):
                    pass
        except (OSError, EOFError, zlib.error) as exc:
            first = (str(exc).splitlines() or [type(exc).__name__])[0][:120]
            out.append(f"corrupt landing file {where.shown(f)}: {first}; delete it and run again to download it "
                       "again")
    return out


def _spans(provider: Path, calendar: list[str]) -> dict[str, tuple[int, int]]:
    index = {d: i for i, d in enumerate(calendar)}
    spans = {}
    path = provider / "instruments" / "all.txt"
    if path.exists():
        for line in path.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) == 3 and parts[1] in index and parts[2] in index:
                spans[parts[0].lower()] = (index[parts[1]], index[parts[2]])
    return spans


def gold_problems(root: Path) -> list[str]:
    out = []
    for cal_file in sorted((Path(root) / "gold").rglob("calendars/*.txt")):
        provider, freq = cal_file.parent.parent, cal_file.stem
        calendar = cal_file.read_text().split("\n")
        calendar = [c.strip() for c in calendar if c.strip()]
        spans = _spans(provider, calendar) if freq == "day" else {}
        for f in sorted((provider / "features").glob(f"*/*.{freq}.bin")):
            size = f.stat().st_size
            why = None
            if size < 8 or size % 4:
                why = f"{size} bytes is not a start index and whole float32 values"
            else:
                head = np.fromfile(f, dtype="<f4", count=1)[0]
                n = size // 4 - 1
                if not np.isfinite(head) or head != int(head) or head < 0 or int(head) + n > len(calendar):
                    why = f"start index {head} with {n} values does not fit the {len(calendar)}-session calendar"
                elif f.parent.name in spans and spans[f.parent.name] != (int(head), int(head) + n - 1):
                    lo, hi = spans[f.parent.name]
                    why = f"{n} values from session {int(head)}, its instrument spans sessions {lo}..{hi}"
            if why:
                out.append(f"corrupt Qlib file {f}: {why}; rerun the gold publish (-R gold) to rewrite it")
    return out
