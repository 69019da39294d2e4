"""Shapes the vendor did send (issue 18, item 5): events without `id`, financials without
`acceptance_datetime`, a month whose every row is quarantined.

References: the vendor's published examples (tests/fixtures/polygon), a hand-worked stamp (2022-05-04
23:59:59 New York = 2022-05-05 03:59:59 UTC), and a lake built from the default shapes of the same
simulated market (ids aside, the events are the same, so silver must come out identical).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import orjson
import polars as pl
import pytest
from quantmini.datatypes.corporate_actions.parse import parse_splits
from quantmini.datatypes.fundamentals.parse import parse_financials
from quantmini.sim.server import SimProcess
from quantmini.vendor_shapes import is_fallback
from workflow_helpers import lake_differences, run_workflow, write_config

MARKET = dict(tickers=12, seed=5, start="2024-01-02", end="2024-02-29")
TYPES = ["stocks_daily", "splits", "dividends", "fundamentals"]


def landing_document(page: dict) -> bytes:
    """A landing document (quantmini.landing_documents) holding one page as served."""
    return orjson.dumps({"requests": [{"path": "/v3/reference/splits", "pages": [page]}]})


def test_splits_without_id_get_a_content_key(fixtures_dir):
    doc = json.loads((fixtures_dir / "openapi_examples/v3/reference/splits.json").read_text())
    served = parse_splits(landing_document(doc))
    for row in doc["results"]:
        del row["id"]
    doc["results"].append(dict(doc["results"][0]))  # the same event listed twice
    legacy = parse_splits(landing_document(doc))
    assert legacy.drop("id")[:2].equals(served.drop("id"))
    first = legacy.row(0, named=True)
    expected = "Q" + hashlib.sha256(b"splits|AAPL|2020-08-31|1.0|4.0").hexdigest()  # kind|ticker|date|from|to
    assert first["id"] == expected and legacy["id"][2] == expected  # equal content, equal key
    assert legacy["id"][1] != expected and legacy["id"][1].startswith("Q")


def test_financials_without_acceptance_fall_back_to_filing_day_end(fixtures_dir):
    doc = json.loads((fixtures_dir / "openapi_examples/vX/reference/financials.json").read_text())
    results = doc["results"]
    assert all("acceptance_datetime" not in r for r in results)  # the vendor's example has none
    rows = parse_financials(results)
    assert rows.height > 10
    want = dt.datetime(2022, 5, 5, 3, 59, 59, tzinfo=dt.timezone.utc)  # 2022-05-04 23:59:59 EDT
    assert rows["acceptance_datetime"].unique().to_list() == [want]
    assert rows.select(is_fallback(pl.col("acceptance_datetime"))).to_series().all()
    bad = [{**results[0], "acceptance_datetime": "not-a-time"}]
    assert parse_financials(bad)["_unparsed"].str.contains("acceptance_datetime").all()  # still quarantined


def build(tmp_path, name, types, **sim_options):
    work = tmp_path / name
    work.mkdir()
    write_config(work, start=MARKET["start"], end=MARKET["end"], data_types=types, alpha158=False)
    with SimProcess(**MARKET, **sim_options) as sim:
        proc = run_workflow(work, sim.url, "bronze", "silver")
    return work / "lake", proc


@pytest.fixture(scope="module")
def lakes(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shapes")
    return build(tmp, "default", TYPES)[0], build(tmp, "legacy", TYPES, legacy_shapes=True)[0]


def events(lake, kind) -> pl.DataFrame:
    return pl.concat([pl.read_parquet(f) for f in sorted((lake / "bronze" / kind).rglob("*.parquet"))])


def test_legacy_events_build_the_same_silver(lakes):
    default, legacy = lakes
    for kind in ("splits", "dividends"):
        a, b = events(default, kind), events(legacy, kind)
        assert kind == "dividends" or a.height > 0
        assert b["id"].str.starts_with("Q").all() and b["id"].n_unique() == b.height
        # the same events; a duplicate the simulator lists under two ids has one content key (collapsed)
        cols = a.drop("id").columns
        assert b.drop("id").sort(cols).equals(a.drop("id").unique().sort(cols))
    diffs = lake_differences(default, legacy, layers=("silver",))
    assert [d for d in diffs if "stocks_daily" in d] == []
    assert not list((legacy / "quarantine").rglob("splits/**/*.parquet")) or all(
        pl.read_parquet(f).is_empty() for f in (legacy / "quarantine").rglob("splits/**/*.parquet"))


def test_legacy_financials_use_the_filing_day_end(lakes):
    default, legacy = lakes
    files = sorted((legacy / "bronze" / "financials").rglob("data.parquet"))
    fin = pl.concat([pl.read_parquet(f) for f in files])
    ref = pl.concat([pl.read_parquet(f) for f in sorted((default / "bronze" / "financials").rglob("data.parquet"))])
    assert fin.height == ref.height > 0
    want = fin.select((pl.col("filing_date").cast(pl.Datetime("us")) + pl.duration(hours=23, minutes=59, seconds=59))
                      .dt.replace_time_zone("America/New_York").dt.convert_time_zone("UTC"))["filing_date"]
    assert fin["acceptance_datetime"].equals(want)
    counted = sum(json.loads(p.read_text()).get("acceptance_datetime_fallback", 0)
                  for p in (legacy / "reports" / "validation" / "financials").rglob("*.json"))
    assert counted == fin.height
    assert not [p for p in (default / "reports" / "validation" / "financials").rglob("*.json")
                if "acceptance_datetime_fallback" in p.read_text()]
    # point in time: a filing is used from the session after its filing date, never on it
    silver = pl.concat([pl.read_parquet(f) for f in sorted((legacy / "silver" / "fundamentals_daily").rglob("*.parquet"))])
    used = silver.filter(pl.col("filing_accepted").is_not_null())
    assert used.height and (used["date"] > used["filing_accepted"].dt.convert_time_zone("America/New_York").dt.date()).all()


def test_a_month_with_every_row_quarantined_gives_an_empty_silver_partition(tmp_path):
    lake, proc = build(tmp_path, "badmonth", ["stocks_daily"], bad_month="2024-01")
    assert "Traceback" not in proc.stderr
    q = pl.read_parquet(lake / "quarantine/stocks_daily/year=2024/month=01/data.parquet")
    assert q.height > 0 and pl.read_parquet(lake / "bronze/stocks_daily/year=2024/month=01/data.parquet").is_empty()
    jan = pl.read_parquet(lake / "silver/stocks_daily/year=2024/month=01/data.parquet")
    feb = pl.read_parquet(lake / "silver/stocks_daily/year=2024/month=02/data.parquet")
    assert jan.is_empty() and feb.height > 0 and jan.schema == feb.schema
    report = json.loads((lake / "reports/validation/corporate_actions/year=2024/month=01.json").read_text())
    assert "every row quarantined" in report["warning"]
    assert "warning" not in json.loads((lake / "reports/validation/corporate_actions/year=2024/month=02.json").read_text())
