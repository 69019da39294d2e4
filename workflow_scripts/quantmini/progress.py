"""Progress of long downloads: a rich bar on a terminal, a log line every ~10% otherwise.

Shows units done/total, request rate, retries and the ETA, from the client's cheap counters.
"""

from __future__ import annotations

import logging
import sys
import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)


class DownloadProgress:
    def __init__(self, label: str, total: int, stats, log: logging.Logger):
        self.label, self.total, self.stats, self.log = label, total, stats, log
        self.done = 0
        self.t0 = time.monotonic()
        self._next_log = 0.1
        self._bar = None
        if total and sys.stderr.isatty():
            self._bar = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:.1f} req/s, {task.fields[retries]} retries"),
                TimeRemainingColumn(), console=Console(stderr=True), transient=False,
            )
            self._task = self._bar.add_task(label, total=total, rate=0.0, retries=0)

    def __enter__(self):
        if self._bar:
            self._bar.start()
        return self

    def __exit__(self, *exc):
        if self._bar:
            self._bar.stop()

    def advance(self) -> None:
        self.done += 1
        elapsed = max(time.monotonic() - self.t0, 1e-9)
        rate = self.stats.requests / elapsed
        if self._bar:
            self._bar.update(self._task, advance=1, rate=rate, retries=self.stats.retries)
        elif self.done / self.total >= self._next_log or self.done == self.total:
            eta = elapsed / self.done * (self.total - self.done)
            self.log.info("%s: %d/%d, %.1f req/s, %d retries, ETA %.0fs",
                          self.label, self.done, self.total, rate, self.stats.retries, eta)
            self._next_log = self.done / self.total + 0.1
