"""Values given on Snakemake's command line, typed as the config schema says.

`snakemake --config 'gold={alpha158: true}'` parses a nested value with YAML's BaseLoader, so every
scalar inside it stays a string ("true", "3") and a boolean key failed validation as "not of type
boolean". Where the schema asks for a boolean, number or null and the value is such a string, it is
read as YAML; anything else is left for the validator to reject with its one line.
"""

from __future__ import annotations

from typing import Any

import yaml

_SCALARS = {"boolean": bool, "integer": int, "number": (int, float), "null": type(None)}


def _types(schema: dict) -> list[str]:
    t = schema.get("type")
    out = [t] if isinstance(t, str) else list(t or [])
    for alt in schema.get("oneOf", []) + schema.get("anyOf", []):
        out += _types(alt)
    return out


def _scalar(value: str, schema: dict) -> Any:
    wanted = [_SCALARS[t] for t in _types(schema) if t in _SCALARS]
    if not wanted or "string" in _types(schema):
        return value
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    if isinstance(parsed, bool) and bool not in wanted:
        return value
    return parsed if any(isinstance(parsed, w) for w in wanted) else value


def coerce(instance: Any, schema: dict) -> Any:
    """A copy of `instance` with command-line strings typed where the schema asks for a scalar."""
    if isinstance(instance, dict) and schema.get("type") == "object":
        props = schema.get("properties", {})
        return {k: coerce(v, props[k]) if k in props else v for k, v in instance.items()}
    if isinstance(instance, list):
        items = schema.get("items")
        if isinstance(items, dict):
            return [coerce(v, items) for v in instance]
        for alt in schema.get("oneOf", []) + schema.get("anyOf", []):
            if alt.get("type") == "array" and isinstance(alt.get("items"), dict):
                return [coerce(v, alt["items"]) for v in instance]
        return instance
    if isinstance(instance, str):
        return _scalar(instance, schema)
    return instance
