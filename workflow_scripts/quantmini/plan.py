"""What each month of the lake should hold, kept in the lake: one small file per month listing its expected
sessions (`LakePaths.session_plan`), an input of every landing job.

Snakemake reruns a month whose session list grew (a new day) by comparing params with its metadata in
`.snakemake/` of the working directory. That metadata is lost with a re-clone, a run from another
directory or a deleted `.snakemake/` -- and then "Nothing to be done" while the lake stays behind, every
day. The plan files carry the same fact in the lake itself: rewritten only when their content changes, so a
new session makes the month's plan newer than its landing (Snakemake's mtime trigger, which needs no
metadata), and an unchanged month is never touched.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from quantmini import atomic
from quantmini.lake import LakePaths


def plan_text(sessions) -> str:
    return json.dumps({"sessions": [d.isoformat() for d in sessions]}) + "\n"


def write_session_plans(lake: LakePaths, partitions: Mapping) -> list:
    """Write the plan of every (year, month) -> MonthPartition whose content changed; return those written."""
    written = []
    for (y, m), part in sorted(partitions.items()):
        path = lake.session_plan(y, m)
        text = plan_text(part.sessions)
        try:
            if path.read_text() == text:
                continue
        except OSError:
            pass
        atomic.write_text(path, text)
        written.append((y, m))
    return written
