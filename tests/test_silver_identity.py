"""Silver read as a researcher reads it: one security across a rename, one continuous adjusted series.

The demo market (seed 42, 50 tickers; VGDJ became AWD on 2025-02-25, ZSOW split 1:3 on 2025-03-11) is
built first up to T = 2025-03-14 and then extended to 2025-03-31 in the same lake, as `end: today` does.
Checked against the simulator's truth (quantmini.sim.market) and real pyqlib reading gold:
- every row's security_id is the security's composite FIGI; a symbol resolves to the whole history;
- silver_stocks_daily_adjusted equals the truth adjusted as of the lake's end and gold's $close/$factor,
  with no jump where partitions meet;
- silver_stocks_daily_as_of(T) on the extended lake equals what the lake built up to T showed, and the
  truth of the market ending at T; closed months' files did not change when later data arrived;
- the README's examples on the demo lake run (this lake is the demo market's first quarter) and say
  what the README says they do.
"""

from __future__ import annotations

import io
import re

import numpy as np
import polars as pl
import pytest
from quantmini.lake_db import Lake
from quantmini.qlib_reader import pyqlib_read
from quantmini.sim.market import Market, MarketConfig
from quantmini.sim.server import SimProcess
from workflow_helpers import REPO, quantmini_cli, run_workflow, write_config

TICKERS, SEED, START, T, END = 50, 42, "2025-01-02", "2025-03-14", "2025-03-31"
TYPES = ["stocks_daily", "splits", "dividends", "ticker_changes", "tickers"]


def truth(end: str) -> pl.DataFrame:
    """The market ending at `end`: per bar its FIGI, symbol, raw close and adjusted close as of `end`."""
    m = Market(MarketConfig(seed=SEED, n_tickers=TICKERS, start=START, end=end))
    return (m.daily_raw().select("security_id", "ticker", "date", "close")
            .join(m.daily_adjusted().select("security_id", "date", "factor", "adj_close"), on=["security_id", "date"])
            .join(m.securities().select("security_id", "composite_figi", "current_ticker"), on="security_id"))


def gold_frame(lake) -> pl.DataFrame:
    view = pyqlib_read(lake / "gold/qlib", ["$close", "$factor"], start=START, end=END)
    out = pl.from_pandas(view.features.reset_index())
    out.columns = ["symbol", "date", "g_close", "g_factor"]
    return out.with_columns(pl.col("date").cast(pl.Date)).drop_nulls("g_close")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    work = tmp_path_factory.mktemp("identity")
    lake = work / "lake"
    with SimProcess(tickers=TICKERS, seed=SEED, start=START, end=END) as sim:
        write_config(work, start=START, end=T, data_types=TYPES, alpha158=False)
        run_workflow(work, sim.url, timeout=900)
        with Lake(lake) as db:
            at_t = db.stocks_daily(layer="silver")
        closed = {p: p.read_bytes() for p in sorted(lake.glob("silver/*/year=2025/month=0[12]/*.parquet"))}
        gold_at_t = gold_frame(lake)
        write_config(work, start=START, end=END, data_types=TYPES, alpha158=False)
        run_workflow(work, sim.url, timeout=900)
    return {"lake": lake, "at_t": at_t, "closed": closed, "gold_at_t": gold_at_t}


def test_security_id_is_the_figi_and_survives_the_rename(built):
    with Lake(built["lake"]) as db:
        silver = db.query("SELECT security_id, ticker, date FROM silver_stocks_daily")
        awd = db.stocks_daily("AWD", START, "2025-03-31", layer="silver")
        assert db.security_ids("VGDJ") == db.security_ids("AWD") == awd["security_id"].unique().to_list()
    t = truth(END)
    j = silver.join(t, on=["ticker", "date"], how="left")
    assert j.height == t.height and j["composite_figi"].null_count() == 0
    assert (j["security_id"] == j["composite_figi"]).all()
    want = t.filter(pl.col("current_ticker") == "AWD").sort("date")
    assert set(want["ticker"]) == {"VGDJ", "AWD"}
    assert awd["date"].to_list() == want["date"].to_list() and awd["ticker"].to_list() == want["ticker"].to_list()


