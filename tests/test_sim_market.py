"""The simulator's market model: determinism, demo coverage of every corporate-action case, bar
invariants, and the adjustment truth checked by hand against the raw bars."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import numpy as np
import polars as pl
import pytest
from quantmini import calendar
from quantmini.sim.market import Market, MarketConfig

START, END = "2024-01-02", "2024-04-30"  # ~4 months: what the fast tests use


@pytest.fixture(scope="module")
def m() -> Market:
    return Market(MarketConfig(seed=42, n_tickers=50, start=START, end=END))


def test_same_config_same_data_in_another_process(m):
    code = ("from quantmini.sim.market import Market, MarketConfig;import sys;"
            f"Market(MarketConfig(seed=42, n_tickers=50, start='{START}', end='{END}')).daily_raw()"
            ".write_parquet(sys.argv[1])")
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        out = f"{tmp}/raw.parquet"
        subprocess.run([sys.executable, "-c", code, out], check=True)
        assert pl.read_parquet(out).equals(m.daily_raw())
    other = Market(MarketConfig(seed=43, n_tickers=50, start=START, end=END)).daily_raw()
    assert not other["close"].equals(m.daily_raw()["close"])


def test_extending_end_keeps_history(m):
    """A later `end` appends sessions; every earlier bar and event stays identical."""
    longer = Market(MarketConfig(seed=42, n_tickers=50, start=START, end="2024-07-31"))
    old = m.daily_raw()
    new = longer.daily_raw().filter(pl.col("date") <= dt.date.fromisoformat(END))
    assert new.equals(old)
    for name in ("splits", "dividends", "ticker_changes"):
        cut = "execution_date" if name == "splits" else ("ex_dividend_date" if name == "dividends" else "date")
        a = getattr(m, name)()
        b = getattr(longer, name)().filter(pl.col(cut) <= dt.date.fromisoformat(END))
        assert b.equals(a), name


@pytest.mark.parametrize("now, last", [
    ("2026-12-02T01:00:00+00:00", dt.date(2026, 12, 1)),   # after midnight UTC, still Dec 1 in New York
    ("2026-12-02T15:00:00+00:00", dt.date(2026, 12, 2)),   # New York's day: a session day
    ("2027-01-01T12:00:00-05:00", dt.date(2026, 12, 31)),  # a holiday at a year boundary
    ("2026-11-01T12:00:00-05:00", dt.date(2026, 10, 30)),  # a Sunday at a month boundary
])
def test_default_market_end_is_the_last_session_up_to_today_in_new_york(now, last, monkeypatch):
    """The simulated market ends on New York's today (or the session before it), read from the clock the
    workflow uses (QUANTMINI_NOW pins it), whatever the machine's time zone and the time of day."""
    monkeypatch.setenv("QUANTMINI_NOW", now)
    mk = Market(MarketConfig(n_tickers=3, start=last - dt.timedelta(days=20)))
    assert mk.sessions[-1] == last


def test_demo_has_every_case_within_three_months(m):
    three_months = dt.date(2024, 4, 1)
    splits = m.splits().filter(pl.col("execution_date") < three_months)
    assert (splits["split_to"] > splits["split_from"]).sum() >= 2, "two forward splits"
    assert (splits["split_to"] < splits["split_from"]).sum() >= 1, "one reverse split"
    divs = m.dividends().filter(pl.col("ex_dividend_date") < three_months)
    assert divs["security_id"].n_unique() >= 3 and set(divs["frequency"]) == {4}
    secs = m.securities()
    start = dt.date.fromisoformat(START)
    assert secs.filter(pl.col("list_date") > start).height >= 2, "two IPOs inside the range"
    assert secs["delist_date"].is_not_null().sum() >= 2, "two delistings"
    assert m.ticker_changes().height >= 1
    # quarterly: consecutive ex-dates of one payer ~3 months apart
    one = m.dividends().filter(pl.col("security_id") == divs["security_id"][0])["ex_dividend_date"]
    if one.len() > 1:
        assert 80 <= (one[1] - one[0]).days <= 100


