"""Run the real workflow (Snakemake in a subprocess) against a live simulator, for integration tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml
from quantmini.sim.market import Market, MarketConfig
from quantmini.sim.server import SimProcess

REPO = Path(__file__).resolve().parents[1]
DAILY_BARS = ["ticker", "date", "open", "high", "low", "close", "volume", "vwap", "transactions"]


def write_config(workdir: Path, **overrides) -> Path:
    cfg = {
        "data_root": str(workdir / "lake"),
        "source": "sim",
        "start": "2024-01-02",
        "end": "2024-03-28",
        "universe": "all",
        "data_types": ["stocks_daily"],
        "max_concurrency": 8,
        "retries": 8,
        # off unless a test asks: the tests count requests per update (the revision window adds its
        # re-fetches; tests/test_revisions.py turns it on)
        "revision_sessions": 0,
    }
    cfg.update(overrides)
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def snakemake_cmd(workdir: Path, *targets: str, snakefile: Path | None = None, extra=()) -> list[str]:
    snakefile = snakefile or REPO / "Snakefile"
    return [
        sys.executable, "-m", "snakemake", *targets, "-s", str(snakefile), "--directory", str(workdir),
        "--profile", str(snakefile.parent / "profiles" / "default"), "--cores", "2",
        "--configfile", str(workdir / "config.yaml"), *extra,
    ]


def run_workflow(workdir: Path, api_url: str | None, *targets: str, env_extra=None, check=True,
                 snakefile: Path | None = None, extra=(), timeout=600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MASSIVE_API_KEY", "POLYGON_API_KEY")}
    env.pop("QUANTMINI_API_URL", None)
    if api_url:
        env["QUANTMINI_API_URL"] = api_url
    env.update(env_extra or {})
    proc = subprocess.run(snakemake_cmd(workdir, *targets, snakefile=snakefile, extra=extra),
                          capture_output=True, text=True, env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return proc


def market_fixtures(tickers: int, seed: int, start, end):
    """A test module's `truth, sim = market_fixtures(...)`: module-scoped fixtures `truth` (the market's
    raw daily bars, DAILY_BARS, by ticker and date: what bronze stocks_daily holds) and `sim` (a
    simulator of that market, logging its requests)."""

    @pytest.fixture(scope="module")
    def truth():
        market = Market(MarketConfig(seed=seed, n_tickers=tickers, start=start, end=end))
        return market.daily_raw().select(DAILY_BARS).sort("ticker", "date")

    @pytest.fixture(scope="module")
    def sim(tmp_path_factory):
        log = tmp_path_factory.mktemp("sim") / "requests.jsonl"
        with SimProcess(tickers=tickers, seed=seed, start=str(start), end=str(end), request_log=str(log)) as s:
            yield s

    return truth, sim


def quantmini_cli(work: Path, *args: str, api_url: str | None = None, key: str | None = None):
    """The `quantmini` console script as a user runs it: `python -m quantmini.cli ARGS --config
    WORK/config.yaml` in WORK, with no API key or endpoint from this environment (only `key`, `api_url`)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MASSIVE_API_KEY", "POLYGON_API_KEY", "QUANTMINI_API_URL")}
    if api_url:
        env["QUANTMINI_API_URL"] = api_url
    if key:
        env["MASSIVE_API_KEY"] = key
    return subprocess.run([sys.executable, "-m", "quantmini.cli", *args, "--config", str(work / "config.yaml")],
                          cwd=work, env=env, capture_output=True, text=True, timeout=600)


def read_bronze(lake: Path, dtype: str = "stocks_daily") -> pl.DataFrame:
    files = sorted((lake / "bronze" / dtype).glob("year=*/month=*/data.parquet"))
    assert files, f"no bronze partitions under {lake}"
    return pl.concat([pl.read_parquet(f) for f in files]).sort("ticker", "date")


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under root by relative path (for byte-identity comparisons)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


LAKE_LAYERS = ("bronze", "silver", "gold", "quarantine")


def lake_differences(a: Path, b: Path, layers=LAKE_LAYERS) -> list[str]:
    """Where two lakes differ, table by table: Parquet files as frames (schema and rows), every other
    file (Qlib .bin, calendars, instruments) as bytes. Generic: a new type's tables count too. Hidden
    files are not tables (job stamps such as gold's .published.json hold timings) but a leftover
    temporary file (`.name.XXXX.tmp`) is reported."""
    out = []
    for layer in layers:
        fa = {str(p.relative_to(a)): p for p in sorted((a / layer).rglob("*")) if _table_file(p)}
        fb = {str(p.relative_to(b)): p for p in sorted((b / layer).rglob("*")) if _table_file(p)}
        out += [f"only in {a}: {k}" for k in sorted(fa.keys() - fb.keys())]
        out += [f"only in {b}: {k}" for k in sorted(fb.keys() - fa.keys())]
        for k in sorted(fa.keys() & fb.keys()):
            if k.endswith(".parquet"):
                da, db = pl.read_parquet(fa[k]), pl.read_parquet(fb[k])
                if da.schema != db.schema or not da.equals(db):
                    out.append(f"differs: {k} ({da.height} vs {db.height} rows)")
            elif fa[k].read_bytes() != fb[k].read_bytes():
                out.append(f"differs: {k}")
    return out


def _table_file(p: Path) -> bool:
    return p.is_file() and (not p.name.startswith(".") or p.name.endswith(".tmp"))


def run_slurm_bronze(workdir: Path, profile: str, env: dict) -> subprocess.CompletedProcess:
    """`snakemake bronze` through a SLURM profile on the single-node SLURM of the opt-in tests, polling
    squeue every 2 s (the profiles' defaults wait far longer)."""
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "bronze", "-s", str(REPO / "Snakefile"), "--directory", str(workdir),
         "--profile", str(REPO / "profiles" / profile), "--configfile", str(workdir / "config.yaml"),
         "--slurm-no-account", "--slurm-status-command", "squeue",
         "--slurm-init-seconds-before-status-checks", "2", "--seconds-between-status-checks", "2",
         "--slurm-keep-successful-logs"],
        env=env, capture_output=True, text=True, timeout=900)
