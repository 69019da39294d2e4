"""The seed's configuration habits (issue 18, item 6): the API key from config/credentials.yaml after the
environment variables, refused when other users can read it; DATA_ROOT over `data_root`.

The end-to-end checks run the real workflow against a simulator that requires a marker key (so a build
that succeeds proves the key was read from where the test put it) and scan every file the run wrote and
its output for the key, in the forms test_secrets.forms lists.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from quantmini import settings as runtime  # the key's sources live in settings
from quantmini.credentials import CredentialsError, credentials_paths, file_api_key
from quantmini.sim.server import SimProcess
from test_secrets import forms
from workflow_helpers import read_bronze, run_workflow, write_config

KEY = "QMCRED-marker-51be07-KEY"
MARKET = dict(tickers=4, seed=3, start="2024-01-02", end="2024-01-31")


def credentials(work: Path, key: str = KEY, mode: int = 0o600, text: str | None = None) -> Path:
    path = work / "config" / "credentials.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text is not None else yaml.safe_dump({"polygon": {"api_key": key}}))
    path.chmod(mode)
    return path


def test_key_order_env_then_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in runtime.API_KEY_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    assert runtime.api_key() is None or credentials_paths()[-1].exists()  # a developer's own file
    path = credentials(tmp_path, key="from-file")
    assert credentials_paths()[0] == Path.cwd() / "config" / "credentials.yaml"
    assert runtime.api_key() == "from-file"
    assert runtime.api_key({"POLYGON_API_KEY": "poly"}) == "poly"
    assert runtime.api_key({"POLYGON_API_KEY": "poly", "MASSIVE_API_KEY": " massive "}) == "massive"
    assert runtime.api_key({"MASSIVE_API_KEY": "  ", "POLYGON_API_KEY": ""}) == "from-file"  # blank = unset
    path.chmod(0o640)
    assert runtime.api_key({"MASSIVE_API_KEY": "m"}) == "m"  # the file is not even read when env has one


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_file_others_can_read_is_refused_without_quoting_it(tmp_path, mode):
    path = credentials(tmp_path, mode=mode)
    with pytest.raises(CredentialsError) as err:
        file_api_key([path])
    msg = str(err.value)
    assert f"{mode:04o}" in msg and "chmod 600" in msg and KEY not in msg and "\n" not in msg


@pytest.mark.parametrize("text", [f"polygon: {{api_key: {KEY}\n", f"polygon:\n  api_key: {KEY}\n\tx: 1\n",
                                  f"polygon: {KEY}\n", "polygon: {api_key: ''}\n", "[1, 2]\n"])
def test_bad_file_is_one_line_without_the_key(tmp_path, text):
    path = credentials(tmp_path, text=text)
    with pytest.raises(CredentialsError) as err:
        file_api_key([path])
    assert KEY not in str(err.value) and "\n" not in str(err.value) and str(path) in str(err.value)


def scan(roots: list[Path], output: str, skip: Path) -> list[str]:
    needles = forms(KEY)
    files = [p for r in roots for p in r.rglob("*") if p.is_file() and p != skip]
    leaks = [str(p) for p in files for n in needles if n in p.read_bytes()]
    leaks += ["output" for n in needles if n.decode(errors="replace") in output]
    return leaks


def test_build_with_key_from_file_and_data_root_from_env(tmp_path):
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere" / "lake"
    work.mkdir()
    path = credentials(work)
    write_config(work, start=MARKET["start"], end=MARKET["end"])  # data_root: work/lake
    with SimProcess(api_key=KEY, request_log=str(tmp_path / "requests.jsonl"), **MARKET) as sim:
        proc = run_workflow(work, sim.url, "bronze", env_extra={"DATA_ROOT": str(elsewhere)})
        statuses = {r["status"] for r in sim.requests()}
    assert statuses == {200}, statuses  # the simulator demanded the key: it came from the file
    assert not (work / "lake").exists()
    bronze = read_bronze(elsewhere)
    assert bronze["date"].n_unique() == 21 and bronze["ticker"].n_unique() >= 3
    assert {p.name for p in (work / ".snakemake").iterdir()}  # Snakemake's metadata is scanned too
    assert not scan([work, elsewhere.parent], proc.stdout + proc.stderr, skip=path)


def test_wrong_key_from_file_fails_without_leaking_it(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    path = credentials(work)
    write_config(work, start=MARKET["start"], end=MARKET["end"])
    with SimProcess(api_key="another-key", **MARKET) as sim:
        proc = run_workflow(work, sim.url, "bronze", check=False)
    assert proc.returncode != 0
    assert "401" in proc.stderr and "Unknown API Key" in proc.stderr
    assert not scan([work], proc.stdout + proc.stderr, skip=path)


def test_readable_file_stops_the_run_with_one_line(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    path = credentials(work, mode=0o644)
    write_config(work, start=MARKET["start"], end=MARKET["end"])
    proc = run_workflow(work, "http://127.0.0.1:9", "bronze", check=False)  # never reached
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.startswith("quantmini:")]
    assert lines == [f"quantmini: credentials: {path} is readable or writable by other users (mode 0644); "
                     f"refusing it: run `chmod 600 {path}`"], proc.stderr
    assert not (work / "lake" / "landing").exists()
    assert KEY not in proc.stdout + proc.stderr
    os.chmod(path, 0o600)
