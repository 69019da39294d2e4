"""The real workflow against the live simulator: stocks_minute and options_minute to bronze, stocks_minute
to the Qlib 1min gold.

One lake (3 stocks, 2024-11-25 .. 2024-12-02: Thanksgiving, the 2024-11-29 half day and a month boundary),
then one session more (2024-12-03). The reference is the simulator's ground truth (`MinuteMarket` and
the daily bars of `Market`), never the lake's own earlier output. One of the stocks is served with a
vendor gap (missing regular minutes) in the window: its session must be flagged. Its options (the 2
contracts nearest the money per session) are options_minute.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest
from quantmini import calendar
from quantmini.datatypes.minute.bronze import read_bronze
from quantmini.qlib_reader import pyqlib_read
from quantmini.sim.market import Market, MarketConfig
from quantmini.sim.minute import MinuteMarket, bars_frame
from quantmini.sim.options import OptionsMarket
from quantmini.sim.server import SimProcess
from workflow_helpers import run_workflow, write_config

N_TICKERS, SIM_START, SIM_END = 20, "2024-10-01", "2024-12-31"
START, FIRST_END, END = "2024-11-25", "2024-12-02", "2024-12-03"
SESSIONS = calendar.sessions(START, END)
HALF_DAY = dt.date(2024, 11, 29)
PER_STOCK = 2


def pick(seed: int) -> tuple[list[str], tuple[str, dt.date, tuple[int, int]]] | None:
    """Three stocks trading every session of the window, one of them with a vendor gap; None if none."""
    m = Market(MarketConfig(seed=seed, n_tickers=N_TICKERS, start=SIM_START, end=SIM_END))
    mm = MinuteMarket(m)
    rows = [m.session_index(d) for d in SESSIONS]
    full = sorted(s for s, (j, f, last) in m.symbol_spans.items() if f <= rows[0] and last >= rows[-1])
    gaps = [(s, d, mm.vendor_gap(m.symbol_spans[s][0], i)) for s in full for d, i in zip(SESSIONS, rows)]
    gaps = [g for g in gaps if g[2] is not None]
    if not gaps:
        return None
    gap = gaps[0]
    others = [s for s in full if s != gap[0] and not any(g[0] == s for g in gaps)][:2]
    return sorted([gap[0], *others]), gap


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    seed, picked = next((s, p) for s in range(1, 200) if (p := pick(s)) is not None)
    tickers, gap = picked
    tmp = tmp_path_factory.mktemp("minute_workflow")
    work = tmp / "work"
    work.mkdir()
    out = SimpleNamespace(lake=work / "lake", seed=seed, tickers=tickers, gap=gap, timings={})
    minute_cfg = {"stocks": tickers, "gold": True, "options_per_stock": PER_STOCK}
    types = ["stocks_daily", "stocks_minute", "options_daily", "options_minute"]
    options_cfg = {"underlyings": [tickers[0]]}
    with SimProcess(tickers=N_TICKERS, seed=seed, start=SIM_START, end=SIM_END,
                    request_log=str(tmp / "requests.jsonl")) as sim:
        write_config(work, start=START, end=FIRST_END, data_types=types, minute=minute_cfg, options=options_cfg)
        t0 = time.monotonic()
        run_workflow(work, sim.url, "bronze", "gold_qlib_minute")
        out.timings["build"] = time.monotonic() - t0
        out.first_requests = sim.requests()
        out.mtimes = {p: p.stat().st_mtime_ns for p in out.lake.rglob("*")
                      if p.is_file() and not {"logs", "benchmarks", ".sim"} & set(p.parts)}
        write_config(work, start=START, end=END, data_types=types, minute=minute_cfg, options=options_cfg)
        t0 = time.monotonic()
        run_workflow(work, sim.url, "bronze", "gold_qlib_minute")
        out.timings["next session"] = time.monotonic() - t0
        out.next_requests = sim.requests()[len(out.first_requests):]
        dry = run_workflow(work, sim.url, "bronze", "gold_qlib_minute", extra=["-n"])
        out.noop_output = dry.stdout + dry.stderr
    m = Market(MarketConfig(seed=seed, n_tickers=N_TICKERS, start=SIM_START, end=SIM_END))
    out.market, out.mm = m, MinuteMarket(m)
    out.bronze = read_bronze(out.lake, "stocks_minute")
    out.options = read_bronze(out.lake, "options_minute")
    print("timings:", {k: round(v, 1) for k, v in out.timings.items()}, "tickers:", tickers, "gap:", gap)
    return out


def minute_requests(requests: list[dict], options: bool = False) -> list[dict]:
    return [r for r in requests if "/range/1/minute/" in r["path"] and r["path"].startswith("/v2/aggs/ticker/O:") == options]


def options_truth(run) -> pl.DataFrame:
    """From the simulator's truth alone: per session, the PER_STOCK contracts of the underlying traded that
    session nearest its raw close, and their minute bars."""
    m, under = run.market, run.tickers[0]
    om = OptionsMarket.of(m)
    closes = dict(m.daily_raw().filter(pl.col("ticker") == under).select("date", "close").iter_rows())
    cand = []
    for ticker, strike in om.contracts.filter(pl.col("underlying") == under).select("ticker", "strike").iter_rows():
        b = om.daily_bars(ticker)
        for k, i in enumerate(b["session"].tolist()):
            day = m.sessions[i]
            if day in SESSIONS:
                bar = tuple(float(b[x][k]) for x in ("o", "h", "l", "c", "v", "vw", "n"))
                cand.append((abs(strike - closes[day]), ticker, day, i, bar))
    frames = []
    for day in SESSIONS:
        for _, ticker, _, i, bar in sorted(c for c in cand if c[2] == day)[:PER_STOCK]:
            frames.append(bars_frame(run.mm.option_bars(ticker, i, bar), ticker, day))
    return pl.concat(frames).sort("ticker", "timestamp")


def test_bronze_equals_served_truth(run):
    truth = run.mm.truth(run.tickers, SESSIONS, served=True)
    assert run.bronze.height == truth.height > 0
    assert run.bronze.select(truth.columns).equals(truth)
    assert run.bronze.schema["timestamp"] == pl.Datetime("ms", "UTC")
    assert set(run.bronze["session"].unique()) == {"pre", "regular", "post"}


def test_one_file_per_session_in_month_directories(run):
    files = sorted(p.relative_to(run.lake / "bronze" / "stocks_minute")
                   for p in (run.lake / "bronze" / "stocks_minute").rglob("data.parquet"))
    assert [str(f) for f in files] == [
        f"year={d.year}/month={d.month:02d}/date={d.isoformat()}/data.parquet" for d in SESSIONS]


def test_regular_minutes_aggregate_to_daily_truth(run):
    reg = run.bronze.filter(pl.col("session") == "regular")
    agg = reg.group_by("ticker", "date").agg(
        pl.col("open").sort_by("timestamp").first(), pl.col("high").max(), pl.col("low").min(),
        pl.col("close").sort_by("timestamp").last(), pl.col("volume").sum(), pl.len().alias("minutes"))
    daily = run.market.daily_raw().filter(pl.col("ticker").is_in(run.tickers) & pl.col("date").is_in(SESSIONS))
    both = daily.join(agg, on=["ticker", "date"], suffix="_m", how="left")
    assert both.height == len(run.tickers) * len(SESSIONS)
    gap_ticker, gap_day, (g0, g1) = run.gap
    complete = both.filter(~((pl.col("ticker") == gap_ticker) & (pl.col("date") == gap_day)))
    for col in ("open", "high", "low", "close", "volume"):
        assert (complete[col] == complete[f"{col}_m"]).all(), col
    expected = complete["date"].map_elements(calendar.regular_minutes, return_dtype=pl.Int64)
    assert (complete["minutes"] == expected).all()
    assert set(complete.filter(pl.col("date") == HALF_DAY)["minutes"]) == {210}
    gap_row = both.filter((pl.col("ticker") == gap_ticker) & (pl.col("date") == gap_day))
    assert gap_row["minutes"][0] == calendar.regular_minutes(gap_day) - (g1 - g0)


def test_session_flags_follow_the_exchange_calendar(run):
    ny = run.bronze.with_columns(pl.col("timestamp").dt.convert_time_zone("America/New_York").alias("ny"))
    half = ny.filter(pl.col("date") == HALF_DAY)
    assert half.filter(pl.col("session") == "regular")["ny"].dt.strftime("%H:%M").max() == "12:59"
    assert half.filter(pl.col("session") == "post")["ny"].dt.strftime("%H:%M").max() <= "16:59"
    assert ny["ny"].dt.strftime("%H:%M").min() >= "04:00"
    assert (ny["ny"].dt.date() == ny["date"]).all()


def test_incomplete_session_is_flagged(run):
    gap_ticker, gap_day, (g0, g1) = run.gap
    reports = {}
    for f in sorted((run.lake / "reports" / "validation" / "stocks_minute").rglob("*.json")):
        reports.update({d: (json.loads(f.read_text()), s) for rep in [json.loads(f.read_text())]
                        for d, s in rep["sessions"].items()})
    assert sorted(reports) == [d.isoformat() for d in SESSIONS]
    for day, (rep, entry) in reports.items():
        assert entry["regular_minutes"] == calendar.regular_minutes(dt.date.fromisoformat(day))
        assert entry["tickers"] == len(run.tickers)
        if day == gap_day.isoformat():
            assert entry["incomplete"] == {gap_ticker: entry["regular_minutes"] - (g1 - g0)}
            assert day in rep["flagged_sessions"] and rep["ok"] is False
        else:
            assert entry["incomplete"] == {}
            assert day not in rep["flagged_sessions"]


def test_one_request_per_ticker_and_session_each_one_page(run):
    first = minute_requests(run.first_requests)
    asked = sorted((r["path"].split("/")[4], r["path"].split("/")[-1]) for r in first)
    assert asked == sorted((t, d.isoformat()) for t in run.tickers for d in SESSIONS[:-1])
    assert all(r["status"] == 200 and "adjusted=false" in r["query"] for r in first)


def test_one_session_update_requests_only_that_session(run):
    nxt = minute_requests(run.next_requests)
    assert sorted(r["path"] for r in nxt) == sorted(
        f"/v2/aggs/ticker/{t}/range/1/minute/{END}/{END}" for t in run.tickers)
    # the minute types' closed month is not rebuilt; landed files are immutable
    checked = 0
    for path, mtime in run.mtimes.items():
        rel = path.relative_to(run.lake).as_posix()
        if "_minute/" in rel and ("month=11" in rel or rel.startswith("landing/")):
            assert path.stat().st_mtime_ns == mtime or rel.endswith("_manifest.json"), rel
            checked += 1
    assert checked > 4 * len(run.tickers)
    assert (run.lake / "bronze/stocks_minute/year=2024/month=12/date=2024-12-03/data.parquet").exists()


def test_pyqlib_reads_the_1min_gold(run):
    provider = run.lake / "gold" / "qlib"
    view = pyqlib_read(provider, ["$close", "$volume"], instruments="minute", freq="1min")
    minutes = sum(calendar.regular_minutes(d) for d in SESSIONS)
    assert len(view.calendar) == minutes
    assert view.calendar[0] == pd_ts("2024-11-25 09:30:00") and view.calendar[-1] == pd_ts("2024-12-03 15:59:00")
    feats = view.features.reset_index()
    feats.columns = ["symbol", "minute", "close", "volume"]
    got = pl.from_pandas(feats).with_columns(pl.col("minute").cast(pl.Datetime("us")))
    truth = run.mm.truth(run.tickers, SESSIONS, served=True, extended=False).select(
        pl.col("ticker").alias("symbol"),
        pl.col("timestamp").dt.convert_time_zone("America/New_York").dt.replace_time_zone(None)
        .dt.cast_time_unit("us").alias("minute"), "close", "volume")
    both = got.join(truth, on=["symbol", "minute"], how="left", suffix="_t")
    assert set(got["symbol"]) == set(run.tickers)
    assert got.height == len(run.tickers) * minutes
    traded = both.filter(pl.col("close_t").is_not_null())
    assert traded.height == truth.height
    assert np.array_equal(traded["close"].to_numpy(), traded["close_t"].to_numpy().astype(np.float32))
    assert np.array_equal(traded["volume"].to_numpy(), traded["volume_t"].to_numpy().astype(np.float32))
    missing = both.filter(pl.col("close_t").is_null())
    assert missing.height == run.gap[2][1] - run.gap[2][0] and missing["close"].is_nan().all()


def pd_ts(text: str):
    import pandas as pd

    return pd.Timestamp(text)


def test_options_minute_equals_truth(run):
    truth = options_truth(run)
    assert run.options.height == truth.height > 0
    assert run.options.select(truth.columns).equals(truth)
    assert set(run.options["session"]) == {"regular"}
    per_day = run.options.group_by("date").agg(pl.col("ticker").n_unique()).sort("date")
    assert per_day["ticker"].to_list() == [PER_STOCK] * len(SESSIONS)
    reports = [json.loads(f.read_text()) for f in (run.lake / "reports/validation/options_minute").rglob("*.json")]
    assert len(reports) == 2 and all(r["ok"] and r["flagged_sessions"] == [] for r in reports)


def test_options_one_session_update(run):
    nxt = minute_requests(run.next_requests, options=True)
    assert len(nxt) == PER_STOCK and all(r["path"].endswith(f"/{END}/{END}") for r in nxt)
    first = minute_requests(run.first_requests, options=True)
    assert len(first) == PER_STOCK * (len(SESSIONS) - 1)


def test_duckdb_view_over_session_files(run):
    from quantmini.lake_db import Lake

    with Lake(run.lake) as lake:
        got = lake.query("SELECT date, count(*) AS n FROM bronze_stocks_minute WHERE year = 2024 AND month = 12 "
                         "GROUP BY date ORDER BY date")
    want = run.bronze.filter(pl.col("date") >= dt.date(2024, 12, 1)).group_by("date").len("n").sort("date")
    assert got.rows() == want.rows()


def test_a_second_run_does_nothing(run):
    assert "Nothing to be done" in run.noop_output