def test_adjusted_view_is_continuous_truth_and_gold(built):
    with Lake(built["lake"]) as db:
        view = db.query("SELECT security_id, ticker, date, close, factor, adj_close, change "
                        "FROM silver_stocks_daily_adjusted")
    t = truth(END)
    j = view.join(t, on=["ticker", "date"], suffix="_t")
    assert j.height == t.height == view.height
    assert np.allclose(j["factor"], j["factor_t"], rtol=1e-12, atol=0)
    assert np.allclose(j["adj_close"], j["adj_close_t"], rtol=1e-12, atol=0)
    # the split across the Feb/Mar boundary: ZSOW's adjusted close moves as the truth's, no fake -67 %
    z = j.filter(pl.col("security_id") == j.filter(pl.col("ticker") == "ZSOW")["security_id"][0]).sort("date")
    ratio = (z["adj_close"] / z["adj_close"].shift(1)).drop_nulls().to_numpy()
    assert z["factor"].min() < 0.34 and ratio.min() > 0.8, "the 1:3 split shows as a jump"
    gold = gold_frame(built["lake"])
    g = j.join(gold, left_on=["current_ticker", "date"], right_on=["symbol", "date"])
    assert g.height == view.height
    assert np.allclose(g["g_close"], g["adj_close"].cast(pl.Float32), rtol=2e-7, atol=0)
    assert np.allclose(g["g_factor"], g["factor"].cast(pl.Float32), rtol=2e-7, atol=0)
    assert np.allclose(g["g_close"] / g["g_factor"], g["close"], rtol=1e-6)


def test_as_of_a_past_date_is_what_the_lake_showed_then(built):
    with Lake(built["lake"]) as db:
        as_of = db.stocks_daily(layer="silver", as_of=T)
        assert db.query("SELECT max(date) AS d FROM silver_stocks_daily")["d"][0].isoformat() == END
    then = built["at_t"]
    assert as_of.columns == then.columns and as_of.height == then.height
    cols = ["security_id", "ticker", "date", "close", "volume", "cum_factor", "factor", "adj_close", "adj_volume"]
    a, b = as_of.select(cols), then.select(cols)
    assert a.select(cols[:3]).equals(b.select(cols[:3]))
    for c in cols[3:]:
        assert np.allclose(a[c], b[c], rtol=1e-12, atol=0), c
    t = truth(T)
    j = a.join(t, on=["ticker", "date"], suffix="_t")
    assert j.height == t.height
    assert np.allclose(j["adj_close"], j["adj_close_t"], rtol=1e-12, atol=0)
    # gold as published at T holds the same series
    g = j.join(built["gold_at_t"], left_on=["current_ticker", "date"], right_on=["symbol", "date"])
    assert g.height == t.height and np.allclose(g["g_close"], g["adj_close"].cast(pl.Float32), rtol=2e-7)
    # point in time: as of T the 03-11 split is in, as of 03-10 it is not
    with Lake(built["lake"]) as db:
        before = db.stocks_daily("ZSOW", "2025-03-03", "2025-03-10", layer="silver", as_of="2025-03-10")
    assert (before["factor"] == 1.0).all() and np.allclose(before["adj_close"], before["close"])


def test_closed_months_never_change(built):
    assert len(built["closed"]) >= 4  # stocks_daily, events, securities of Jan and Feb
    for path, data in built["closed"].items():
        assert path.read_bytes() == data, f"{path} changed when later months arrived"


