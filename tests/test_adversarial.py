"""A hostile or careless user against the lake's read commands (issue 15): every case is an attack or a
mistake found by the red team, run through the real CLI over a real lake and real DuckDB.

The lake here is small and written the workflow's way (LakePaths, write_parquet) from the simulator's
market, so these tests take seconds; bench/redteam.py runs the same family against a demo-sized build.
"""

from __future__ import annotations

import hashlib
import os
import resource
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from quantmini.lake import LakePaths
from quantmini.parquet_io import write_parquet
from quantmini.sim.market import Market, MarketConfig

BARS = ["ticker", "date", "open", "high", "low", "close", "volume", "vwap", "transactions"]


@pytest.fixture(scope="module")
def truth() -> pl.DataFrame:
    return Market(MarketConfig(seed=7, n_tickers=6, start="2024-01-02", end="2024-02-29")).daily_raw() \
        .select(BARS).sort("ticker", "date")


def build_lake(root: Path, truth: pl.DataFrame) -> Path:
    lake = LakePaths(root)
    for (y, m), part in truth.group_by(pl.col("date").dt.year().alias("y"), pl.col("date").dt.month().alias("m")):
        write_parquet(part.sort("ticker", "date"), lake.bronze("stocks_daily", y, m))
        write_parquet(part.head(0).with_columns(reason=pl.lit(None, pl.Utf8)), lake.quarantine("stocks_daily", y, m))
    return root


@pytest.fixture
def lake(truth, tmp_path) -> Path:
    return build_lake(tmp_path / "lake", truth)


