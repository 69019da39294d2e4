"""options_daily end to end: the real workflow (Snakemake) against the live simulator over HTTP/2, checked
against the simulator's ground truth (`OptionsMarket`: contracts, bars, and the KNOWN vols it priced with).

One lake (3 underlyings: one with a 1:2 split inside the range, two dividend payers; 2025-01-02 to
2025-02-14) is built once, run again (a no-op), then advanced by one session (2025-02-18, after the
Presidents' Day holiday); most tests read that lake and the simulator's request log. A second, small lake
(another market, with ticker_changes) holds an underlying renamed inside the range, whose contracts
listed before the rename keep the old root.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qsl

import httpx
import numpy as np
import polars as pl
import pytest
from quantmini.calendar import sessions
from quantmini.datatypes.options.landing import land_year
from quantmini.lake import LakePaths
from quantmini.landing_documents import ClientOptions
from quantmini.sim.market import Market, MarketConfig
from quantmini.sim.options import RATE, OptionsMarket, bsm_price
from quantmini.sim.server import SimProcess
from workflow_helpers import run_workflow, write_config

TICKERS, SEED, START, FIRST_END, END, MARKET_END = 20, 7, "2025-01-02", "2025-02-14", "2025-02-18", "2025-03-31"
UNDERLYINGS = ["IPY", "OYN", "UKUL"]  # UKUL splits 1:2 on session 15; OYN and IPY pay dividends
TYPES = ["stocks_daily", "dividends", "options_daily"]
MONTHS = ["year=2025/month=01", "year=2025/month=02"]


def silver_targets(lake: Path) -> list[str]:
    return [str(lake / "silver" / "options_daily" / m / "data.parquet") for m in MONTHS]


def read_parts(lake: Path, layer: str, dtype: str) -> pl.DataFrame:
    files = sorted((lake / layer / dtype).glob("year=*/month=*/data.parquet"))
    assert [str(f.parent.relative_to(lake / layer / dtype)) for f in files] == MONTHS
    return pl.concat([pl.read_parquet(f) for f in files])


def options_requests(requests: list[dict]) -> tuple[list[dict], list[dict]]:
    contracts = [r for r in requests if r["path"] == "/v3/reference/options/contracts"]
    bars = [r for r in requests if r["path"].startswith("/v2/aggs/ticker/O:")]
    return contracts, bars


@pytest.fixture(scope="module")
def market():
    return Market(MarketConfig(seed=SEED, n_tickers=TICKERS, start=START, end=MARKET_END))


@pytest.fixture(scope="module")
def om(market):
    return OptionsMarket.of(market)


@pytest.fixture(scope="module")
def truth(om):
    """Every contract-session of the underlyings up to END (traded or not), with the known inputs."""
    return om.truth_frame(UNDERLYINGS).filter(pl.col("date") <= dt.date.fromisoformat(END))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("options_workflow")
    work = tmp / "work"
    work.mkdir()
    out = SimpleNamespace(lake=work / "lake", timings={})
    cfg = dict(start=START, data_types=TYPES, alpha158=False, options={"underlyings": UNDERLYINGS, "rate": RATE})
    with SimProcess(tickers=TICKERS, seed=SEED, start=START, end=MARKET_END,
                    request_log=str(tmp / "requests.jsonl")) as sim:
        write_config(work, end=FIRST_END, **cfg)
        t0 = time.monotonic()
        run_workflow(work, sim.url, *silver_targets(out.lake))
        out.timings["build"] = time.monotonic() - t0
        out.first = sim.requests()
        out.first_silver = {m: pl.read_parquet(out.lake / "silver/options_daily" / m / "data.parquet") for m in MONTHS}
        out.jan_mtime = (out.lake / "silver/options_daily" / MONTHS[0] / "data.parquet").stat().st_mtime_ns
        t0 = time.monotonic()
        proc = run_workflow(work, sim.url, *silver_targets(out.lake))
        out.timings["no-op"] = time.monotonic() - t0
        out.noop_output = proc.stdout + proc.stderr
        out.noop = sim.requests()[len(out.first):]
        write_config(work, end=END, **cfg)
        t0 = time.monotonic()
        run_workflow(work, sim.url, *silver_targets(out.lake))
        out.timings["next session"] = time.monotonic() - t0
        out.update = sim.requests()[len(out.first) + len(out.noop):]
        # landing again in-process (as an edited rule script or a forced rerun would): nothing is downloaded
        seen = len(sim.requests())
        out.reland = land_year(LakePaths(out.lake), 2025, {(2025, 1): sessions(START, "2025-01-31"),
                                                           (2025, 2): sessions("2025-02-01", END)},
                               UNDERLYINGS, tmp / "manifest.json", ClientOptions(base_url=sim.url, api_key=None))
        out.reland_requests = sim.requests()[seen:]
        # the endpoint's `expired` semantics, asked directly
        with httpx.Client(base_url=sim.url) as client:
            out.listings = {flag: client.get("/v3/reference/options/contracts", params={
                "underlying_ticker": "OYN", "as_of": "2025-01-31", "expired": flag, "limit": 1000}).json()
                for flag in ("true", "false")}
    print("timings:", {k: round(v, 1) for k, v in out.timings.items()})
    return out


# ------------------------------------------------------------------------------------------ simulator shapes
def test_sim_shapes_match_the_openapi_examples(fixtures_dir, om, market):
    example = json.loads((fixtures_dir / "openapi_examples/v3/reference/options/contracts.json").read_text())
    from quantmini.sim.options import contract_row

    row = contract_row(om.contracts.row(0, named=True))
    assert set(row) == set(example["results"][0])  # additional_underlyings is optional (2nd example row)
    for key, value in example["results"][0].items():
        assert type(row[key]) is type(value) or key == "strike_price", key
    assert re.fullmatch(r"O:[A-Z]+\d{6}[CP]\d{8}", row["ticker"])
    bars_example = json.loads((fixtures_dir / "openapi_examples/v2/aggs/ticker/_optionsTicker_/range/_multiplier_/"
                               "_timespan_/_from_/_to_.json").read_text())
    b = om.daily_bars(om.contracts["ticker"][0])
    assert set(b) == {"session", "o", "h", "l", "c", "v", "vw", "n"} and b["session"].size
    assert set(bars_example["results"][0]) == {"o", "h", "l", "c", "v", "vw", "n", "t"}


def test_sim_is_prefix_stable_and_deterministic(om):
    shorter = OptionsMarket(Market(MarketConfig(seed=SEED, n_tickers=TICKERS, start=START, end=FIRST_END)))
    cut = dt.date.fromisoformat(FIRST_END)
    a = om.truth_frame(UNDERLYINGS).filter(pl.col("date") <= cut)
    b = shorter.truth_frame(UNDERLYINGS)
    assert a.height == b.height > 0
    assert a.drop("contract").equals(b.drop("contract"))


def test_sim_prices_with_its_known_vols(truth):
    t = truth.filter(pl.col("T") > 0)
    price = bsm_price(t["S"].to_numpy(), t["strike"].to_numpy(), t["T"].to_numpy(), RATE, t["q"].to_numpy(),
                      t["sigma"].to_numpy(), (t["contract_type"] == "call").to_numpy())
    np.testing.assert_allclose(price, t["price"].to_numpy(), rtol=0, atol=1e-12)
    traded = t.filter("traded")
    assert (traded["c"] - traded["price"]).abs().max() <= 0.005 + 1e-9  # rounded to cents
    assert 0.2 < truth["traded"].mean() < 0.95  # sparse trading, but mostly traded


# ------------------------------------------------------------------------------------------ bronze
def test_contracts_listing_equals_truth_both_expired_and_not(run, om, market):
    bronze = read_parts(run.lake, "bronze", "options_contracts")
    for month_dir, as_of in ((MONTHS[0], dt.date(2025, 1, 31)), (MONTHS[1], dt.date(2025, 2, 18))):
        got = pl.read_parquet(run.lake / "bronze/options_contracts" / month_dir / "data.parquet")
        first = dt.date(as_of.year, as_of.month, 1)
        i = market.session_index(as_of)
        want = om.contracts.filter((pl.col("list_session") <= i) & (pl.col("expiration") >= first)
                                   & pl.col("underlying").is_in(UNDERLYINGS))
        cols = ["ticker", "underlying", "contract_type", "strike", "expiration"]
        assert got.select(cols).sort("ticker").equals(want.select(cols).sort("ticker"))
        assert (got["shares_per_contract"] == 100).all()
        assert (got["expiration"] >= as_of).any()
    # both listings were needed: January's contracts include some that expired during the month (2025-01-17)
    jan = pl.read_parquet(run.lake / "bronze/options_contracts" / MONTHS[0] / "data.parquet")
    assert (jan["expiration"] == dt.date(2025, 1, 17)).sum() > 0
    traded_jan = read_parts(run.lake, "bronze", "options_daily").filter(pl.col("expiration") == dt.date(2025, 1, 17))
    assert traded_jan.height > 0
    assert bronze["ticker"].n_unique() > 100


def test_bronze_bars_equal_truth_for_every_contract_session(run, truth):
    bronze = read_parts(run.lake, "bronze", "options_daily")
    served = truth.filter("traded")
    joined = bronze.join(served, on=["ticker", "date"], how="full", coalesce=True)
    assert joined.filter(pl.col("close").is_null()).height == 0, "a served bar is missing from bronze"
    assert joined.filter(pl.col("c").is_null()).height == 0, "bronze has a bar the simulator never served"
    assert bronze.height == served.height > 1000
    for mine, theirs in (("open", "o"), ("high", "h"), ("low", "l"), ("close", "c"), ("volume", "v"),
                         ("vwap", "vw"), ("transactions", "n")):
        assert (joined[mine] == joined[theirs]).all(), mine
    for col in ("underlying", "contract_type", "strike", "expiration"):
        assert (joined[col] == joined[f"{col}_right"]).all(), col
    assert (bronze["expiration"] >= bronze["date"]).all()
    assert (bronze["shares_per_contract"] == 100).all()


def test_split_ends_the_bars_of_contracts_spanning_it(run, market, om):
    bronze = read_parts(run.lake, "bronze", "options_daily").filter(pl.col("underlying") == "UKUL")
    j = int(np.flatnonzero(market.sym0 == "UKUL")[0])
    split_day = market.sessions[int(market.spl.idx[market.spl.sec == j][0])]
    listed_before = bronze.group_by("ticker").agg(pl.col("date").min().alias("first"),
                                                  pl.col("date").max().alias("last"))
    spanning = listed_before.filter(pl.col("first") < split_day)
    assert spanning.height and (spanning["last"] < split_day).all()
    # contracts listed after the split (the April expiry, listed late February) trade at the new price
    later = om.truth_frame(["UKUL"]).filter(pl.col("traded") & (pl.col("date") >= split_day))
    assert later.height > 0 and (later["expiration"] > dt.date(2025, 3, 21)).all()


def test_validation_reports_are_clean(run):
    for dtype in ("options_daily", "options_contracts"):
        for m in MONTHS:
            rep = json.loads((run.lake / "reports/validation" / dtype / f"{m}.json").read_text())
            assert rep["ok"] and rep["rows_quarantined"] == 0 and rep["rows_valid"] > 0, (dtype, m, rep)
            assert pl.read_parquet(run.lake / "quarantine" / dtype / m / "data.parquet").height == 0


# ------------------------------------------------------------------------------------------ silver
@pytest.fixture(scope="module")
def silver(run, truth):
    s = read_parts(run.lake, "silver", "options_daily")
    return s.join(truth.select("ticker", "date", "S", "T", "q", "sigma", "price", "c"), on=["ticker", "date"],
                  how="left")


def assert_inputs_match_the_simulator(silver: pl.DataFrame) -> None:
    """Silver joined with the truth (S, T, q): every input of the BSM fit is the simulator's."""
    assert silver["S"].null_count() == 0 and silver["underlying_close"].null_count() == 0  # (== skips nulls)
    assert (silver["underlying_close"] == silver["S"]).all()
    np.testing.assert_allclose(silver["dividend_yield"], silver["q"], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(silver["days_to_expiry"] / 365.0, silver["T"], rtol=1e-15, atol=0)
    assert (silver["moneyness"] == silver["underlying_close"] / silver["strike"]).all()
    assert (silver["rate"] == RATE).all()


def assert_iv_recovers_the_known_vol(silver: pl.DataFrame) -> int:
    """|iv - known vol| < 1e-3 where vega >= 10, and a found vol reprices the close; returns how many
    rows have vega >= 10 (the callers ask for enough of them)."""
    is_call = (silver["contract_type"] == "call").to_numpy()
    S, K, T, q = (silver[c].to_numpy() for c in ("S", "strike", "T", "q"))
    iv, close = silver["iv"].to_numpy(), silver["close"].to_numpy()
    # vega at the TRUE vol (the simulator's formula): the close is rounded to cents, so the error of the
    # recovered vol is about 0.005 / vega; where vega >= 10 it must be under 1e-3
    h = 1e-6
    vega_true = (bsm_price(S, K, T, RATE, q, silver["sigma"] + h, is_call)
                 - bsm_price(S, K, T, RATE, q, silver["sigma"] - h, is_call)) / (2 * h)
    big = vega_true >= 10
    assert np.isfinite(iv[big]).all()
    assert np.abs(iv[big] - silver["sigma"].to_numpy()[big]).max(initial=0.0) < 1e-3
    # where a vol was found it reprices the served close exactly
    fit = np.isfinite(iv)
    reprice = bsm_price(S[fit], K[fit], T[fit], RATE, q[fit], iv[fit], is_call[fit])
    np.testing.assert_allclose(reprice, close[fit], rtol=0, atol=1e-7)
    return int(big.sum())


def assert_iv_nan_exactly_where_no_vol_fits(silver: pl.DataFrame) -> np.ndarray:
    """iv is NaN exactly where the no-arbitrage bounds (at the TRUE S, T, q) leave no vol; returns that mask."""
    from quantmini.datatypes.options.bsm import SIGMA_MAX

    is_call = (silver["contract_type"] == "call").to_numpy()
    S, K, T, q = (silver[c].to_numpy() for c in ("S", "strike", "T", "q"))
    close = silver["close"].to_numpy()
    fq, fr = S * np.exp(-q * T), K * np.exp(-RATE * T)
    lower = np.where(is_call, np.maximum(fq - fr, 0), np.maximum(fr - fq, 0))
    upper = np.where(is_call, fq, fr)
    with np.errstate(divide="ignore", invalid="ignore"):
        top = np.where(T > 0, bsm_price(S, K, np.maximum(T, 1e-12), RATE, q, SIGMA_MAX, is_call), 0)
    no_fit = (T <= 0) | (close <= lower) | (close >= upper) | (close >= top)
    assert (np.isnan(silver["iv"].to_numpy()) == no_fit).all()
    return no_fit


def test_silver_inputs_match_the_simulator(silver):
    assert_inputs_match_the_simulator(silver)
    assert (silver["dividend_yield"] > 0).any()


def test_implied_vol_recovers_the_known_vol(silver):
    assert assert_iv_recovers_the_known_vol(silver) > 300


def test_implied_vol_is_nan_exactly_where_no_vol_fits(silver):
    no_fit = assert_iv_nan_exactly_where_no_vol_fits(silver)
    assert no_fit.any() and (~no_fit).any()
    expiry_day = silver["days_to_expiry"].to_numpy() == 0
    assert expiry_day.any() and np.isnan(silver["iv"].to_numpy()[expiry_day]).all()


def test_greeks_match_finite_differences_of_the_simulators_pricer(silver):
    s = silver.filter(pl.col("iv").is_not_nan())
    is_call = (s["contract_type"] == "call").to_numpy()
    S, K, T, q, iv = (s[c].to_numpy() for c in ("S", "strike", "T", "q", "iv"))
    p = lambda S=S, T=T, v=iv: bsm_price(S, K, T, RATE, q, v, is_call)  # noqa: E731
    hS, hv, hT = 1e-4 * S, 1e-6, 1e-7
    np.testing.assert_allclose(s["delta"], (p(S=S + hS) - p(S=S - hS)) / (2 * hS), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(s["gamma"], (p(S=S + hS) - 2 * p() + p(S=S - hS)) / hS**2, rtol=5e-3, atol=1e-4)
    np.testing.assert_allclose(s["vega"], (p(v=iv + hv) - p(v=iv - hv)) / (2 * hv), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(s["theta"], -(p(T=T + hT) - p(T=T - hT)) / (2 * hT), rtol=1e-4, atol=1e-3)
    assert ((s["delta"] > 0) == (s["contract_type"] == "call")).all()


# ------------------------------------------------------------------------------------------ incremental
def test_landing_again_downloads_nothing(run):
    assert run.reland == {"contracts_files": 0, "bars_files": 0, "bar_requests": 0}
    assert run.reland_requests == []


def test_expired_flag_lists_only_expired_or_only_unexpired(run, om, market):
    as_of = dt.date(2025, 1, 31)
    expired = [r["expiration_date"] for r in run.listings["true"]["results"]]
    live = [r["expiration_date"] for r in run.listings["false"]["results"]]
    assert expired and live
    assert all(e < as_of.isoformat() for e in expired) and all(e >= as_of.isoformat() for e in live)
    i = market.session_index(as_of)
    want = om.contracts.filter((pl.col("underlying") == "OYN") & (pl.col("list_session") <= i))
    got = {r["ticker"] for r in run.listings["true"]["results"] + run.listings["false"]["results"]}
    assert got == set(want["ticker"].to_list())


def test_second_run_does_nothing(run):
    assert run.noop == []
    assert "Nothing to be done" in run.noop_output


def test_one_session_update_requests_only_that_session(run, om, market):
    contracts, bars = options_requests(run.update)
    new = dt.date.fromisoformat(END)
    # contracts: two listings (expired false / true) per underlying, as of the new session
    assert len(contracts) == 2 * len(UNDERLYINGS)
    assert {dict(parse_qsl(r["query"]))["as_of"] for r in contracts} == {END}
    # bars: one request per contract live on the new session, each for that session only
    spans = {tuple(r["path"].split("/")[-2:]) for r in bars}
    assert spans == {(END, END)}
    i = market.session_index(new)
    live = om.contracts.filter((pl.col("list_session") <= i) & (pl.col("expiration") >= new)
                               & pl.col("underlying").is_in(UNDERLYINGS))
    assert sorted(r["path"].split("/")[4] for r in bars) == sorted(live["ticker"].to_list())
    print(f"one-session update: {len(contracts)} contracts + {len(bars)} bar requests")
    # the closed month (January) was not rebuilt; February's closed sessions are unchanged
    assert (run.lake / "silver/options_daily" / MONTHS[0] / "data.parquet").stat().st_mtime_ns == run.jan_mtime
    feb = pl.read_parquet(run.lake / "silver/options_daily" / MONTHS[1] / "data.parquet")
    before = run.first_silver[MONTHS[1]]
    assert feb.filter(pl.col("date") < new).equals(before)
    assert feb.filter(pl.col("date") == new).height > 0


def test_first_build_requests(run, om, market):
    contracts, bars = options_requests(run.first)
    # one listing pair (expired false / true) per underlying and month, as of the month's last session
    queries = [dict(parse_qsl(r["query"])) for r in contracts]
    pairs = [(q["as_of"], q["underlying_ticker"], q["expired"]) for q in queries]
    assert sorted(pairs) == sorted((d, u, e) for d in ("2025-01-31", FIRST_END) for u in UNDERLYINGS
                                   for e in ("false", "true"))
    # one bar request per contract over the whole range (a contract's two months in one request)
    assert {tuple(r["path"].split("/")[-2:]) for r in bars} == {(START, FIRST_END)}
    i = market.session_index(dt.date.fromisoformat(FIRST_END))
    want = om.contracts.filter((pl.col("list_session") <= i) & (pl.col("expiration") >= dt.date.fromisoformat(START))
                               & pl.col("underlying").is_in(UNDERLYINGS))
    assert sorted(r["path"].split("/")[4] for r in bars) == sorted(want["ticker"].to_list())
    assert all(r["status"] == 200 for r in run.first)


# ------------------------------------------------------------------------------------------ renamed underlying
# Market seed 12 (same size and dates): its forced ticker change renames XVX (~$300: vega >= 10 is common)
# to VFOU on 2025-02-25. Contracts listed before (the March and April expiries) keep the root XVX until
# they expire, while the stock trades as VFOU. GPRN (a dividend payer, never renamed) is the control.
RENAMED_SEED, RENAMED_END = 12, "2025-03-07"
OLD_ROOT, NEW_SYMBOL, RENAME_DAY = "XVX", "VFOU", dt.date(2025, 2, 25)
RENAMED_UNDERLYINGS = [OLD_ROOT, "GPRN"]
RENAMED_TYPES = ["stocks_daily", "dividends", "tickers", "ticker_changes", "options_daily"]


@pytest.fixture(scope="module")
def renamed_market():
    m = Market(MarketConfig(seed=RENAMED_SEED, n_tickers=TICKERS, start=START, end=MARKET_END))
    # the case this section is about, as the simulator generates it (else these tests would prove nothing)
    assert m.ticker_changes().select("date", "old_ticker", "new_ticker").rows() == [
        (RENAME_DAY, OLD_ROOT, NEW_SYMBOL)]
    return m


@pytest.fixture(scope="module")
def renamed_silver(tmp_path_factory, renamed_market):
    """Silver of a lake (2025-01-02 to RENAMED_END, with ticker_changes) joined with the truth."""
    work = tmp_path_factory.mktemp("options_renamed") / "work"
    work.mkdir()
    lake = work / "lake"
    months = MONTHS + ["year=2025/month=03"]
    with SimProcess(tickers=TICKERS, seed=RENAMED_SEED, start=START, end=MARKET_END) as sim:
        write_config(work, start=START, end=RENAMED_END, data_types=RENAMED_TYPES, alpha158=False,
                     options={"underlyings": RENAMED_UNDERLYINGS, "rate": RATE})
        t0 = time.monotonic()
        run_workflow(work, sim.url, *[str(lake / "silver/options_daily" / m / "data.parquet") for m in months])
        print(f"renamed-underlying lake: {time.monotonic() - t0:.1f} s")
    silver = pl.concat([pl.read_parquet(lake / "silver/options_daily" / m / "data.parquet") for m in months])
    truth = (OptionsMarket.of(renamed_market).truth_frame(RENAMED_UNDERLYINGS)
             .filter(pl.col("date") <= dt.date.fromisoformat(RENAMED_END)))
    assert silver.height == truth.filter("traded").height  # every served bar, none other
    return silver.join(truth.select("ticker", "date", pl.col("underlying").alias("root"), "S", "T", "q", "sigma"),
                       on=["ticker", "date"], how="left")


def test_renamed_underlying_is_followed_to_its_new_symbol(renamed_silver, renamed_market):
    s = renamed_silver
    # `underlying` stays the contract's root, as the vendor lists it
    assert (s["underlying"] == s["root"]).all() and set(s["underlying"]) == set(RENAMED_UNDERLYINGS)
    after = s.filter((pl.col("underlying") == OLD_ROOT) & (pl.col("date") >= RENAME_DAY))
    assert after.height > 150 and after["expiration"].n_unique() == 2
    # S after the rename: the simulator's raw close of the same security, traded as VFOU that session
    raw = renamed_market.daily_raw().filter(pl.col("ticker") == NEW_SYMBOL).select("date", pl.col("close").alias("raw"))
    after = after.join(raw, on="date", how="left")
    assert after["raw"].null_count() == 0 and after["underlying_close"].null_count() == 0
    assert (after["underlying_close"] == after["raw"]).all()
    assert_inputs_match_the_simulator(after)
    assert assert_iv_recovers_the_known_vol(after) > 100
    no_fit = assert_iv_nan_exactly_where_no_vol_fits(after)
    assert (~no_fit).sum() > 150


def test_every_row_of_the_renamed_lake_matches_the_simulator(renamed_silver):
    # before the rename, and the control underlying (with its dividend), are as they always were
    assert_inputs_match_the_simulator(renamed_silver)
    assert renamed_silver.filter((pl.col("underlying") == "GPRN") & (pl.col("dividend_yield") > 0)).height > 0
    assert assert_iv_recovers_the_known_vol(renamed_silver) > 300
    assert_iv_nan_exactly_where_no_vol_fits(renamed_silver)
