"""Rough edges of issue 15 on a copy of the reference lake: files `validate` must read back (a truncated
landing body, a cut or overwritten Qlib binary) and arguments that must not pass (`--thin-ratio nan`)."""

from __future__ import annotations

import gzip
import os
import shutil
import struct
import subprocess
import sys

import pytest


@pytest.fixture
def lake(reference_lake, tmp_path):
    root = tmp_path / "lake"
    for layer in ("landing", "bronze", "silver", "gold", "quarantine", "reports"):
        if (reference_lake.lake / layer).exists():
            shutil.copytree(reference_lake.lake / layer, root / layer)
    return root


def validate(root, cwd):
    env = {k: v for k, v in os.environ.items() if k not in ("MASSIVE_API_KEY", "POLYGON_API_KEY")}
    return subprocess.run([sys.executable, "-m", "quantmini.cli", "validate", "--data-root", str(root)], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=300)


def test_the_reference_lake_validates(lake, tmp_path):
    proc = validate(lake, tmp_path)
    assert proc.returncode == 0 and "validation: OK" in proc.stdout, proc.stdout[-3000:]


def test_a_truncated_landing_file_is_named_by_validate(lake, tmp_path):
    f = sorted((lake / "landing" / "stocks_daily").rglob("*.json.gz"))[3]
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    proc = validate(lake, tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"corrupt landing file {f}" in proc.stdout.replace("\n", ""), proc.stdout[-3000:]


@pytest.mark.parametrize("damage", ["truncate", "one_value_more", "head"])
def test_a_damaged_qlib_binary_is_named_by_validate(lake, tmp_path, damage):
    f = sorted((lake / "gold" / "qlib" / "features").glob("*/close.day.bin"))[0]
    raw = f.read_bytes()
    if damage == "truncate":
        f.write_bytes(raw[:-3])
    elif damage == "one_value_more":
        f.write_bytes(raw + struct.pack("<f", 1.0))
    else:
        f.write_bytes(struct.pack("<f", 12345.5) + raw[4:])
    proc = validate(lake, tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"corrupt Qlib file {f}" in proc.stdout.replace("\n", ""), proc.stdout[-3000:]


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "2"])
def test_thin_ratio_must_be_a_fraction(value, capsys):
    from quantmini.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["gaps", "--thin-ratio", value])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("quantmini: error: ") and value in err[0]


def test_a_gzip_that_is_whole_is_not_named(tmp_path):
    from quantmini.lake_check import landing_problems

    path = tmp_path / "landing" / "x" / "a.json.gz"
    path.parent.mkdir(parents=True)
    path.write_bytes(gzip.compress(b"{}"))
    assert landing_problems(tmp_path) == []