def test_bar_invariants(m):
    r = m.daily_raw()
    checks = {
        "low<=open": pl.col("low") <= pl.col("open"), "open<=high": pl.col("open") <= pl.col("high"),
        "low<=close": pl.col("low") <= pl.col("close"), "close<=high": pl.col("close") <= pl.col("high"),
        "low<vw<high": (pl.col("vwap") > pl.col("low")) & (pl.col("vwap") < pl.col("high")),
        "floor": pl.col("low") > 0.5, "volume": pl.col("volume") >= 1, "n": pl.col("transactions") >= 1,
        "whole volume": pl.col("volume") == pl.col("volume").round(0),
        "4 decimals": ((pl.col("close") * 1e4).round(0) - pl.col("close") * 1e4).abs() < 1e-6,
    }
    ok = r.select(**{k: v.all() for k, v in checks.items()}).row(0, named=True)
    assert all(ok.values()), ok
    # one row per security per traded session; tickers unique per date
    assert r.select(pl.struct("security_id", "date").is_unique().all()).item()
    assert r.select(pl.struct("ticker", "date").is_unique().all()).item()
    # IPOs start at list_date, delisted securities stop at delist_date
    span = r.group_by("security_id").agg(pl.col("date").min().alias("first"), pl.col("date").max().alias("last"))
    s = m.securities().join(span, on="security_id")
    ipo = s.filter(pl.col("list_date") >= m.sessions[0])
    assert (ipo["first"] == ipo["list_date"]).all()
    gone = s.filter(pl.col("delist_date").is_not_null())
    assert (gone["last"] == gone["delist_date"]).all()


def test_raw_bars_show_each_true_split_and_not_the_bogus_ones(m):
    r = m.daily_raw().sort("security_id", "date").with_columns(
        (pl.col("close").shift(1).over("security_id")).alias("prev_close"))
    for row in m.splits().iter_rows(named=True):
        day = r.filter((pl.col("security_id") == row["security_id"]) & (pl.col("date") == row["execution_date"]))
        jump = day["close"][0] / day["prev_close"][0]
        expected = row["split_from"] / row["split_to"]
        assert abs(np.log(jump / expected)) < 0.15, (row, jump)
    bogus = m.bogus_splits()
    assert set(bogus["reason"]) == {"duplicate", "absurd_ratio", "not_in_bars"}
    for row in bogus.filter(pl.col("reason") != "duplicate").iter_rows(named=True):
        day = r.filter((pl.col("security_id") == row["security_id"]) & (pl.col("date") == row["execution_date"]))
        jump = day["close"][0] / day["prev_close"][0]
        assert abs(np.log(jump)) < 0.3, "a bogus split must not show in the bars"
    dup = bogus.filter(pl.col("reason") == "duplicate").row(0, named=True)
    twin = m.splits().filter((pl.col("security_id") == dup["security_id"])
                             & (pl.col("execution_date") == dup["execution_date"]))
    assert twin.height == 1 and twin["id"][0] != dup["id"]


def test_crsp_factor_hand_checked_on_one_dividend(m):
    adj = m.daily_adjusted()
    raw = m.daily_raw()
    spl_secs = set(m.splits()["security_id"])
    div = m.dividends().filter(~pl.col("security_id").is_in(list(spl_secs))).row(0, named=True)
    sid, ex = div["security_id"], div["ex_dividend_date"]
    later = m.dividends().filter((pl.col("security_id") == sid) & (pl.col("ex_dividend_date") > ex))
    mine = raw.filter(pl.col("security_id") == sid).sort("date")
    dates = mine["date"].to_list()
    k = dates.index(ex)
    prev_close = mine["close"][k - 1]
    # hand-worked: sessions on/after ex and before the next ex carry the later dividends' factor only
    later_factor = 1.0
    for row in later.iter_rows(named=True):
        kk = dates.index(row["ex_dividend_date"])
        later_factor *= 1 - row["cash_amount"] / mine["close"][kk - 1]
    expected_before = later_factor * (1 - div["cash_amount"] / prev_close)
    a = adj.filter(pl.col("security_id") == sid).sort("date")
    assert a["factor"][k] == pytest.approx(later_factor, rel=1e-12)
    assert a["factor"][k - 1] == pytest.approx(expected_before, rel=1e-12)
    assert a["adj_close"][k - 1] == pytest.approx(prev_close * expected_before, rel=1e-12)
    assert a["adj_volume"][k - 1] == pytest.approx(mine["volume"][k - 1] / expected_before, rel=1e-12)
    assert a["factor"][-1] == 1.0
    # the dividend is visible: the raw close drops by about D relative to the stock's own move
    assert 0 < div["cash_amount"] < 0.05 * prev_close


