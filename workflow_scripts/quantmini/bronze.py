"""Bronze plumbing shared by every data type: landing files read back (checked against their manifest),
the one error type for a landing file that cannot be read, and the Parquet writer (re-exported)."""

from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

from quantmini.parquet_io import PARQUET_OPTIONS, write_parquet  # noqa: F401 (re-exported)

# the landing job checks every landed file and downloads missing or corrupt ones again
REFETCH = "run again with `-R landing_stocks_daily` to download it again"


class CorruptLandingError(RuntimeError):
    """A landing file that cannot be read back (truncated gzip, invalid JSON)."""


def read_landing(path: Path) -> bytes:
    try:
        return gzip.decompress(path.read_bytes())
    except FileNotFoundError:
        raise CorruptLandingError(f"landing file missing: {path} ({REFETCH})") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise CorruptLandingError(f"corrupt landing file {path}: {exc}; {REFETCH}") from None


def read_listed_landing(path: Path, sha256: str) -> bytes:
    """A landing file a manifest lists, decompressed, after checking it is the file the manifest recorded."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CorruptLandingError(f"landing file missing: {path} (rerun the landing rule)") from None
    if hashlib.sha256(raw).hexdigest() != sha256:
        raise CorruptLandingError(f"landing file {path} does not match its manifest; delete both to download again")
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise CorruptLandingError(f"corrupt landing file {path}: {first}; delete it and its manifest to download "
                                  "again") from None
