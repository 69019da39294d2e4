"""Where a reader that walks the lake's layout finds its files: a folder on disk, or a bucket.

`quantmini.gaps` asks of hundreds of paths whether they exist (every landing file a manifest lists, every
partition the catalog expects). On disk that is a stat each; on object storage a HEAD request each would
make `gaps` take minutes on a full-market lake, so a bucket's keys under the lake are listed once and
every question is answered from that listing; only the files actually read are fetched.
Both kinds take and return the paths `LakePaths` composes (a bucket lake's root is its key prefix).
"""

from __future__ import annotations

import os
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import BinaryIO


class DiskFiles:
    """The lake in a folder."""

    remote = False

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def exists(self, path: Path) -> bool:
        return path.exists()

    def is_dir(self, path: Path) -> bool:
        return path.is_dir()

    def glob(self, folder: Path, pattern: str) -> list[Path]:
        return sorted(folder.glob(pattern))

    def rglob(self, folder: Path, name_pattern: str) -> list[Path]:
        return sorted(folder.rglob(name_pattern))

    def entries(self, folder: Path) -> list[str]:
        """Names of the files and folders directly in `folder` (none when it is not there)."""
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []

    def read_text(self, path: Path) -> str:
        return path.read_text()

    def open(self, path: Path) -> BinaryIO:
        return open(path, "rb")

    def parquet_source(self, path: Path) -> Path:
        return path

    def shown(self, path: Path) -> str:
        return str(path)


class BucketFiles:
    """The lake under `s3://bucket/prefix`, its keys listed once (one paginated LIST, not a HEAD per path)."""

    remote = True

    def __init__(self, url: str, fs=None):
        if fs is None:
            from quantmini import storage

            fs = storage.filesystem()
        self.fs = fs
        self.url = url.rstrip("/")
        base = self.url.removeprefix("s3://")
        self.root = Path(base)  # what LakePaths composes: the keys, without the scheme
        self.keys = {k for k in fs.find(base)}
        self.dirs = {str(p) for k in self.keys for p in PurePosixPath(k).parents}

    def exists(self, path: Path) -> bool:
        return str(path) in self.keys or str(path) in self.dirs

    def is_dir(self, path: Path) -> bool:
        return str(path) in self.dirs

    def glob(self, folder: Path, pattern: str) -> list[Path]:
        """Keys under `folder` matching `pattern` component by component (`*` never crosses a `/`)."""
        want = PurePosixPath(str(folder), pattern)
        depth = len(want.parts)
        prefix = str(folder).rstrip("/") + "/"
        return sorted(Path(k) for k in self.keys
                      if k.startswith(prefix) and len(PurePosixPath(k).parts) == depth and PurePosixPath(k).match(str(want)))

    def rglob(self, folder: Path, name_pattern: str) -> list[Path]:
        """Keys anywhere under `folder` whose last component matches `name_pattern`."""
        prefix = str(folder).rstrip("/") + "/"
        return sorted(Path(k) for k in self.keys if k.startswith(prefix) and fnmatch(k.rsplit("/", 1)[-1], name_pattern))

    def entries(self, folder: Path) -> list[str]:
        prefix = str(folder).rstrip("/") + "/"
        return sorted({k[len(prefix):].split("/", 1)[0] for k in self.keys if k.startswith(prefix)})

    def open(self, path: Path) -> BinaryIO:
        return self.fs.open(str(path), "rb")

    def read_text(self, path: Path) -> str:
        if str(path) not in self.keys:
            raise FileNotFoundError(f"s3://{path}")
        return self.fs.cat_file(str(path)).decode()

    def parquet_source(self, path: Path) -> BinaryIO:
        """An open object for polars to read (it reads the footer and the columns it needs through it)."""
        return self.fs.open(str(path), "rb")

    def shown(self, path: Path) -> str:
        return f"s3://{path}"


def is_remote(root) -> bool:
    """A lake on object storage (`s3://bucket/prefix/<data_root>`, README "Object storage")."""
    return isinstance(root, str) and root.startswith("s3://")


def lake_files(root: str | os.PathLike) -> DiskFiles | BucketFiles:
    """The lake at `root`: `s3://...` a bucket, anything else a folder."""
    return BucketFiles(root) if is_remote(root) else DiskFiles(root)
