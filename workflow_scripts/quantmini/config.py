"""The workflow configuration: validated against config/schemas/config.schema.yaml, with defaults filled.

A bad value must stop the run with one line that names the key and what is wrong, before any job runs.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from quantmini import calendar
from quantmini.catalog import missing_requirements
from quantmini.credentials import CredentialsError, data_root_override
from quantmini.settings import API_KEY_ENV_VARS, api_key  # noqa: F401 (re-exported)

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "config" / "schemas" / "config.schema.yaml"


class ConfigError(ValueError):
    """A configuration problem, already phrased as one line for the user."""


def _schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _fill_defaults(instance: Any, schema: dict) -> None:
    """Fill schema defaults into nested objects (jsonschema only validates)."""
    if not isinstance(instance, dict) or schema.get("type") != "object":
        return
    for key, sub in schema.get("properties", {}).items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key in instance:
            _fill_defaults(instance[key], sub)


def _where(error) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    return path or "(top level)"


def _describe(error) -> str:
    if error.validator == "additionalProperties":
        return error.message.replace("Additional properties are not allowed", "unknown key")
    if error.validator == "oneOf" and error.absolute_path and error.absolute_path[-1] == "universe":
        return f"{error.instance!r} is neither 'all' nor a list of upper-case tickers"
    if error.validator == "pattern" and isinstance(error.instance, str):
        return f"{error.instance!r} does not have the expected form ({error.schema['pattern']})"
    return error.message


def _import_jsonschema():
    """jsonschema, imported here (job scripts import this module and need none of it) and without
    rfc3987_syntax: when installed (pyqlib -> jupyter brings it) jsonschema's format module imports it, and
    it compiles 39 lark grammars at import -- over a second of every Snakemake start. Our schema uses no
    IRI formats, so jsonschema is told the package is absent while it loads."""
    import sys

    if "jsonschema" in sys.modules or "rfc3987_syntax" in sys.modules:
        import jsonschema

        return jsonschema
    sys.modules["rfc3987_syntax"] = None  # makes `import rfc3987_syntax` raise ImportError
    try:
        import jsonschema
    finally:
        del sys.modules["rfc3987_syntax"]
    return jsonschema


def validate(raw: dict) -> dict:
    """Return a validated copy of `raw` with defaults filled; raise ConfigError (one line) if bad."""
    jsonschema = _import_jsonschema()

    cfg = copy.deepcopy(raw) if raw is not None else {}
    if not isinstance(cfg, dict):
        raise ConfigError("config: the configuration must be a mapping of keys to values")
    if data_root_override():  # DATA_ROOT in the environment wins over the file and --config
        cfg["data_root"] = data_root_override()
    schema = _schema()
    _fill_defaults(cfg, schema)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: (list(e.absolute_path), e.message))
    if errors:
        err = jsonschema.exceptions.best_match(errors)
        raise ConfigError(f"config: {_where(err)}: {_describe(err)}")
    for key in ("start", "end"):
        if cfg[key] != "today":
            try:
                dt.date.fromisoformat(cfg[key])
            except ValueError:
                raise ConfigError(f"config: {key}: {cfg[key]!r} is not a real calendar date") from None
    start, end = resolve_range(cfg)
    if start > end:
        raise ConfigError(f"config: start ({start}) is after end ({end})")
    if start < calendar.EARLIEST_START:
        raise ConfigError(f"config: start: {start} is before {calendar.EARLIEST_START}, the earliest start "
                          "quantmini's XNYS calendar supports")
    if not calendar.sessions(start, end):
        raise ConfigError(f"config: no XNYS session between start ({start}) and end ({end})")
    _check_sections(cfg)
    for problem in missing_requirements(cfg)[:1]:  # the catalog says which keys each type needs
        raise ConfigError(problem)
    try:
        key = api_key()  # also refuses, before any job, a credentials file other users can read
    except CredentialsError as exc:
        raise ConfigError(f"credentials: {exc}") from None
    if cfg["source"] == "polygon" and not key:
        raise ConfigError(
            "config: source is 'polygon' but neither MASSIVE_API_KEY nor POLYGON_API_KEY is set "
            "and there is no config/credentials.yaml"
        )
    return cfg


def _check_key() -> None:
    """A key with a newline or a space inside (a bad export, a pasted line) fails as a bad key here, not
    as an HTTP protocol error in a job. The message names the variable, never the key."""
    import re

    for name in API_KEY_ENV_VARS:
        value = (os.environ.get(name) or "").strip()
        if value:
            if not re.fullmatch(r"[\x21-\x7e]+", value):
                raise ConfigError(f"config: {name}: bad key: it contains a newline, a space or another character "
                                  "no API key has (check how it was exported)")
            return


def _check_sections(cfg: dict) -> None:
    """What the schema cannot say: a fault spec that parses, options underlyings inside a listed universe,
    an API key that can be sent."""
    from quantmini.sim.faults import parse_fault_spec

    _check_key()
    try:
        parse_fault_spec((cfg.get("sim") or {}).get("faults"))
    except ValueError as exc:
        raise ConfigError(f"config: sim.faults: {exc}") from None
    underlyings = (cfg.get("options") or {}).get("underlyings") or []
    if "options_daily" in cfg.get("data_types", []) and isinstance(cfg.get("universe"), list):
        outside = [u for u in underlyings if u not in cfg["universe"]]
        if outside:
            raise ConfigError(f"config: options.underlyings: {', '.join(outside)} not in `universe` "
                              "(options need their underlying's daily bars)")


def load(path: str | os.PathLike) -> dict:
    """Read a YAML file and validate it."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"config: file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config: {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    return validate(raw)


def resolve_end(value: str, now: dt.datetime | None = None, settle_hours: float | None = None) -> dt.date:
    """`today` = the last settled session (quantmini.settle; settle_hours None = the default)."""
    if value == "today":
        from quantmini import settle

        return settle.last_settled_session(now, settle.DEFAULT_SETTLE_HOURS if settle_hours is None else settle_hours)
    return dt.date.fromisoformat(value)


def resolve_range(cfg: dict, now: dt.datetime | None = None) -> tuple[dt.date, dt.date]:
    return dt.date.fromisoformat(cfg["start"]), resolve_end(cfg["end"], now, cfg.get("settle"))


@dataclass(frozen=True)
class MonthPartition:
    """One year=YYYY/month=MM partition and the sessions of the configured range inside it."""

    year: int
    month: int
    sessions: tuple[dt.date, ...]

    @property
    def key(self) -> str:
        return f"year={self.year:04d}/month={self.month:02d}"


def month_partitions(cfg: dict, now: dt.datetime | None = None) -> list[MonthPartition]:
    start, end = resolve_range(cfg, now)
    return [
        MonthPartition(y, m, tuple(days)) for (y, m), days in calendar.month_sessions(start, end).items()
    ]
