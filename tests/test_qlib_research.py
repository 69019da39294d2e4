"""Research with Qlib on a lake built by the real workflow from the simulator (issue 19).

- QuantminiAlpha158 prepares the dataset Qlib's own Alpha158 handler prepares over the same gold (real
  pyqlib, same processors): same index, same NaN pattern, values within 1e-5 (|a - b| <= 1e-5 max(1, |b|)).
- The example qrun workflow (LightGBM, SignalRecord, SigAnaRecord, PortAnaRecord) runs on small
  segments, and its backtest only holds symbols on sessions that gold has.
- PIT: P($$eps_q) read by pyqlib on each session is the latest figure accepted by that session's close,
  from the simulator's truth.
- A planted news signal is found by a model trained on the lake (IC clearly above 0); a planted leak,
  which only a model seeing 3 sessions ahead could use, is not (IC near 0), while the same model given
  the look-ahead does find it (so the check can fail).

pyqlib keeps global state, so each pyqlib step runs in its own interpreter.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
import yaml
from quantmini import calendar
from quantmini.sim.market import Market, MarketConfig
from quantmini.sim.server import SimProcess
from workflow_helpers import REPO, run_workflow, write_config

TICKERS, SEED, START, END = 60, 19, "2024-01-02", "2024-06-28"
TYPES = ["stocks_daily", "splits", "dividends", "ticker_changes", "tickers", "news", "fundamentals"]
SIGNAL, LEAK = 0.35, 0.35
RTOL = 1e-5


def build_lake(work: Path, types: list[str], gold_alpha158: bool, **plant) -> Path:
    """gold (with PIT when fundamentals are built) and silver news_daily only: the tests read no other silver."""
    news = [f"{work}/lake/silver/news_daily/year={y:04d}/month={m:02d}/data.parquet"
            for (y, m) in calendar.month_sessions(START, END)]
    with SimProcess(tickers=TICKERS, seed=SEED, start=START, end=END, **plant) as sim:
        write_config(work, start=START, end=END, data_types=types, gold={"alpha158": gold_alpha158})
        run_workflow(work, sim.url, "gold", *news, timeout=900)
    return work / "lake"


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    """Signal (even securities) and leak (odd securities) planted in the news; stocks, corporate actions,
    news, fundamentals; gold with Alpha158."""
    return build_lake(tmp_path_factory.mktemp("qlib_research"), TYPES, True, plant_signal=SIGNAL,
                      plant_leak=LEAK)


def market() -> Market:
    return Market(MarketConfig(seed=SEED, n_tickers=TICKERS, start=START, end=END, plant_signal=SIGNAL,
                               plant_leak=LEAK))


def in_pyqlib(script: str, spec: dict, cwd: Path, timeout: float = 600):
    """Run `script` (reading `spec`, writing `out` with pickle) in a fresh interpreter; return its object."""
    out = cwd / "out.pkl"
    spec = {**spec, "out": str(out)}
    proc = subprocess.run([sys.executable, "-c", script, json.dumps(spec)], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"pyqlib step failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"
    with open(out, "rb") as fh:
        return pickle.load(fh), proc.stdout + proc.stderr


# ------------------------------------------------------------------ 1. the handler equals Qlib's Alpha158
_HANDLERS = r"""
import json, pickle, sys
spec = json.loads(sys.argv[1])
import qlib
qlib.init(provider_uri=spec["provider"], region="us", expression_cache=None, dataset_cache=None, kernels=1,
          logging_level=40)
from qlib.contrib.data.handler import Alpha158
from qlib.data.dataset import DatasetH
from qlib.data.dataset.handler import DataHandlerLP
from quantmini.qlib_handler import QuantminiAlpha158
kw = spec["kwargs"]
out = {}
for name, make in [("qlib", lambda: Alpha158(**kw))] + [
        (src, lambda src=src: QuantminiAlpha158(source=src, **kw)) for src in spec["sources"]]:
    ds = DatasetH(make(), segments=spec["segments"])
    out[name] = {"raw": ds.handler.fetch(data_key=DataHandlerLP.DK_R),
                 **{f"{seg}_{k}": ds.prepare(seg, col_set=["feature", "label"], data_key=dk)
                    for seg in spec["segments"] for k, dk in (("L", DataHandlerLP.DK_L), ("I", DataHandlerLP.DK_I))}}
with open(spec["out"], "wb") as fh:
    pickle.dump(out, fh)
