"""The job frame every rule script runs in: its log file, and failure as one line on stderr.

A rule script's user sees one line (`quantmini: <what>: <why>`) and a non-zero exit, never a traceback;
the job's log keeps the detail. `failing_as` gives the twenty scripts that one form.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path


def die(message: str, code: int = 1) -> None:
    """Print one line to stderr and exit: the form every user-facing error takes."""
    message = " ".join(str(message).split())  # an exception text may span lines: the user gets one
    print(f"quantmini: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def job_logging(log_path: str | None) -> logging.Logger:
    """Send the `quantmini` loggers of a job to its Snakemake log file (and warnings to stderr)."""
    logging.raiseExceptions = False  # a full disk must not print "--- Logging error ---" tracebacks
    logger = logging.getLogger("quantmini")
    logger.setLevel(logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(log_path, mode="w")
        fh.setFormatter(fmt)
        logger.addHandler(fh)
    sh = logging.StreamHandler(sys.stderr)
    sh.setLevel(logging.WARNING)
    sh.setFormatter(fmt)
    logger.addHandler(sh)
    return logger


def landing_manifest(files) -> Path:
    """A landing job's manifest (its output, or a bronze job's input): the declared file on disk; on object
    storage the job declares the whole landing folder (rules/common.smk, landing_output) and the manifest
    is inside it."""
    from quantmini.lake import MANIFEST

    return Path(files.manifest) if "manifest" in files.keys() else Path(files.landing) / MANIFEST


def start(smk) -> logging.Logger:
    """A rule script's logger, writing to the job's log file (the first `log:` entry, if any)."""
    return job_logging(smk.log[0] if smk.log else None)


@contextlib.contextmanager
def failing_as(what: str, log: logging.Logger, *, traceback: bool = False,
               plain: tuple[type[BaseException], ...] = (), describe=str) -> Iterator[None]:
    """Run a job's work; on an exception, log it and stop with `quantmini: <what>: <exception>`.

    `describe` turns the exception into the user's line (landing jobs: quantmini.plan.job_message, which
    names the earliest date a plan serves when the vendor refuses the timeframe).

    The log gets `<what> failed: <exception>`, or the traceback (`traceback=True`: code that should not
    fail) unless the exception is one of `plain` (bad input: a corrupt file, a full disk). SystemExit
    (a `die` inside) passes through untouched. The client keeps the API key out of every message.
    """
    try:
        yield
    except Exception as exc:
        if traceback and not isinstance(exc, plain):
            log.exception("%s failed", what)
        else:
            log.error("%s failed: %s", what, exc)
        die(f"{what}: {describe(exc)}")
