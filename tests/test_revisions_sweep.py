"""The revision sweep of landing documents (quantmini.revisions) against the simulator over HTTP, without the
workflow: minute bars of one session landed from the plain market, then swept against the revised one.

Reference: the simulator's own revised bars (the hash `revised` picks the ticker; every bar of the session
changes) and the landed bytes before the sweep (kept verbatim under revisions/).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json

import orjson
import polars as pl
import pytest
from quantmini.datatypes.minute import landing as minute_landing
from quantmini.lake import LakePaths
from quantmini.landing_documents import ClientOptions
from quantmini.revisions import sweep
from quantmini.sim.revise import revised
from quantmini.sim.server import SimProcess

MARKET = dict(tickers=8, seed=5, start="2024-01-02", end="2024-01-31")
S = dt.date(2024, 1, 24)


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    lake = LakePaths(tmp_path_factory.mktemp("sweep") / "lake")
    manifest = lake.landing_manifest("stocks_minute", 2024, 1)
    with SimProcess(**MARKET) as plain:
        import httpx

        day = httpx.get(f"{plain.url}/v2/aggs/grouped/locale/us/market/stocks/{S}").json()["results"]
        tickers = sorted(r["T"] for r in day)
        pick = [next(t for t in tickers if revised(t)), next(t for t in tickers if not revised(t))]
        pairs = pl.DataFrame({"date": [S, S], "ticker": pick})
        minute_landing.land_month("stocks_minute", lake, 2024, 1, [S], pairs, manifest,
                                  ClientOptions(plain.url, None, max_concurrency=2, retries=2))
    files = {t: minute_landing.landing_file(lake, "stocks_minute", S, t) for t in pick}
    before = {t: f.read_bytes() for t, f in files.items()}
    with SimProcess(**MARKET, revise=S.isoformat()) as sim:
        opts = ClientOptions(sim.url, None, max_concurrency=2, retries=2)
        first = sweep("stocks_minute", lake=lake, sessions=[S], manifests=[manifest], opts=opts)
        mtime = manifest.stat().st_mtime_ns
        again = sweep("stocks_minute", lake=lake, sessions=[S], manifests=[manifest], opts=opts)
    return dict(lake=lake, manifest=manifest, pick=pick, files=files, before=before, first=first, again=again,
                mtime=mtime)


def test_the_revised_file_is_replaced_and_the_old_one_kept(swept):
    hashed, other = swept["pick"]
    (entry,) = swept["first"]["revised"]
    assert entry["session"] == S.isoformat() and entry["file"].endswith(f"/{hashed}.json.gz")
    bars = orjson.loads(gzip.decompress(swept["before"][hashed]))["requests"][0]["pages"][0]["results"]
    assert entry["changed"] == len(bars) > 0 and entry["added"] == entry["removed"] == 0
    kept = swept["lake"].root / entry["previous"]
    assert kept.read_bytes() == swept["before"][hashed]
    assert kept.parent.parent.name == "revisions" and kept.parent.name == f"date={S}"
    assert swept["files"][other].read_bytes() == swept["before"][other]
    new = orjson.loads(gzip.decompress(swept["files"][hashed].read_bytes()))["requests"][0]["pages"][0]["results"]
    assert [r["c"] for r in new] == [round(r["c"] * 1.003, 4) for r in bars]
    assert swept["first"]["files"] == swept["first"]["requests"] == 2


def test_the_manifest_follows_and_the_month_is_stamped(swept):
    doc = json.loads(swept["manifest"].read_text())
    for entry in doc["files"]:
        data = (swept["manifest"].parent / entry["file"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["bytes"] == len(data)
    assert swept["lake"].revision_stamp("stocks_minute", 2024, 1).is_file()


def test_a_second_sweep_of_unchanged_data_writes_nothing(swept):
    assert swept["again"]["revised"] == [] and swept["again"]["requests"] == 2
    assert swept["manifest"].stat().st_mtime_ns == swept["mtime"]
