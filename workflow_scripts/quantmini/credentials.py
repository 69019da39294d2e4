"""Where the API key and the lake's root come from, beside the configuration (the seed's habits).

The key sources, first found wins: MASSIVE_API_KEY, POLYGON_API_KEY, then `config/credentials.yaml`
(`polygon: {api_key: ...}`), looked for in the working directory (Snakemake's `--directory`) and then
in the repository. The file is git-ignored and must be readable by its owner only: a key other users
can read is already leaked, so such a file is refused rather than used. No message here ever quotes the
file's content (a YAML error would otherwise show the line holding the key).

`DATA_ROOT` in the environment overrides the configuration's `data_root` (deployments keep one config
and point each host at its own disk).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import yaml

CREDENTIALS_FILE = Path("config") / "credentials.yaml"
REPO = Path(__file__).resolve().parents[2]
DATA_ROOT_ENV = "DATA_ROOT"


class CredentialsError(ValueError):
    """The credentials file cannot be used; one line, never the key."""


def credentials_paths(cwd: Path | None = None) -> list[Path]:
    """Candidate files, in order: the working directory's config/, then the repository's."""
    here = (cwd or Path.cwd()) / CREDENTIALS_FILE
    repo = REPO / CREDENTIALS_FILE
    return [here] if here.resolve() == repo.resolve() else [here, repo]


def file_api_key(paths: list[Path] | None = None) -> str | None:
    """`polygon.api_key` of the first credentials file that exists, else None.

    Raises CredentialsError when that file is readable by group or others, unreadable, not YAML, or
    has no usable `polygon.api_key`.
    """
    for path in paths if paths is not None else credentials_paths():
        try:
            st = path.stat()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise CredentialsError(f"{path}: cannot be read ({exc.strerror})") from None
        if st.st_mode & (stat.S_IRGRP | stat.S_IROTH | stat.S_IWGRP | stat.S_IWOTH):
            raise CredentialsError(
                f"{path} is readable or writable by other users (mode {stat.S_IMODE(st.st_mode):04o}); refusing it: "
                f"run `chmod 600 {path}`")
        try:
            doc = yaml.safe_load(path.read_text())
        except OSError as exc:
            raise CredentialsError(f"{path}: cannot be read ({exc.strerror})") from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1})" if mark is not None else ""
            raise CredentialsError(f"{path} is not valid YAML{where}") from None
        polygon = doc.get("polygon") if isinstance(doc, dict) else None
        key = polygon.get("api_key") if isinstance(polygon, dict) else None
        if not isinstance(key, str) or not key.strip():
            raise CredentialsError(f"{path} has no polygon.api_key (expected `polygon: {{api_key: ...}}`)")
        return key.strip()
    return None


def data_root_override(env=None) -> str | None:
    """DATA_ROOT from the environment (blank counts as unset)."""
    env = os.environ if env is None else env
    value = (env.get(DATA_ROOT_ENV) or "").strip()
    return value or None
