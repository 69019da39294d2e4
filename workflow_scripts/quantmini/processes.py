"""Whether a recorded process is still the one that was recorded: its pid and its start time (a pid alone
may have been reused). Used for the run lock record, the simulator's temporary folders and temporary files
left by killed jobs."""

from __future__ import annotations

import os
from pathlib import Path


def process_start(pid: int) -> str | None:
    """The start time of a live process (field 22 of /proc/PID/stat), None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def alive(pid: int, start: str | None = None) -> bool:
    """The process `pid` exists (and, given its recorded start time, is the same process)."""
    if pid <= 0:
        return False
    now = process_start(pid)
    if now is None:
        try:
            os.kill(pid, 0)  # no /proc (not Linux): ask the kernel
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return start is None
    return start is None or now == start


def me() -> dict:
    """This process as a record for `alive(**record)`."""
    return {"pid": os.getpid(), "start": process_start(os.getpid())}