def tree(root: Path) -> dict[str, str]:
    """Every file under root and its hash: "writes nothing" means this does not change."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def run(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """The console script as a user runs it, in `cwd` (relative paths a statement writes land there)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MASSIVE_API_KEY", "POLYGON_API_KEY")}
    return subprocess.run([sys.executable, "-m", "quantmini.cli", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def one_line(proc: subprocess.CompletedProcess, needle: str) -> str:
    assert proc.returncode != 0, proc.stdout[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("quantmini: "), proc.stderr[-3000:]
    assert needle.lower() in lines[0].lower(), lines[0]
    assert "Traceback" not in proc.stderr
    return lines[0]


# ---------------------------------------------------------------------- defect 2: query is read-only
def test_query_reads_the_lake(lake, truth, tmp_path):
    proc = run("query", "--data-root", str(lake), "--format", "csv",
               "SELECT count(*) AS n FROM bronze_stocks_daily", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["n", str(truth.height)]


def test_query_cannot_replace_a_partition(lake, tmp_path):
    part = lake / "bronze/stocks_daily/year=2024/month=01/data.parquet"
    before = tree(lake)
    proc = run("query", "--data-root", str(lake),
               f"COPY (SELECT 'pwned' AS x) TO '{part}' (FORMAT parquet)", cwd=tmp_path)
    one_line(proc, "read-only")
    assert tree(lake) == before


@pytest.mark.parametrize("sql", [
    "COPY (SELECT 1 AS x) TO 'pwned.csv'",
    "EXPORT DATABASE 'pwned'",
    "CREATE TABLE pwned AS SELECT 1",
    "ATTACH 'pwned.duckdb' AS p",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET enable_external_access = true",
    "PRAGMA enable_profiling",
    "CALL pragma_version()",
    "SELECT 1; COPY (SELECT 1 AS x) TO 'pwned.csv'",
])
def test_query_refuses_every_statement_but_select(lake, tmp_path, sql):
    before = tree(lake)
    one_line(run("query", "--data-root", str(lake), sql, cwd=tmp_path), "read-only")
    assert tree(lake) == before
    assert not list(tmp_path.glob("pwned*")), "a statement wrote into the working directory"


@pytest.mark.parametrize("sql", [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_text('/etc/hostname')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM read_parquet('{lake}/bronze/../outside.parquet')",
    "SELECT * FROM read_csv('{lake}/secret.csv')",
    "SELECT * FROM read_parquet('https://example.invalid/x.parquet')",
])
def test_query_reads_nothing_but_the_lakes_tables(lake, tmp_path, sql):
    """Reads as well as writes: no file outside the lake's table folders, no network, no extension."""
    (lake / "secret.csv").write_text("secret\nSECRET-VALUE\n")
    write_parquet(pl.DataFrame({"secret": ["SECRET-VALUE"]}), lake / "outside.parquet")
    proc = run("query", "--data-root", str(lake), "--format", "csv", sql.format(lake=lake), cwd=tmp_path)
    one_line(proc, "query:")
    assert "SECRET-VALUE" not in proc.stdout and "root:" not in proc.stdout


def test_query_writes_nothing_into_a_data_root_that_is_not_a_lake(tmp_path):
    """`--data-root /etc` used to write /etc/lake.duckdb; the stand-in here is a folder of other files."""
    other = tmp_path / "etc"
    other.mkdir()
    (other / "hosts").write_text("127.0.0.1 localhost\n")
    before = tree(other)
    proc = run("query", "--data-root", str(other), "SELECT 42 AS answer", cwd=tmp_path)
    assert tree(other) == before, "query wrote into the data root"
    one_line(proc, "no lake at")
    assert not (Path("/etc") / "lake.duckdb").exists()


def test_query_writes_nothing_into_the_lake(lake, tmp_path):
    before = tree(lake)
    assert run("query", "--data-root", str(lake), "SELECT count(*) FROM bronze_stocks_daily",
               cwd=tmp_path).returncode == 0
    assert tree(lake) == before and not (lake / "lake.duckdb").exists()


def test_query_memory_is_bounded(lake, tmp_path):
    """A query that needs more than --memory-limit fails with one line instead of taking the machine."""
    proc = run("query", "--data-root", str(lake), "--memory-limit", "200MB",
               "SELECT list(x) AS xs FROM range(200000000) t(x)", cwd=tmp_path)
    one_line(proc, "out of memory")
    one_line(run("query", "--data-root", str(lake), "--memory-limit", "lots", "SELECT 1", cwd=tmp_path),
             "not a memory size")


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_query_limit_limits_what_is_fetched(lake, tmp_path, fmt):
    """--limit bounds the rows fetched, not only the rows printed: 300 million rows, three fetched."""
    proc = run("query", "--data-root", str(lake), "--limit", "3", "--format", fmt,
               "SELECT x, repeat('a', 50) AS pad FROM range(300000000) t(x)", cwd=tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "more than 3 rows" in proc.stderr
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # the largest child so far
    assert peak_mb < 800, f"{peak_mb:.0f} MB for three rows"
    if fmt == "csv":
        assert proc.stdout.split() == ["x,pad"] + [f"{i},{'a' * 50}" for i in range(3)]


def test_query_streams_csv_and_json_without_a_limit(lake, truth, tmp_path):
    import json

    proc = run("query", "--data-root", str(lake), "--format", "json",
               "SELECT ticker, date FROM bronze_stocks_daily ORDER BY ticker, date", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)) == truth.height
    proc = run("query", "--data-root", str(lake), "--format", "csv", "SELECT x FROM range(25000) t(x)", cwd=tmp_path)
    assert proc.stdout.split() == ["x"] + [str(i) for i in range(25000)]
    proc = run("query", "--data-root", str(lake), "--format", "csv", "SELECT x FROM range(0) t(x)", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.split() == ["x"]


# ---------------------------------------------------------------------- defects 1, 5, 6: what readers read
EVIL = """evil" AS SELECT 1; COPY (SELECT 1 AS x) TO 'pwned.csv'; CREATE VIEW "x"""


def test_sql_in_a_directory_name_is_inert_and_reported(lake, truth, tmp_path):
    evil = lake / "bronze" / EVIL / "year=2025" / "month=06"
    evil.mkdir(parents=True)
    write_parquet(truth.head(3), evil / "data.parquet")
    for args in (("status",), ("validate",), ("query", "SELECT count(*) AS n FROM bronze_stocks_daily")):
        proc = run(*args, "--data-root", str(lake), cwd=tmp_path)
        assert "Traceback" not in proc.stderr, proc.stderr
        assert not list(tmp_path.rglob("pwned*")) and not list(lake.rglob("pwned*")), args
    proc = run("status", "--data-root", str(lake), cwd=tmp_path)
    assert proc.returncode == 0 and "ignored" in proc.stdout and "evil" in proc.stdout, proc.stdout


def test_a_stray_parquet_file_is_not_part_of_the_table(lake, truth, tmp_path):
    part = lake / "bronze/stocks_daily/year=2024/month=01"
    write_parquet(pl.DataFrame({"junk": [1, 2, 3]}), part / "data.bak.parquet")
    proc = run("query", "--data-root", str(lake), "--format", "csv",
               "SELECT count(*) AS n FROM bronze_stocks_daily", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.split() == ["n", str(truth.height)], proc.stderr
    proc = run("validate", "--data-root", str(lake), cwd=tmp_path)
    assert "data.bak.parquet" in proc.stdout and "validation: OK" not in proc.stdout, proc.stdout


@pytest.fixture
def corrupt(lake) -> Path:
    """A bronze partition overwritten with random bytes (the red team's "one corrupt file")."""
    part = lake / "bronze/stocks_daily/year=2024/month=01/data.parquet"
    part.write_bytes(os.urandom(part.stat().st_size))
    return part


@pytest.mark.parametrize("args", [("validate",), ("status",), ("query", "SELECT 1 AS one"),
                                  ("gaps", "-t", "stocks_daily", "-s", "2024-01-02", "-e", "2024-02-29")])
def test_one_corrupt_bronze_file_is_named_and_the_rest_is_read(lake, corrupt, tmp_path, args):
    proc = run(*args, "--data-root", str(lake), cwd=tmp_path)
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out[-3000:]
    if args[0] != "query":
        assert "year=2024/month=01/data.parquet" in out.replace("\n", ""), out[-3000:]
    if args[0] == "status":
        assert "2024-02" in proc.stdout  # the rest of the lake is still reported
    if args[0] == "query":
        assert proc.returncode == 0 and "1" in proc.stdout


@pytest.mark.parametrize("command", ["status", "validate"])
def test_an_empty_directory_is_not_an_ok_lake(tmp_path, command):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = run(command, "--data-root", str(empty), cwd=tmp_path)
    one_line(proc, "no lake at")
    assert "OK" not in proc.stdout
