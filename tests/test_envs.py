"""envs/quantmini.yaml mirrors uv.lock: the same direct runtime dependencies at the versions uv.lock pins
(for the environment's Python), and every rule that runs code names it, so `snakemake --sdm conda` runs
what `uv run snakemake` runs. The reference is uv.lock itself, read as TOML."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

import yaml
from conftest import REPO

ENV = REPO / "envs" / "quantmini.yaml"


def python_version(env: dict) -> tuple[int, int]:
    spec = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python="))
    major, minor = spec.split("=", 1)[1].split(".")[:2]
    return int(major), int(minor)


def marker_holds(marker: str | None, py: tuple[int, int]) -> bool:
    """uv.lock's python markers, e.g. "python_full_version < '3.12'" (the only kind our lock has)."""
    if not marker:
        return True
    ok = True
    for op, version in re.findall(r"python_full_version\s*([<>=!]=?)\s*'([\d.]+)'", marker):
        want = tuple(int(x) for x in version.split(".")[:2])
        ok &= {"<": py < want, "<=": py <= want, ">": py > want, ">=": py >= want, "==": py == want,
               "!=": py != want}[op]
    return ok


def lock_pins(py: tuple[int, int]) -> set[str]:
    lock = tomllib.loads((REPO / "uv.lock").read_text())
    versions: dict[str, list[str]] = {}
    for p in lock["package"]:
        versions.setdefault(p["name"], []).append(p["version"])
    project = next(p for p in lock["package"] if p["name"] == "quantmini")
    pins = set()
    for d in project["dependencies"]:
        if not marker_holds(d.get("marker"), py):
            continue
        version = d.get("version") or versions[d["name"]][0]
        extra = f"[{','.join(d['extra'])}]" if d.get("extra") else ""
        pins.add(f"{d['name']}{extra}=={version}")
    return pins


def env_pins(env: dict) -> set[str]:
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return set(pip)


def test_env_mirrors_uv_lock():
    env = yaml.safe_load(ENV.read_text())
    py = python_version(env)
    want, have = lock_pins(py), env_pins(env)
    assert have == want, f"envs/quantmini.yaml drifted from uv.lock: add {sorted(want - have)}, drop {sorted(have - want)}"


def test_the_drift_check_can_fail():
    env = yaml.safe_load(ENV.read_text())
    pins = env_pins(env)
    assert any(p.startswith("polars==") for p in pins)
    assert lock_pins(python_version(env)) != {p for p in pins if not p.startswith("polars==")}
    assert marker_holds("python_full_version < '3.12'", (3, 11)) and not marker_holds("python_full_version >= '3.12'", (3, 11))


def test_every_rule_that_runs_code_names_the_env():
    for f in sorted((REPO / "rules").glob("*.smk")):
        text = f.read_text()
        actions = len(re.findall(r"^\s+(script|shell|run):", text, flags=re.M))
        envs = len(re.findall(r'^\s+conda:\n\s+"\.\./envs/quantmini\.yaml"', text, flags=re.M))
        assert actions == envs, f"{f.name}: {actions} rule action(s), {envs} conda: envs/quantmini.yaml"
        assert not re.search(r"^\s+run:", text, flags=re.M), f"{f.name}: a run: block cannot use a conda env"


def test_lint_reports_nothing(tmp_path):
    """`snakemake --lint` on the default config: no finding (the profile would also pass)."""
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--lint", "-s", str(REPO / "Snakefile"),
                           "--directory", str(tmp_path), "--config", f"data_root={tmp_path / 'lake'}"],
                          capture_output=True, text=True, timeout=300)
    findings = [line for line in proc.stdout.splitlines() + proc.stderr.splitlines() if line.startswith("Lints for")]
    assert not findings, proc.stdout[-4000:] + proc.stderr[-2000:]
