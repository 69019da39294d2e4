"""What the `quantmini` commands share: the config they read, their argument types, how they fail, and
their console output."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import yaml

from quantmini import catalog
from quantmini import config as qm_config
from quantmini.argtypes import number

REPO = Path(__file__).resolve().parents[3]
DEFAULT_CONFIG = REPO / "config" / "config.yaml"
PROFILE = REPO / "profiles" / "default" / "config.yaml"


DATA_TYPES = catalog.DATA_TYPES  # every data type the workflow knows, in the catalog's order
LAYERS = ("bronze", "silver", "gold", "all")


class UsageError(Exception):
    """Bad input, phrased as one line."""


INTERRUPTS: list[int] = []  # SIGINTs received by this command (quantmini.cli.main)


def on_interrupt(signum, frame):
    """Ctrl-C: remembered (a library may turn the KeyboardInterrupt into its own error, e.g. DuckDB's
    "Query interrupted", or Snakemake into a failed run), then raised so `finally` blocks clean up."""
    INTERRUPTS.append(signum)
    raise KeyboardInterrupt


def fail(message: str, code: int) -> int:
    print(f"quantmini: {message}", file=sys.stderr, flush=True)
    return code


# ---------------------------------------------------------------------- configuration
def date_arg(raw: str) -> str:
    if raw == "today":
        return raw
    try:
        return dt.date.fromisoformat(raw).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{raw}' is not a YYYY-MM-DD date (or 'today')") from None


positive = number(int, 1)


def memory_size(raw: str) -> str:
    """A DuckDB memory size such as 512MB or 2GiB (anything else would fail inside DuckDB with a traceback)."""
    import re

    if not re.fullmatch(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", raw.strip(), re.IGNORECASE):
        raise argparse.ArgumentTypeError(f"'{raw}' is not a memory size such as 512MB or 2GB")
    return raw.strip()


def data_types(values: list[str] | None) -> list[str]:
    out = []
    for v in values or []:
        for t in filter(None, v.split(",")):
            if t not in DATA_TYPES:
                raise UsageError(f"unknown data type {t!r} (one of: {', '.join(DATA_TYPES)})")
            out.append(t)
    return list(dict.fromkeys(out))


def load_config(path: str | None, overrides: dict | None = None) -> dict:
    """The config Snakemake would see: the repository's config.yaml, then FILE over it, then overrides."""
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text()) or {}
    if path:
        try:
            user = yaml.safe_load(Path(path).read_text())
        except FileNotFoundError:
            raise qm_config.ConfigError(f"config: file not found: {path}") from None
        except yaml.YAMLError as exc:
            raise qm_config.ConfigError(f"config: {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
        if not isinstance(user, dict):
            raise qm_config.ConfigError(f"config: {path} is not a mapping of keys to values")
        _merge(raw, user)
    raw.update(overrides or {})
    return qm_config.validate(raw)


def _merge(base: dict, new: dict) -> None:
    """Nested update, as Snakemake merges --configfile over the workflow's configfile."""
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def lake_location(args, cfg: dict | None = None) -> Path | str:
    """The lake's folder, or with `storage: s3://...` its URL `s3://bucket/prefix/<data_root>` (read in
    place, quantmini.lake_db.Lake)."""
    if getattr(args, "data_root", None):
        return Path(args.data_root)
    cfg = cfg or load_config(args.config)
    if cfg.get("storage"):
        return f"{cfg['storage'].rstrip('/')}/{cfg['data_root'].strip('/')}"
    return Path(cfg["data_root"])


def disk_only(args, command: str) -> None:
    """Commands that read a lake on disk only: with `storage:` set they stop with one line (README, Object
    storage: what is not on object storage yet) instead of judging an empty local folder."""
    if getattr(args, "data_root", None):
        return
    cfg = load_config(args.config)
    if cfg.get("storage"):
        raise ValueError(f"{command} works on a lake on disk only, not yet one on object storage "
                         f"({cfg['storage']}); `quantmini gaps` and `validate` read the bucket")


def lake_root(args) -> Path | str:
    """The lake a read-only command reads; none there fails the command (main: "CMD: no lake at ROOT", exit 1)."""
    root = lake_location(args)
    if isinstance(root, str):  # object storage: the bucket must answer (one line otherwise) and hold a lake
        from quantmini import storage

        storage.check_bucket(root)
        fs = storage.filesystem()
        if not any(fs.exists(f"{root}/{d}") for d in ("landing", "bronze", "silver")):
            raise FileNotFoundError(f"no lake at {root} (no landing, bronze or silver objects)")
        return root
    if not root.is_dir():
        raise FileNotFoundError(f"no lake at {root}")
    if not any((root / d).is_dir() for d in ("landing", "bronze", "silver", "gold", "quarantine")):
        # an empty folder (a typo, an unmounted disk) is not an empty lake that is "OK"
        raise FileNotFoundError(f"no lake at {root} (no landing, bronze, silver, gold or quarantine folder)")
    return root


# ---------------------------------------------------------------------- console output
def console():
    from rich.console import Console

    return Console(width=200 if not sys.stdout.isatty() else None)


def rich_table(df, title: str | None = None):
    from rich.table import Table

    table = Table(title=title)
    for c in df.columns:
        table.add_column(c, overflow="fold")
    for row in df.iter_rows():
        table.add_row(*("" if v is None else str(v) for v in row))
    return table


def size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)
