"""What each month of the lake should hold, kept in the lake: one small file per month listing its expected
sessions (`LakePaths.session_plan`), an input of every landing job; and one per config setting that decides
what partitions hold (`LakePaths.setting_plan`: the universe, options underlyings ...), an input of the jobs
it changes.

Snakemake reruns a month whose session list grew (a new day) by comparing params with its metadata in
`.snakemake/` of the working directory. That metadata is lost with a re-clone, a run from another
directory or a deleted `.snakemake/` -- and then "Nothing to be done" while the lake stays behind, every
day. The plan files carry the same fact in the lake itself: rewritten only when their content changes, so a
new session makes the month's plan newer than its landing (Snakemake's mtime trigger, which needs no
metadata), and an unchanged month is never touched.

They are written while Snakemake builds the DAG of a run that executes (rules/common.smk `at_dag_build`),
never at parse time: a dry run (`-n`) writes nothing into the lake.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from quantmini import atomic
from quantmini.lake import LakePaths


def plan_text(sessions) -> str:
    return json.dumps({"sessions": [d if isinstance(d, str) else d.isoformat() for d in sessions]}) + "\n"


# mtime of a plan file created for a month that already has a landing: the month is not made to look
# out of date by the file's creation (a lake built before plans existed must not rebuild)
OLD = 946_684_800  # 2000-01-01


def write_plan(path, sessions) -> None:
    """A plan file from the rule that creates a missing one (a new lake, a new month)."""
    atomic.write_text(Path(path), plan_text(sessions))


def write_session_plans(lake: LakePaths, partitions: Mapping) -> list:
    """At DAG build: rewrite every plan whose content changed (a new session: the month reruns); create a
    missing plan with an old mtime where the month was landed already (upgrade: nothing reruns). A new
    lake's plans are left to the `session_plan` rule, so a run refused before any job writes nothing.
    Returns the months rewritten."""
    written = []
    if not lake.landing_root().is_dir():
        return written
    for (y, m), part in sorted(partitions.items()):
        path = lake.session_plan(y, m)
        text = plan_text(part.sessions)
        try:
            old = path.read_text()
        except OSError:
            old = None
        if old == text:
            continue
        if old is None:
            if not any(lake.landing_root().glob(f"*/year={y:04d}/month={m:02d}")) and \
                    not any(lake.landing_root().glob(f"*/year={y:04d}/*manifest*")):
                continue  # a month never landed: the rule creates its plan with the run
            atomic.write_text(path, text)
            os.utime(path, (OLD, OLD))
        else:
            atomic.write_text(path, text)
        written.append((y, m))
    return written


def setting_text(value) -> str:
    """A setting's file: its value as JSON (the `setting_plan` rule prints the same text)."""
    return json.dumps(value, sort_keys=True) + "\n"


def _rewrite(path: Path, text: str, create_old: bool) -> bool:
    """Write `text` to `path` if it differs; a missing file only when `create_old`, then with an old mtime.
    Returns whether it was written."""
    try:
        old = path.read_text()
    except OSError:
        old = None
    if old == text or (old is None and not create_old):
        return False
    atomic.write_text(path, text)
    if old is None:
        os.utime(path, (OLD, OLD))
    return True


def write_setting_plans(lake: LakePaths, settings: Mapping) -> list:
    """At DAG build: rewrite every setting file whose value changed (the jobs reading it rerun); create a
    missing one with an old mtime in a lake that was landed already (upgrade: nothing reruns). A new lake's
    are left to the `setting_plan` rule. Returns the names rewritten."""
    if not lake.landing_root().is_dir():
        return []
    return [name for name, value in sorted(settings.items())
            if _rewrite(lake.setting_plan(name), setting_text(value), create_old=True)]


def write_changed(files: Mapping) -> list:
    """{path: text}: rewrite the existing files whose text changed (range stamps); missing ones are left to
    their rule. Returns the paths rewritten."""
    return [path for path, text in sorted(files.items()) if _rewrite(Path(path), text, create_old=False)]