def test_running_files_hold_every_month_up_to_theirs(built):
    """events_to_date / renames_to_date of a month (silver's one declared input for all earlier months'
    events and renames) hold exactly the month files up to it, in month order: the rename lands in
    February's and March's, the split in March's only."""
    lake = built["lake"]
    months = ["01", "02", "03"]
    for k, month in enumerate(months):
        upto = months[: k + 1]
        events = pl.concat([pl.read_parquet(lake / f"silver/corporate_actions/year=2025/month={m}/events.parquet")
                            for m in upto])
        running = pl.read_parquet(lake / f"silver/corporate_actions/year=2025/month={month}/events_to_date.parquet")
        assert running.to_dicts() == events.select(running.columns).to_dicts(), month
        changes = pl.concat([pl.read_parquet(lake / f"bronze/ticker_changes/year=2025/month={m}/data.parquet")
                             for m in upto], how="diagonal_relaxed")
        renames = pl.read_parquet(lake / f"silver/corporate_actions/year=2025/month={month}/renames_to_date.parquet")
        assert renames.to_dicts() == changes.select(renames.columns).to_dicts(), month
        pairs = set(zip(renames["old_ticker"], renames["new_ticker"]))
        assert (("VGDJ", "AWD") in pairs) == (month != "01"), (month, pairs)
        split = running.filter((pl.col("ticker") == "ZSOW") & (pl.col("date") == pl.date(2025, 3, 11)))
        assert split.height == (month == "03"), (month, split)


def readme_lake_examples() -> list[str]:
    """The README's Python blocks that open `Lake("lake")` (the demo lake), in order."""
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(), flags=re.S)
    return [b for b in blocks if 'Lake("lake")' in b]


def test_readme_examples_run_on_the_demo_lake(built, monkeypatch):
    blocks = readme_lake_examples()
    assert len(blocks) == 2
    monkeypatch.chdir(built["lake"].parent)
    ns: dict = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), ns)  # noqa: S102 (the README's own code)
    t = truth(END)
    awd = ns["awd"]
    want = t.filter(pl.col("current_ticker") == "AWD").sort("date")
    assert awd.height == want.height == 60 and set(awd["ticker"]) == {"VGDJ", "AWD"}
    assert np.allclose(awd["adj_close"], want["adj_close"], rtol=1e-12)
    zsow = ns["zsow"].join(t, on=["ticker", "date"], suffix="_t")
    assert zsow.height == ns["zsow"].height == 12 and np.allclose(zsow["adj_close"], zsow["adj_close_t"], rtol=1e-12)
    assert ns["jumps"]["move"].drop_nulls().min() > -0.2
    then = ns["zsow_then"]
    assert (then["factor"] == 1.0).all() and np.allclose(ns["as_of"]["adj_close"].tail(then.height), then["adj_close"])
    assert ns["bars"]["ticker"].unique().to_list() == ["AWD"] and ns["counts"].height > 0
    # the shell example: the same security through `quantmini query`
    sql = re.search(r'quantmini query "(.*?)"`', (REPO / "README.md").read_text(), flags=re.S).group(1)
    proc = quantmini_cli(built["lake"].parent, "query", " ".join(sql.split()), "--format", "csv")
    assert proc.returncode == 0, proc.stderr[-2000:]
    shell = pl.read_csv(io.StringIO(proc.stdout), try_parse_dates=True)
    assert set(shell["ticker"]) == {"VGDJ", "AWD"} and shell.height == 7


def test_cli_bars_resolves_a_symbol_to_its_security(built):
    cmd = re.search(r"`uv run quantmini bars (.*?)`", (REPO / "README.md").read_text(), flags=re.S).group(1).split()
    proc = quantmini_cli(built["lake"].parent, "bars", *cmd, "--format", "csv")
    assert proc.returncode == 0, proc.stderr[-2000:]
    shell = pl.read_csv(io.StringIO(proc.stdout), try_parse_dates=True)
    assert shell["ticker"].to_list() == ["VGDJ"] * 3 + ["AWD"] * 4 and shell["security_id"].n_unique() == 1
    proc = quantmini_cli(built["lake"].parent, "bars", "ZSOW", "-s", "2025-03-10", "-e", "2025-03-11",
                         "--as-of", "2025-03-10", "--format", "csv")
    assert proc.returncode == 0 and len(proc.stdout.splitlines()) == 2  # header + 03-10: nothing after as-of
    proc = quantmini_cli(built["lake"].parent, "bars", "NOSUCH")
    assert proc.returncode == 1 and proc.stderr.startswith("quantmini: bars: no silver bars")
