"""Silver and gold from the real workflow, checked against the simulator's truth and read by real pyqlib.

- silver: every month's `factor` is the CRSP back-adjustment as of that month's last session, i.e. the
  truth of the same (prefix-stable) market ending there: point in time by construction.
- gold: pyqlib reads every instrument; $close/$factor is the raw close, $close the truth's adjusted close
  (as of the lake's end), instrument spans are each security's own listing span under its latest symbol.
- Alpha158 in silver equals pyqlib's evaluation of the same expressions on our gold.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from quantmini import calendar
from quantmini.datatypes.stocks_daily import alpha158
from quantmini.qlib_reader import pyqlib_read
from quantmini.sim.market import Market, MarketConfig
from quantmini.sim.server import SimProcess
from workflow_helpers import run_workflow, write_config

TICKERS, SEED, START, END = 24, 11, "2024-01-02", "2024-06-28"
TYPES = ["stocks_daily", "splits", "dividends", "ticker_changes", "tickers"]


def market(end: str | dt.date) -> Market:
    return Market(MarketConfig(seed=SEED, n_tickers=TICKERS, start=START, end=end))


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    work = tmp_path_factory.mktemp("gold")
    with SimProcess(tickers=TICKERS, seed=SEED, start=START, end=END) as sim:
        write_config(work, start=START, end=END, data_types=TYPES, gold={"alpha158": True})
        run_workflow(work, sim.url, timeout=900)
    return work / "lake"


@pytest.fixture(scope="module")
def silver(lake):
    files = sorted((lake / "silver/stocks_daily").glob("year=*/month=*/data.parquet"))
    assert len(files) == 6
    return {int(f.parent.name.split("=")[1]): pl.read_parquet(f) for f in files}


def with_security_id(frame: pl.DataFrame, raw: pl.DataFrame) -> pl.DataFrame:
    """The simulator's own (integer) security id in place of silver's FIGI."""
    return frame.drop("security_id", strict=False).join(raw.select("security_id", "ticker", "date"),
                                                        on=["ticker", "date"], how="left")


def test_silver_factor_is_point_in_time_truth(silver):
    checked_events = 0
    for month, part in silver.items():
        month_end = calendar.month_sessions(START, END)[(2024, month)][-1]
        m = market(month_end)
        truth = m.daily_adjusted().select("security_id", "date", pl.col("factor").alias("t_factor"),
                                          pl.col("adj_close").alias("t_adj_close"))
        got = with_security_id(part, m.daily_raw()).join(truth, on=["security_id", "date"], how="left")
        assert got["security_id"].null_count() == 0 and got["t_factor"].null_count() == 0
        bad = got.filter((pl.col("factor") - pl.col("t_factor")).abs() > 1e-9 * pl.col("t_factor").abs())
        assert bad.is_empty(), f"month {month}: factor differs from the point-in-time truth:\n{bad.head()}"
        assert np.allclose(got["adj_close"], got["t_adj_close"], rtol=1e-12)
        checked_events += got.filter(pl.col("factor") != 1.0).height
    assert checked_events > 0, "no adjusted row in the test window: the check would prove nothing"


def test_bogus_vendor_splits_are_quarantined_not_applied(lake):
    m = market(END)
    assert m.bogus_splits().height >= 2
    key = ["ticker", "execution_date", "split_from", "split_to"]
    served = pl.concat([pl.read_parquet(f) for f in (lake / "bronze/splits").rglob("*.parquet")])
    q = pl.concat([pl.read_parquet(f) for f in (lake / "quarantine/corporate_actions").rglob("*.parquet")],
                  how="diagonal_relaxed")
    assert q["reason"].null_count() == 0
    kept = served.filter(~pl.col("id").is_in(q["id"].implode()))
    # exactly the true splits are applied (by content: a duplicate's copy may carry either id)
    assert sorted(kept.select(key).rows()) == sorted(m.splits().select(key).rows())
    assert served.height - kept.height == m.bogus_splits().height


def test_gold_read_by_pyqlib_matches_truth(lake):
    m = market(END)
    truth = m.daily_adjusted().join(m.daily_raw().select("security_id", "date", "close"), on=["security_id", "date"])
    sec = m.securities().select("security_id", "current_ticker")
    view = pyqlib_read(lake / "gold/qlib", ["$close", "$factor", "$close/$factor", "$volume"], start=START, end=END)
    assert [d.date() for d in view.calendar] == calendar.sessions(START, END)
    # instruments: each security under its latest symbol, spanning its own first..last bar
    spans = truth.join(sec, on="security_id").group_by("current_ticker").agg(
        pl.col("date").min().alias("first"), pl.col("date").max().alias("last"))
    expected = {r[0]: (r[1], r[2]) for r in spans.iter_rows()}
    got = {s: (v[0][0].date(), v[0][1].date()) for s, v in view.spans.items()}
    assert got == expected
    feats = pl.from_pandas(view.features.reset_index()).rename({"instrument": "symbol", "datetime": "date"})
    feats = feats.with_columns(pl.col("date").cast(pl.Date))
    ref = truth.join(sec, on="security_id").select(pl.col("current_ticker").alias("symbol"), "date",
                                                    "adj_close", "close", "factor")
    j = ref.join(feats, on=["symbol", "date"], how="left")
    assert j.height == truth.height and j["$close"].null_count() == 0
    assert np.allclose(j["$close"], j["adj_close"].cast(pl.Float32), rtol=2e-7, atol=0)
    assert np.allclose(j["$close/$factor"], j["close"], rtol=1e-6)
    assert np.allclose(j["$factor"], j["factor"].cast(pl.Float32), rtol=2e-7)
    changed = m.ticker_changes()
    assert changed.height >= 1
    for new in changed["new_ticker"]:
        assert got[new][0] < changed.filter(pl.col("new_ticker") == new)["date"][0], "history did not follow the rename"


def test_silver_alpha158_equals_pyqlib_on_gold(lake, silver):
    names = alpha158.FEATURE_NAMES
    view = pyqlib_read(lake / "gold/qlib", [alpha158.QLIB_EXPRESSIONS[n] for n in names], start=START, end=END)
    ref = pl.from_pandas(view.features.reset_index())
    ref.columns = ["security", "date", *names]
    ref = ref.with_columns(pl.col("date").cast(pl.Date))
    m = market(END)
    latest = m.daily_raw().join(m.securities(), on="security_id").select(
        "ticker", "date", pl.col("current_ticker").alias("symbol"))
    ours = (pl.concat(list(silver.values())).join(latest, on=["ticker", "date"])
            .select(pl.col("symbol").alias("security"), "date", *names))
    j = ours.join(ref, on=["security", "date"], suffix="_q")
    assert j.height == ours.height
    worst = {}
    for n in names:
        a, b = j[n].cast(pl.Float64).to_numpy(), j[f"{n}_q"].cast(pl.Float64).to_numpy()
        nan_a, nan_b = np.isnan(a), np.isnan(b)
        assert (nan_a == nan_b).all(), f"{n}: NaN pattern differs ({(nan_a != nan_b).sum()} rows)"
        ok = ~nan_a
        err = np.abs(a[ok] - b[ok]) / np.maximum(1.0, np.abs(b[ok]))
        worst[n] = float(err.max()) if err.size else 0.0
    bad = {n: e for n, e in worst.items() if e > 1e-4}
    assert not bad, f"features differ from pyqlib on gold: {bad}"
