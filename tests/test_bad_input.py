"""Bad input never half-changes the lake: one line naming the problem, a non-zero exit, other files intact.

- Every rule of config/schemas/config.schema.yaml is broken once (the cases are generated from the
  schema itself, so a new key or rule is covered without editing this file): one line naming the key.
- Whole runs (Snakemake against a live simulator) on copies of the session's reference lake: start after
  end, a read-only data_root, a full disk (a small tmpfs), a corrupt landing file, a truncated bronze
  Parquet file. The lake is hashed before and after: only the outputs of the job that failed may change
  (Snakemake removes a job's old outputs before running it; the next good run rebuilds them).
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import REFERENCE as R
from conftest import reference_sim
from quantmini import config as qm_config
from workflow_helpers import lake_differences, read_bronze, run_workflow, write_config

BASE = {"data_root": "lake", "source": "sim", "start": "2024-01-02", "end": "2024-03-28"}
SCHEMA = yaml.safe_load(qm_config.SCHEMA_PATH.read_text())
IGNORED = ("logs", "benchmarks", ".sim")  # run records, not lake content


# ------------------------------------------------------------------ every schema rule, from the schema
def _bad_values(sub: dict) -> list[tuple[str, object]]:
    """(rule, a value breaking it) for each rule of one property's schema."""
    types = sub.get("type")
    types = [types] if isinstance(types, str) else (types or [])
    out = []
    if types:
        out.append(("type", {"a": 1} if "object" not in types else "not-an-object"))
    if "enum" in sub:
        out.append(("enum", "no-such-" + str(sub["enum"][0])))
    if "pattern" in sub:
        out.append(("pattern", "not a match!"))
    if "minLength" in sub:
        out.append(("minLength", ""))
    if "minimum" in sub:
        out.append(("minimum", sub["minimum"] - 1))
    if "maximum" in sub:
        out.append(("maximum", sub["maximum"] + 1))
    if "exclusiveMinimum" in sub:
        out.append(("exclusiveMinimum", sub["exclusiveMinimum"]))
    if "minItems" in sub:
        out.append(("minItems", []))
    if sub.get("uniqueItems"):
        item = (sub.get("items") or {}).get("enum", ["AAPL"])[0]
        out.append(("uniqueItems", [item, item]))
    if "items" in sub:
        out += [(f"items.{rule}", [value]) for rule, value in _bad_values(sub["items"]) if rule != "type"]
    if "oneOf" in sub:
        out.append(("oneOf", "neither"))
        for branch in sub["oneOf"]:
            out += [(f"oneOf.{rule}", value) for rule, value in _bad_values(branch)
                    if rule not in ("type", "const")]
    return out


def schema_cases(schema: dict = SCHEMA, path: tuple = ()) -> list:
    cases = []
    for key, sub in schema.get("properties", {}).items():
        here = (*path, key)
        for rule, value in _bad_values(sub):
            cases.append(pytest.param(here, value, id=f"{'.'.join(here)}:{rule}"))
        if sub.get("type") == "object":
            cases += schema_cases(sub, here)
    if schema.get("additionalProperties") is False:
        cases.append(pytest.param((*path, "colour"), "blue", id=f"{'.'.join(path) or 'top'}:unknown key"))
    return cases


def _with(cfg: dict, path: tuple, value) -> dict:
    cfg = yaml.safe_load(yaml.safe_dump(cfg))
    node = cfg
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return cfg


@pytest.mark.parametrize("path, value", schema_cases())
def test_every_schema_rule_gives_one_line_naming_the_key(path, value):
    with pytest.raises(qm_config.ConfigError) as err:
        qm_config.validate(_with(BASE, path, value))
    message = str(err.value)
    assert "\n" not in message and message.startswith("config: "), message
    named = ".".join(path[:-1]) if path[-1] == "colour" else ".".join(path)
    assert named in message or (path[-1] == "colour" and "'colour'" in message), message


@pytest.mark.parametrize("key", SCHEMA["required"])
def test_a_missing_required_key_is_named(key):
    cfg = {k: v for k, v in BASE.items() if k != key}
    if key in SCHEMA["properties"] and "default" in SCHEMA["properties"][key]:
        assert qm_config.validate(cfg)[key] == SCHEMA["properties"][key]["default"]  # filled, not an error
        return
    with pytest.raises(qm_config.ConfigError, match=f"'{key}' is a required property"):
        qm_config.validate(cfg)


