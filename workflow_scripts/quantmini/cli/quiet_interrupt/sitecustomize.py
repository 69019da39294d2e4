"""Imported at start-up by every Python process a `quantmini` build starts (its folder is put first on
PYTHONPATH by quantmini.cli.ingest): Ctrl-C reaches the whole process group, the jobs included, and a job
interrupted -- in its imports as much as in its work -- must end quietly (exit 130), not print a
KeyboardInterrupt traceback over the user's terminal. Snakemake itself stops the run; its temporary files
are swept by the next run (quantmini.runstate.sweep_temp_files).

The process ends at once (os._exit) rather than unwinding: an exception raised from a signal handler lands
in whatever runs, and inside an asyncio task (a landing job's requests) the event loop prints it with its
traceback whatever the exception is. Every final file is written under a temporary name and renamed, so
nothing half-written is left under a final name."""

import os
import signal
import sys


def _quiet(signum, frame):
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 -- a closed pipe: nothing more to say
            pass
    os._exit(130)


if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    signal.signal(signal.SIGINT, _quiet)