"""


def relative_errors(ours: pd.DataFrame, ref: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(elementwise |a-b| / max(1, |b|) with 0 where both NaN, NaN-pattern mismatch mask)."""
    a, b = ours.to_numpy(np.float64), ref.to_numpy(np.float64)
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    err = np.abs(a - b) / np.maximum(1.0, np.abs(b))
    err[nan_a & nan_b] = 0.0
    return err, nan_a != nan_b


@pytest.fixture(scope="module")
def prepared(lake, tmp_path_factory):
    kwargs = {"instruments": "all", "start_time": START, "end_time": END, "fit_start_time": START,
              "fit_end_time": "2024-04-30",
              "infer_processors": [{"class": "RobustZScoreNorm", "kwargs": {"fields_group": "feature", "clip_outlier": True}},
                                   {"class": "Fillna", "kwargs": {"fields_group": "feature"}}],
              "learn_processors": [{"class": "DropnaLabel"},
                                   {"class": "CSRankNorm", "kwargs": {"fields_group": "label"}}]}
    spec = {"provider": str(lake / "gold/qlib"), "kwargs": kwargs, "sources": ["compute", "gold", "silver"],
            "segments": {"train": [START, "2024-04-30"], "test": ["2024-05-01", END]}}
    out, _ = in_pyqlib(_HANDLERS, spec, tmp_path_factory.mktemp("handlers"))
    return out


def test_handler_prepares_what_qlib_alpha158_prepares(prepared):
    ref, ours = prepared["qlib"], prepared["compute"]
    assert ref["raw"].shape[0] > 4000 and ref["raw"].shape[1] == 159
    for key in ref:
        assert ours[key].index.equals(ref[key].index), f"{key}: index differs"
        assert list(ours[key].columns) == list(ref[key].columns), f"{key}: columns differ"
        err, nan_mismatch = relative_errors(ours[key], ref[key])
        assert not nan_mismatch.any(), f"{key}: NaN pattern differs in {nan_mismatch.sum()} values"
        assert err.max() <= RTOL, f"{key}: worst relative error {err.max():.3g} at {np.unravel_index(err.argmax(), err.shape)}"
    assert ref["raw"].isna().to_numpy().any(), "no NaN in the raw frame: the NaN check would prove nothing"


def test_handler_over_stored_features_matches_qlib_to_silver_precision(prepared):
    """gold fields and silver: nothing recomputed; same rows and NaN, values to silver's precision."""
    ref = prepared["qlib"]["raw"]
    for src in ("gold", "silver"):
        got = prepared[src]["raw"]
        assert got.index.equals(ref.index)
        err, nan_mismatch = relative_errors(got, ref)
        assert not nan_mismatch.any(), f"{src}: NaN pattern differs in {nan_mismatch.sum()} values"
        assert (err > RTOL).mean() < 1e-3, f"{src}: {(err > RTOL).mean():.2%} of values beyond {RTOL}"
        assert (err > 1e-3).sum() <= 3, f"{src}: {(err > 1e-3).sum()} values beyond 1e-3"
        label = got.iloc[:, -1].to_numpy(np.float64)  # LABEL0
        assert np.array_equal(label, ref.iloc[:, -1].to_numpy(np.float64), equal_nan=True)


def test_handler_bad_source_is_one_line():
    from quantmini.qlib_handler import QuantminiAlpha158DL

    with pytest.raises(ValueError, match=r"^quantmini: handler source 'fast' is not one of"):
        QuantminiAlpha158DL(source="fast")


