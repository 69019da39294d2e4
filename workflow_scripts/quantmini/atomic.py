"""Atomic file writes: a reader or a crash never sees a half-written file under its final name."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `final`; on success fsync it and rename it over `final`.

    On any exception the temporary file is removed and `final` is left as it was. The name carries the
    writer's pid (`.<name>.<pid>-<random>.tmp`, see `temp_owner`) so the file of a killed writer can be
    told from one being written and swept at any time (quantmini.runstate.sweep_temp_files).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.{os.getpid()}-", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, final)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def is_temp_name(name: str) -> bool:
    """A temporary file of ours (hidden, `.tmp`): never a final name."""
    return name.startswith(".") and name.endswith(".tmp")


def temp_owner(name: str) -> int | None:
    """The pid of the process writing a temporary file named `.<name>.<pid>[-<random>].tmp`; None for a
    name without one (written before names carried it)."""
    if not is_temp_name(name):
        return None
    head = name[1:-4].rsplit(".", 1)[-1].split("-", 1)[0]
    return int(head) if head.isdigit() else None


def write_bytes(final: str | os.PathLike, data: bytes) -> None:
    with atomic_path(final) as tmp:
        tmp.write_bytes(data)


def write_text(final: str | os.PathLike, text: str) -> None:
    write_bytes(final, text.encode())