def test_adjusted_truth_around_a_split(m):
    """Split-only adjustment (what adjusted=true serves) vs raw bars around a 2:1 split."""
    s = m.splits().filter((pl.col("split_from") == 1) & (pl.col("split_to") == 2)).row(0, named=True)
    sid, e = s["security_id"], s["execution_date"]
    raw = m.daily_raw().filter(pl.col("security_id") == sid).sort("date")
    sa = m.split_adjusted().filter(pl.col("security_id") == sid).sort("date")
    before, after = raw.filter(pl.col("date") < e), raw.filter(pl.col("date") >= e)
    later = m.splits().filter((pl.col("security_id") == sid) & (pl.col("execution_date") > e))
    later_f = float(np.prod((later["split_from"] / later["split_to"]).to_numpy())) if later.height else 1.0
    sb = sa.filter(pl.col("date") < e)
    assert (sb["factor"] == 0.5 * later_f).all()
    np.testing.assert_allclose(sb["close"].to_numpy(), np.round(before["close"].to_numpy() * 0.5 * later_f, 4))
    np.testing.assert_allclose(sb["volume"].to_numpy(), before["volume"].to_numpy() / (0.5 * later_f))
    assert sa.filter(pl.col("date") >= e)["close"].equals(after["close"]) or later.height
    da = m.daily_adjusted().filter(pl.col("security_id") == sid).sort("date")
    # CRSP factor just before the split includes 1/2 (and any dividends), never more than the split alone
    assert da.filter(pl.col("date") < e)["factor"][-1] <= 0.5 * later_f + 1e-12


def test_symbols_and_ticker_change(m):
    ch = m.ticker_changes().row(0, named=True)
    syms = m.symbols().filter(pl.col("security_id") == ch["security_id"]).sort("start_date")
    assert syms["ticker"].to_list() == [ch["old_ticker"], ch["new_ticker"]]
    assert syms["start_date"][1] == ch["date"]
    assert syms["end_date"][0] == calendar.sessions(ch["date"] - dt.timedelta(days=10), ch["date"])[-2]
    raw = m.daily_raw().filter(pl.col("security_id") == ch["security_id"])
    assert set(raw.filter(pl.col("date") < ch["date"])["ticker"]) == {ch["old_ticker"]}
    assert set(raw.filter(pl.col("date") >= ch["date"])["ticker"]) == {ch["new_ticker"]}
    cur = m.securities().filter(pl.col("security_id") == ch["security_id"])["current_ticker"][0]
    assert cur == ch["new_ticker"]
    secs = m.securities()
    assert secs["composite_figi"].is_unique().all() and secs["composite_figi"].str.len_chars().eq(12).all()
    assert set(secs["type"]) <= {"CS", "ETF", "ADRC", "PFD", "WARRANT"} and set(secs["primary_exchange"]) <= {"XNAS", "XNYS"}
    assert m.symbols()["ticker"].str.contains(r"^[A-Z]{1,5}$").all()


def test_export_truth_cli(tmp_path):
    out = tmp_path / "truth"
    proc = subprocess.run([sys.executable, "-m", "quantmini.sim", "truth", "--out", str(out), "--tickers", "12",
                           "--start", START, "--end", "2024-02-29"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    names = {p.stem for p in out.glob("*.parquet")}
    assert {"securities", "symbols", "daily_raw", "daily_adjusted", "split_adjusted", "splits", "bogus_splits",
            "dividends", "ticker_changes"} <= names
    assert not list(out.glob(".*.tmp"))
    mk = Market(MarketConfig(n_tickers=12, start=START, end="2024-02-29"))
    assert pl.read_parquet(out / "daily_raw.parquet").equals(mk.daily_raw())


@pytest.mark.parametrize("args, needle", [
    (["truth", "--out", "x", "--start", "2024-13-01"], "--start"),
    (["truth", "--out", "x", "--tickers", "0"], "--tickers"),
    (["truth", "--out", "x", "--start", "2024-03-01", "--end", "2024-02-01"], "--end"),
    (["serve", "--faults", "429=2"], "fault"),
    (["serve", "--faults", "boom=0.1"], "boom"),
    (["serve", "--port", "70000"], "--port"),
])
def test_cli_bad_options_one_line_exit_2(args, needle, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "quantmini.sim", *args], capture_output=True, text=True, check=False,
                          cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert not (tmp_path / "x").exists()