def test_schema_cases_cover_every_rule_kind():
    ids = {p.id.split(":", 1)[1] for p in schema_cases()}
    assert {"type", "enum", "pattern", "minimum", "maximum", "exclusiveMinimum", "minItems", "uniqueItems",
            "minLength", "oneOf", "unknown key", "items.enum", "oneOf.items.pattern"} <= ids, ids


@pytest.mark.parametrize("patch, needle", [
    ({"start": "2024-03-01", "end": "2024-02-01"}, "start (2024-03-01) is after end (2024-02-01)"),
    ({"data_types": ["stocks_daily", "crypto"]}, "data_types.1: 'crypto' is not one of"),
    ({"universe": ["AAPL", "aapl"]}, "universe.1: 'aapl'"),
    ({"source": "polygon"}, "source is 'polygon' but neither MASSIVE_API_KEY nor POLYGON_API_KEY is set"),
])
def test_config_problems_of_a_whole_run_are_one_line(patch, needle, monkeypatch):
    for name in qm_config.API_KEY_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(qm_config.ConfigError) as err:
        qm_config.validate({**BASE, **patch})
    assert needle in str(err.value) and "\n" not in str(err.value)


# ------------------------------------------------------------------ whole runs on a copy of the reference
def lake_hashes(lake: Path) -> dict[str, str]:
    return {str(p.relative_to(lake)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(lake.rglob("*"))
            if p.is_file() and p.relative_to(lake).parts[0] not in IGNORED}


@pytest.fixture
def copy(reference_lake, tmp_path):
    """A private copy of the reference workdir (lake, config and .snakemake metadata)."""
    work = tmp_path / "work"
    shutil.copytree(reference_lake.work, work, symlinks=True)
    cfg = {**yaml.safe_load((work / "config.yaml").read_text()), "data_root": str(work / "lake")}
    (work / "config.yaml").write_text(yaml.safe_dump(cfg))
    return work


def one_line(proc, needle: str) -> str:
    """The user-facing message: a `quantmini:` line naming the problem (one per failed job, each the same
    problem), no Python traceback, a non-zero exit."""
    assert proc.returncode != 0, "a bad input exited 0"
    ours = [line for line in proc.stderr.splitlines() if line.startswith("quantmini:")]
    assert ours and all(needle in line for line in ours), f"expected lines with {needle!r}:\n{proc.stderr[-3000:]}"
    assert "Traceback (most recent call last)" not in proc.stdout + proc.stderr, proc.stderr[-3000:]
    return ours[0]


def test_start_after_end_stops_before_any_job(copy):
    before = lake_hashes(copy / "lake")
    proc = run_workflow(copy, None, extra=("--config", "start=2024-03-01", "end=2024-02-01"), check=False)
    one_line(proc, "config: start (2024-03-01) is after end (2024-02-01)")
    assert lake_hashes(copy / "lake") == before


def test_unknown_ticker_in_universe_is_named_before_any_job(reference_lake, tmp_path):
    """A first run with a mistyped ticker: one line naming it, nothing written. (A run with nothing to
    do never asks: Snakemake runs no onstart then, and no data changes.)"""
    real = read_bronze(reference_lake.lake)["ticker"][0]
    write_config(tmp_path, **{**reference_lake.cfg, "universe": [real, "ZZZQX", "APPLE"]})
    with reference_sim() as sim:
        proc = run_workflow(tmp_path, sim.url, *R["targets"], env_extra={"MASSIVE_API_KEY": R["key"]}, check=False)
        asked = {r["path"] for r in sim.requests()}
    line = one_line(proc, "universe: unknown ticker(s) ZZZQX, APPLE:")
    assert real not in line and asked == {"/v3/reference/tickers"}, asked
    assert not [p for p in (tmp_path / "lake").rglob("*") if p.is_file()], "a refused run wrote to the lake"


def test_read_only_data_root_is_one_line_and_nothing_changes(copy):
    lake = copy / "lake"
    before = lake_hashes(lake)
    subprocess.run(["mount", "--bind", str(lake), str(lake)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(lake)], check=True)
        proc = run_workflow(copy, "http://127.0.0.1:9", check=False)
    finally:
        subprocess.run(["umount", str(lake)], check=True)
    line = one_line(proc, f"data_root {lake} is not writable")
    assert "Read-only file system" in line
    assert lake_hashes(lake) == before


def test_full_disk_is_one_line_and_leaves_no_partial_file(reference_lake, tmp_path):
    """data_root on a tmpfs too small for the lake: the job that hits ENOSPC says so in one line."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], check=True)
    try:
        work = tmp_path / "work"
        work.mkdir()
        write_config(work, **{**reference_lake.cfg, "data_root": str(mnt / "lake"), "data_types": ["stocks_daily"]})
        with reference_sim() as sim:
            proc = run_workflow(work, sim.url, "bronze", env_extra={"MASSIVE_API_KEY": R["key"]}, check=False)
        one_line(proc, "No space left on device")
        leftovers = [p for p in mnt.rglob("*") if p.name.endswith(".tmp")]
        assert not leftovers, f"temporary files left on a full disk: {leftovers}"
        _all_whole(mnt / "lake")
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def _all_whole(lake: Path) -> None:
    import polars as pl

    for p in lake.rglob("*"):
        if p.suffix == ".parquet":
            pl.read_parquet(p)
        elif p.name.endswith(".json.gz"):
            gzip.decompress(p.read_bytes())


def test_corrupt_landing_file_is_named_and_the_advice_repairs_it(copy, reference_lake):
    lake = copy / "lake"
    landed = sorted((lake / "landing/stocks_daily/year=2024/month=01").glob("*.json.gz"))[3]
    landed.write_bytes(landed.read_bytes()[:40])
    before = lake_hashes(lake)
    bronze = "bronze/stocks_daily/year=2024/month=01/data.parquet"
    proc = run_workflow(copy, None, "bronze", extra=("-R", "bronze_stocks_daily"), check=False)
    line = one_line(proc, f"corrupt landing file {landed}")
    assert "-R landing_stocks_daily" in line
    changed = {k for k, v in lake_hashes(lake).items() if before.get(k) != v} | (before.keys() - lake_hashes(lake).keys())
    assert changed <= {bronze, bronze.replace("bronze/", "quarantine/", 1),
                       "reports/validation/stocks_daily/year=2024/month=01.json"}, changed
    # the advice works: the landing job finds the corrupt file, downloads it again; the lake is as built
    with reference_sim() as sim:
        proc = run_workflow(copy, sim.url, "bronze", extra=("-R", "landing_stocks_daily"),
                            env_extra={"MASSIVE_API_KEY": R["key"]})
        asked = [r["path"] for r in sim.requests()]
    assert asked == [f"/v2/aggs/grouped/locale/us/market/stocks/{landed.name.split('.')[0]}"], asked
    assert f"quantmini: corrupt landing file {landed}: downloading it again" in proc.stderr
    assert not lake_differences(reference_lake.lake, lake, layers=("bronze", "landing"))


def test_truncated_bronze_parquet_is_named_and_deleting_it_repairs_it(copy, reference_lake):
    lake = copy / "lake"
    bronze = lake / "bronze/stocks_daily/year=2024/month=01/data.parquet"
    bronze.write_bytes(bronze.read_bytes()[: bronze.stat().st_size // 2])
    before = lake_hashes(lake)
    proc = run_workflow(copy, None, *R["targets"], check=False)
    line = one_line(proc, f"unreadable Parquet file {bronze}")
    assert "delete it and run again" in line
    after = lake_hashes(lake)
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert all(k.startswith(("silver/", "quarantine/corporate_actions/", "reports/validation/corporate_actions/",
                             "gold/")) for k in changed), changed
    bronze.unlink()
    with reference_sim() as sim:
        run_workflow(copy, sim.url, "bronze", env_extra={"MASSIVE_API_KEY": R["key"]})
        assert sim.requests() == [], "rebuilding bronze downloaded again"
    assert not lake_differences(reference_lake.lake, lake, layers=("bronze",))
