"""Imported at start-up by every Python process a `quantmini` build starts (its folder is put first on
PYTHONPATH by quantmini.cli.ingest): Ctrl-C reaches the whole process group, the jobs included, and a job
interrupted -- in its imports as much as in its work -- must end quietly (exit 130), not print a
KeyboardInterrupt traceback over the user's terminal. Snakemake itself stops the run; its temporary files
are swept by the next run (quantmini.runstate.sweep_temp_files)."""

import signal


def _quiet(signum, frame):
    raise SystemExit(130)  # unwinds (finally blocks run) without a traceback


if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
    signal.signal(signal.SIGINT, _quiet)