# ------------------------------------------------------------------ 2. the example workflow
def test_example_workflow_runs_and_trades_only_what_gold_holds(lake, tmp_path):
    cfg = yaml.safe_load((REPO / "examples/qlib/workflow_lightgbm_alpha158.yaml").read_text())
    cfg["qlib_init"]["provider_uri"] = str(lake / "gold/qlib")
    spans = {}
    for line in (lake / "gold/qlib/instruments/all.txt").read_text().splitlines():
        sym, a, b = line.split("\t")
        spans[sym] = (pd.Timestamp(a), pd.Timestamp(b))
    bench = next(s for s, (a, b) in sorted(spans.items()) if a == pd.Timestamp(START) and b == pd.Timestamp(END))
    h = cfg["data_handler_config"]
    h.update(start_time=START, end_time=END, fit_start_time=START, fit_end_time="2024-03-28")
    cfg["task"]["dataset"]["kwargs"]["segments"] = {"train": [START, "2024-03-28"], "valid": ["2024-04-01", "2024-04-30"],
                                                    "test": ["2024-05-01", END]}
    cfg["task"]["model"]["kwargs"].update(num_boost_round=30, early_stopping_rounds=10)
    bt = cfg["port_analysis_config"]["backtest"]
    bt.update(start_time="2024-05-01", end_time="2024-06-26", benchmark=bench)
    cfg["port_analysis_config"]["strategy"]["kwargs"].update(topk=8, n_drop=2)
    # the anchors were resolved by yaml: write the plain mapping back
    path = tmp_path / "workflow.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    env = {k: v for k, v in os.environ.items()}
    proc = subprocess.run([str(Path(sys.executable).parent / "qrun"), str(path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    assert "'IC':" in out and "annualized_return" in out and "max_drawdown" in out, out[-3000:]
    positions = list((tmp_path / "mlruns").rglob("positions_normal_1day.pkl"))
    assert len(positions) == 1, positions
    with open(positions[0], "rb") as fh:
        pos = pickle.load(fh)
    sessions = {pd.Timestamp(d) for d in calendar.sessions(START, END)}
    held = 0
    for day, p in pos.items():
        assert pd.Timestamp(day) in sessions, f"position on a non-session {day}"
        for sym in p.get_stock_list():
            assert sym in spans, f"{sym} is not in gold"
            a, b = spans[sym]
            assert a <= pd.Timestamp(day) <= b, f"{sym} held on {day}, outside its gold span {a}..{b}"
            held += 1
    assert held > 0, "the backtest held nothing"


# ------------------------------------------------------------------ 4. PIT fundamentals
_PIT = r"""
import json, pickle, sys
spec = json.loads(sys.argv[1])
import qlib
from qlib.data import D
qlib.init(provider_uri=spec["provider"], region="us", expression_cache=None, dataset_cache=None, kernels=1,
          logging_level=40)
df = D.features(spec["symbols"], ["P($$eps_q)", "P($$revenues_q)", "P($$eps_a)"], start_time=spec["start"],
                end_time=spec["end"])
with open(spec["out"], "wb") as fh:
    pickle.dump(df, fh)
"""


def test_pit_value_on_a_session_is_latest_accepted_by_its_close(lake, tmp_path):
    from quantmini.sim.financials import truth_frames

    m = market()
    fil = truth_frames(m)["financials"].join(m.securities().select("security_id", "current_ticker"),
                                             on="security_id")
    q = fil.filter(pl.col("timeframe") == "quarterly")
    symbols = sorted(q["current_ticker"].unique().to_list())[:12]
    got, _ = in_pyqlib(_PIT, {"provider": str(lake / "gold/qlib"), "symbols": symbols, "start": START,
                              "end": END}, tmp_path)
    closes = {d: calendar.session_bounds_utc(d)[1] for d in calendar.sessions(START, END)}
    checked = changed = 0
    for sym in symbols:
        per = (q.filter(pl.col("current_ticker") == sym).sort("acceptance_datetime")
               .select("acceptance_datetime", (pl.col("fiscal_year").cast(pl.Int64) * 100
                                               + pl.col("fiscal_period").str.slice(1).cast(pl.Int64)).alias("period"),
                       "basic_earnings_per_share", "revenues").rows())
        mine = got.xs(sym, level="instrument")
        prev, best, k = None, None, 0
        for day, close in closes.items():
            while k < len(per) and per[k][0] <= close:  # filings accepted by this session's close
                if best is None or per[k][1] >= best[1]:
                    best = per[k]
                k += 1
            expect, expect_rev = (np.nan, np.nan) if best is None else (best[2], best[3])
            row = mine.loc[pd.Timestamp(day)]
            for have, want in ((row["P($$eps_q)"], expect), (row["P($$revenues_q)"], expect_rev)):
                assert (np.isnan(have) and np.isnan(want)) or np.isclose(have, want, rtol=1e-6), \
                    f"{sym} {day}: PIT {have} != latest accepted {want}"
            checked += 1
            changed += prev is not None and not (np.isnan(expect) and np.isnan(prev)) and expect != prev
            prev = expect
    assert checked > 1000 and changed >= 12, (checked, changed)
    # a filing accepted after a session's close is not visible on that session (the edge is exercised)
    late = q.filter(pl.col("current_ticker").is_in(symbols)).with_columns(
        pl.col("acceptance_datetime").dt.convert_time_zone("America/New_York").dt.hour().alias("h"))
    assert (late["h"] >= 16).any() or (late["h"] < 9).any()


def test_pit_files_are_qlib_layout(lake):
    from quantmini.datatypes.fundamentals.gold_pit import RECORD

    root = lake / "gold/qlib/financial"
    data = sorted(root.glob("*/eps_q.data"))
    assert data, "no PIT eps_q files"
    for f in data[:5]:
        rec = np.fromfile(f, dtype=RECORD)
        assert RECORD.itemsize == 20 and (np.diff(rec["date"].astype(np.int64)) >= 0).all()
        idx = np.fromfile(f.with_suffix(".index"), dtype="<u4")
        assert 2000 < idx[0] < 2100 and len(idx) % 4 == 1


# ------------------------------------------------------------------ 3. planted signal and leak
def _news_frame(lake: Path) -> pl.DataFrame:
    files = sorted((lake / "silver/news_daily").glob("year=*/month=*/data.parquet"))
    return pl.concat([pl.read_parquet(f) for f in files]).select(
        "ticker", "date", "news_count", "positive_count", "negative_count", "sentiment_mean")


_LABEL = r"""
import json, pickle, sys
spec = json.loads(sys.argv[1])
import qlib
from qlib.data import D
qlib.init(provider_uri=spec["provider"], region="us", expression_cache=None, dataset_cache=None, kernels=1,
          logging_level=40)
df = D.features(D.instruments("all"), ["Ref($close, -2)/Ref($close, -1) - 1"], start_time=spec["start"],
                end_time=spec["end"])
with open(spec["out"], "wb") as fh:
    pickle.dump(df, fh)
"""


@pytest.fixture(scope="module")
def labels(lake, tmp_path_factory) -> pl.DataFrame:
    """ticker, date, label: Qlib's Alpha158 label as pyqlib computes it on the main lake's gold."""
    lab, _ = in_pyqlib(_LABEL, {"provider": str(lake / "gold/qlib"), "start": START, "end": END},
                       tmp_path_factory.mktemp("labels"))
    lab = pl.from_pandas(lab.reset_index())
    lab.columns = ["ticker", "date", "label"]
    return lab.with_columns(pl.col("date").cast(pl.Date))


def _dataset(lake: Path, labels: pl.DataFrame, half: int, lead: int = 0) -> pl.DataFrame:
    """ticker, date, news features as of the session (or `lead` sessions later: a look-ahead), label, for
    the securities of even (half 0: signal) or odd (half 1: leak) index."""
    m = market()
    j = pl.col("security_id") - 10_001  # the simulator's security index (planted.py splits on its parity)
    idx = m.daily_raw().select("ticker", "date", "security_id").filter(j % 2 == half)
    news = _news_frame(lake).join(idx, on=["ticker", "date"], how="semi").sort("ticker", "date")
    if lead:
        feats = [c for c in news.columns if c not in ("ticker", "date")]
        news = news.with_columns(pl.col(c).shift(-lead).over("ticker") for c in feats)
    return labels.join(news, on=["ticker", "date"], how="inner").filter(pl.col("label").is_not_nan())


def _lgbm_ic(frame: pl.DataFrame) -> float:
    """Train LightGBM on the first 60 % of sessions, return the mean daily rank IC on the rest."""
    import lightgbm as lgb

    feats = ["news_count", "positive_count", "negative_count", "sentiment_mean"]
    days = sorted(frame["date"].unique().to_list())
    cut = days[int(len(days) * 0.6)]
    train, test = frame.filter(pl.col("date") < cut), frame.filter(pl.col("date") >= cut)
    x = lambda f: f.select(feats).to_numpy().astype(np.float64)  # noqa: E731
    model = lgb.train({"objective": "regression", "learning_rate": 0.05, "num_leaves": 7, "min_data_in_leaf": 50,
                       "verbose": -1, "num_threads": 2, "seed": 1, "deterministic": True},
                      lgb.Dataset(x(train), train["label"].to_numpy()), num_boost_round=60)
    test = test.with_columns(pl.Series("pred", model.predict(x(test))))
    ics = (test.group_by("date").agg(pl.corr("pred", "label", method="spearman").alias("ic"))
           .filter(pl.col("ic").is_not_nan()))
    return float(ics["ic"].mean())


def test_model_finds_planted_signal(lake, labels):
    ic = _lgbm_ic(_dataset(lake, labels, half=0))
    assert ic > 0.08, f"planted signal not found: IC {ic:.3f}"


def test_model_cannot_exploit_planted_leak(lake, labels):
    ic = _lgbm_ic(_dataset(lake, labels, half=1))
    assert abs(ic) < 0.05, f"point-in-time model has IC {ic:.3f} on the leak: look-ahead somewhere"
    # the same model given a 3-session look-ahead reads the leak: the check above can fail
    ahead = _lgbm_ic(_dataset(lake, labels, half=1, lead=3))
    assert ahead > 0.08, f"look-ahead model IC {ahead:.3f}: the leak is not in the data"
