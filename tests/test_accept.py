"""`quantmini validate` names a flagged minute session (session, ticker, bars) and fails on it until a
person records it as accepted (`quantmini accept`, a file under reports/accepted/ with who and why);
then validate passes and still lists the flag with its acceptance."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl

from quantmini.lake import LakePaths


def small_lake(root: Path) -> None:
    """One stocks_minute month whose report flags 2025-03-03: ABC served 382 of 390 regular bars."""
    lake = LakePaths(root)
    bars = pl.DataFrame({"ticker": ["ABC"] * 3, "close": [1.0, 2.0, 3.0]})
    out = lake.bronze_session("stocks_minute", __import__("datetime").date(2025, 3, 3))
    out.parent.mkdir(parents=True)
    bars.write_parquet(out)
    report = {"dtype": "stocks_minute", "partition": "2025-03", "rows_in": 3, "rows_valid": 3, "rows_quarantined": 0,
              "ok": False, "flagged_sessions": ["2025-03-03"], "sessions_without_bars": [],
              "sessions": {"2025-03-03": {"regular_minutes": 390, "tickers": 1, "bars": 3, "regular_bars": 382,
                                          "incomplete": {"ABC": 382}}}}
    path = lake.validation_report("stocks_minute", 2025, 3)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(report))


def cli(root: Path, *args):
    return subprocess.run([sys.executable, "-m", "quantmini.cli", *args, "--data-root", str(root)],
                          capture_output=True, text=True, timeout=120)


def test_flag_is_named_then_accepted(tmp_path):
    root = tmp_path / "lake"
    small_lake(root)
    before = cli(root, "validate")
    assert before.returncode == 1
    assert "stocks_minute 2025-03-03 ABC: 382 of 390 regular minute bars" in before.stdout
    assert "quantmini accept stocks_minute 2025-03-03 --ticker ABC" in before.stdout

    wrong = cli(root, "accept", "stocks_minute", "2025-03-04", "--by", "ana", "--why", "known gap")
    assert wrong.returncode == 1 and wrong.stderr.startswith("quantmini: ") and len(wrong.stderr.splitlines()) == 1
    assert "nothing flagged for stocks_minute 2025-03-04" in wrong.stderr

    ok = cli(root, "accept", "stocks_minute", "2025-03-03", "--ticker", "ABC", "--by", "ana", "--why", "known gap")
    assert ok.returncode == 0, ok.stderr
    record = json.loads((LakePaths(root).accepted_dir() / "stocks_minute" / "2025-03-03_ABC.json").read_text())
    assert record["by"] == "ana" and record["why"] == "known gap" and record["bars"] == 382

    after = cli(root, "validate")
    assert after.returncode == 0, after.stdout[-2000:]
    assert "accepted: stocks_minute 2025-03-03 ABC" in after.stdout and "by ana: known gap" in after.stdout


def test_accept_needs_who_and_why(tmp_path):
    root = tmp_path / "lake"
    small_lake(root)
    proc = cli(root, "accept", "stocks_minute", "2025-03-03")
    assert proc.returncode == 2 and "--by" in proc.stderr
