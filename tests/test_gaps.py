"""Gaps and completeness on a lake built by the real workflow from a live simulator, judged against the
simulator's ground truth: IPOs, delistings and ticker changes are not gaps; a deleted landing day and
bronze partition and dropped rows are found exactly; one command backfills them; the report reaches
`snakemake --report`."""

from __future__ import annotations

import datetime as dt
import shutil
import zipfile
from pathlib import Path

import polars as pl
import pytest
from quantmini import calendar
from quantmini.gaps import find_gaps
from workflow_helpers import market_fixtures, read_bronze, run_workflow, write_config
from workflow_helpers import quantmini_cli as cli

TICKERS, SEED, START, END = 10, 3, dt.date(2024, 1, 2), dt.date(2024, 2, 29)
DROPPED = [("FB", dt.date(2024, 2, 13)), ("GTTL", dt.date(2024, 2, 20)), ("GTTL", dt.date(2024, 2, 21))]
DELETED_DAY = dt.date(2024, 2, 7)

truth, sim = market_fixtures(TICKERS, SEED, START, END)


@pytest.fixture(scope="module")
def built(sim, tmp_path_factory):
    work = tmp_path_factory.mktemp("gaps_clean")
    write_config(work, start=START.isoformat(), end=END.isoformat())
    run_workflow(work, sim.url, "bronze")
    return work


def copy_work(src: Path, dst: Path) -> Path:
    """A copy of a work directory (lake and Snakemake metadata) with its config pointing at the copy."""
    shutil.copytree(src, dst, symlinks=True)
    write_config(dst, start=START.isoformat(), end=END.isoformat())
    return dst


def run_main(work: Path, monkeypatch, *args: str) -> int:
    """The console script's entry point in-process (no interpreter start-up) for read-only commands."""
    from quantmini.cli import main

    monkeypatch.chdir(work)
    return main([*args, "--config", str(work / "config.yaml")])


def test_clean_lake_is_complete_and_spans_are_the_truth(built, truth, tmp_path, monkeypatch, capsys):
    g = find_gaps(built / "lake", START, END)
    assert g.complete, g.counts()
    spans = truth.group_by("ticker").agg(first=pl.col("date").min(), last=pl.col("date").max(), bars=pl.len())
    assert g.spans.select("ticker", "first", "last", pl.col("bars").cast(pl.UInt32)).equals(
        spans.sort("ticker").with_columns(pl.col("bars").cast(pl.UInt32)))
    # the truth has IPOs and a delisting inside the range: neither is a gap
    assert spans.filter(pl.col("first") > START).height >= 1
    assert spans.filter(pl.col("last") < END).height >= 1
    assert run_main(built, monkeypatch, "gaps", "--out", str(tmp_path / "report")) == 0
    out = capsys.readouterr().out
    assert "COMPLETE" in out and "INCOMPLETE" not in out


def test_deleted_and_dropped_are_found_exactly_then_backfilled(built, truth, sim, tmp_path, monkeypatch, capsys):
    work = copy_work(built, tmp_path / "work")
    lake = work / "lake"
    (lake / "landing/stocks_daily/year=2024/month=02" / f"{DELETED_DAY}.json.gz").unlink()
    (lake / "bronze/stocks_daily/year=2024/month=01/data.parquet").unlink()
    feb = lake / "bronze/stocks_daily/year=2024/month=02/data.parquet"
    dropped = pl.DataFrame(DROPPED, schema={"ticker": pl.Utf8, "date": pl.Date}, orient="row")
    pl.read_parquet(feb).join(dropped, on=["ticker", "date"], how="anti").write_parquet(feb)

    g = find_gaps(lake, START, END)
    jan = [d for d in calendar.sessions(START, END) if d.month == 1]
    assert not g.complete
    assert g.missing_partitions.select("layer", "type", "partition").rows() == [("bronze", "stocks_daily", "2024-01")]
    assert g.missing_sessions["date"].to_list() == jan
    assert g.missing_landing["date"].to_list() == [DELETED_DAY]
    assert g.ticker_gaps.rows() == DROPPED
    assert truth.join(dropped, on=["ticker", "date"]).height == len(DROPPED)  # they are real bars
    assert g.months_to_repair() == {"stocks_daily": [(2024, 1), (2024, 2)]}

    assert run_main(work, monkeypatch, "gaps") == 1
    out = capsys.readouterr().out
    assert "INCOMPLETE" in out and "quantmini gaps --backfill" in out
    out = lake / "reports" / "gaps"
    md = (out / "gaps.md").read_text()
    assert "INCOMPLETE" in md and "| GTTL | 2024-02-20 | 2024-02-21 | 2 |" in md and str(DELETED_DAY) in md
    assert "data:image/png;base64," in (out / "gaps.html").read_text()
    for png in ("coverage.png", "rows_per_session.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run_main(work, monkeypatch, "validate") == 1  # Feb's bronze no longer holds what its report says

    proc = cli(work, "gaps", "--backfill", api_url=sim.url)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert read_bronze(lake).equals(truth)
    assert run_main(work, monkeypatch, "validate") == 0


def test_thin_session_and_quarantine(built, tmp_path):
    work = copy_work(built, tmp_path / "work")
    feb = work / "lake/bronze/stocks_daily/year=2024/month=02/data.parquet"
    day = dt.date(2024, 2, 27)
    df = pl.read_parquet(feb)
    victims = df.filter(pl.col("date") == day)["ticker"].sort().to_list()[:5]
    df.filter(~((pl.col("date") == day) & pl.col("ticker").is_in(victims))).write_parquet(feb)
    q = work / "lake/quarantine/stocks_daily/year=2024/month=02/data.parquet"
    held = pl.read_parquet(q)
    bad = df.filter(pl.col("date") == day).head(1).with_columns(_expected_session=pl.col("date"),
                                                                reason=pl.lit("low<=open<=high"))
    pl.concat([held, bad.select(held.columns)], how="vertical_relaxed").write_parquet(q)
    g = find_gaps(work / "lake", START, END)
    assert g.quarantine.rows() == [("stocks_daily", "2024-02", "low<=open<=high", 1)]
    thin = g.thin.filter(pl.col("level") == "session")
    assert thin["key"].to_list() == [day.isoformat()]
    assert sorted(g.ticker_gaps.filter(pl.col("date") == day)["ticker"].to_list()) == victims


def test_gaps_report_rule_reaches_snakemake_report(built, sim):
    report = built / "report.zip"
    run_workflow(built, sim.url, "gaps_report", extra=("--report", str(report), "--report-after-run"))
    assert "complete" in (built / "lake/logs/gaps_report.log").read_text()
    names = zipfile.ZipFile(report).namelist()
    for f in ("gaps.html", "coverage.png", "rows_per_session.png"):
        assert any(n.endswith("/" + f) for n in names), names
