"""options: landed files (checked against their manifest) -> validated bronze partitions, quarantine, reports."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import polars as pl

from quantmini import atomic
from quantmini.datatypes.options.landing import CONTRACTS_DTYPE, DTYPE
from quantmini.datatypes.options.parse import (
    BARS_SCHEMA,
    CONTRACTS_SCHEMA,
    TERMS,
    parse_bars,
    parse_contracts,
)

log = logging.getLogger("quantmini.options_daily")



# ------------------------------------------------------------------------------------------ bronze
def _landed(manifest_dir: Path, entry: dict) -> bytes:
    from quantmini.bronze import read_listed_landing

    return read_listed_landing(manifest_dir / entry["file"], entry["sha256"])

def month_tables(manifest: Path, key: str, sessions: list[dt.date],
                 cache: dict[str, pl.DataFrame] | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(contracts, bars with terms and the helper columns the checks read) of one month of the manifest.

    A bars document spans sessions of several months: the month takes its rows dated in its calendar
    month, and the first month of the span also takes rows dated outside the span's months (to
    quarantine them: nothing is dropped unseen).
    """
    from quantmini.bronze import CorruptLandingError

    doc = json.loads(manifest.read_text())
    if doc.get("months", {}).get(key) != [d.isoformat() for d in sessions]:
        raise CorruptLandingError(f"{manifest} is for other sessions of {key} than this job's (rerun the landing rule)")
    con_entries = [e for e in doc["files"] if e["kind"] == "contracts" and e["month"] == key]
    if len(con_entries) != 1:
        raise CorruptLandingError(f"{manifest} lists {len(con_entries)} contracts file(s) for {key}, expected 1")
    contracts = parse_contracts(_landed(manifest.parent, con_entries[0]))
    year, month = map(int, key.split("-"))
    first = dt.date(year, month, 1)
    cache = {} if cache is None else cache
    frames = []
    for e in doc["files"]:
        if e["kind"] != "bars":
            continue
        lo, hi = (dt.date.fromisoformat(x) for x in e["span"])
        if not any(lo <= d <= hi for d in sessions):
            continue
        if e["file"] not in cache:  # a document spanning months is parsed once per job
            cache[e["file"]] = parse_bars(_landed(manifest.parent, e))
        bars = cache[e["file"]]
        in_month = (pl.col("date").dt.year() == year) & (pl.col("date").dt.month() == month)
        months_lo = dt.date(lo.year, lo.month, 1)
        months_hi = dt.date(hi.year + (hi.month == 12), hi.month % 12 + 1, 1) - dt.timedelta(days=1)
        stray = ~pl.col("date").is_between(months_lo, months_hi) | pl.col("date").is_null()
        owns_strays = lo.year == year and lo.month == month
        frames.append(bars.filter(in_month | (stray & pl.lit(owns_strays))))
    bars = pl.concat(frames) if frames else parse_bars(b'{"requests":[]}')
    contracts = contracts.with_columns(pl.lit(first, pl.Date).alias("_first_day"))
    terms = contracts.unique("ticker", keep="first", maintain_order=True).select("ticker", *TERMS)
    bars = (bars.join(terms, on="ticker", how="left")
            .with_columns(pl.col("date").is_in(sessions).fill_null(False).alias("_session_ok")))
    return contracts, bars

def build_bronze_year(months: dict[str, list[dt.date]], manifest: Path,
                      outputs: dict[str, dict[str, Path]]) -> list[dict]:
    """Landing -> validated month partitions of options_daily and options_contracts (+ quarantine, reports),
    for the months ('YYYY-MM' -> sessions) of one year's manifest.

    `outputs[key]` has bronze, quarantine, report, contracts, contracts_quarantine, contracts_report.
    Every month is validated before the first file is written (bad input leaves no new partition).
    """
    from quantmini.datatypes.options.schema import (
        OptionsContractsBronze,
        OptionsDailyBronze,
    )
    from quantmini.parquet_io import write_parquet
    from quantmini.validation import validate_rows

    built = []
    cache: dict[str, pl.DataFrame] = {}
    for key, sessions in sorted(months.items()):
        contracts, bars = month_tables(manifest, key, sessions, cache)
        c_clean, c_bad, c_rep = validate_rows(contracts, OptionsContractsBronze, sort_by=["ticker"])
        b_clean, b_bad, b_rep = validate_rows(bars, OptionsDailyBronze, sort_by=["ticker", "date"])
        seen = set(b_clean["date"].unique().to_list())
        b_rep = {"dtype": DTYPE, "partition": key, **b_rep, "sessions_expected": len(sessions),
                 "sessions_without_bars": [d.isoformat() for d in sessions if d not in seen],
                 "contracts_traded": b_clean["ticker"].n_unique()}
        b_rep["ok"] = b_rep["ok"] and not (c_clean.height and b_rep["sessions_without_bars"])
        c_rep = {"dtype": CONTRACTS_DTYPE, "partition": key, **c_rep, "as_of": sessions[-1].isoformat(),
                 "underlyings": c_clean["underlying"].n_unique()}
        built.append((key, b_clean.select(list(BARS_SCHEMA)), b_bad, b_rep,
                      c_clean.select(list(CONTRACTS_SCHEMA)), c_bad, c_rep))
    for key, b_clean, b_bad, b_rep, c_clean, c_bad, c_rep in built:
        out = outputs[key]
        write_parquet(b_clean, out["bronze"])
        write_parquet(b_bad, out["quarantine"])
        atomic.write_text(out["report"], json.dumps(b_rep, indent=1, sort_keys=True) + "\n")
        write_parquet(c_clean, out["contracts"])
        write_parquet(c_bad, out["contracts_quarantine"])
        atomic.write_text(out["contracts_report"], json.dumps(c_rep, indent=1, sort_keys=True) + "\n")
        for what, bad, rep in (("options_daily", b_bad, b_rep), ("options_contracts", c_bad, c_rep)):
            if bad.height:
                log.warning("%s %s: %d row(s) quarantined: %s", what, key, bad.height, rep["quarantined_by_reason"])
    return [b[3] for b in built]
