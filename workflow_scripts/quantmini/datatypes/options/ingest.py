"""options_daily: contracts of the configured underlyings as of each month, then daily bars per contract.

Landing is one job per YEAR (a job costs a Python start-up); partitions are per month. For a month whose
sessions in range are s_1..s_n, with U the configured underlyings:
- contracts: for every underlying, `/v3/reference/options/contracts` as of s_n twice: `expired=false`
  (contracts unexpired on s_n) and `expired=true` with `expiration_date.gte` = the month's first day
  (those that expired during the month): either alone misses contracts that traded in the month.
- bars: for each run [a, b] of the year's sessions not landed yet, one
  `/v2/aggs/ticker/O:.../range/1/day/a/b` request per contract of the union of the month listings the
  run touches (each as of min(the month's last session, b)) that expires on or after a: a contract's
  months come in one request (a first build asks once per contract and year, not per month).

Landing: gzip JSON documents of the raw pages (quantmini.landing_documents), named after what
they hold, so they are immutable and a rerun (a code edit, -R) downloads nothing already landed:
    landing/options_daily/year=YYYY/month=MM/contracts_<as_of>_<U digest>.json.gz
    landing/options_daily/year=YYYY/bars_<a>_<b>_<U digest>.json.gz
When `end` advances by one session c, only the contracts listings as of c (2 per underlying) and one
bar request per contract live on c ([c, c]) are made; closed months are never asked again.
Changing the underlyings changes the digest: everything is landed again for the new set.
The year's `_manifest.json` lists the files (with sha256) the bronze jobs read.

Bronze (validated by schema.py; rejects to quarantine with their reason):
    bronze/options_contracts/year=YYYY/month=MM: the month's contracts (as of its last session in range)
    bronze/options_daily/year=YYYY/month=MM: one bar per (contract, session) with the contract terms
        (underlying, contract_type, strike, expiration, shares_per_contract) joined from that listing
        (a bar of month M belongs to a contract listed by M's last session expiring in or after M).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from quantmini import atomic
from quantmini.lake import LakePaths
from quantmini.landing_documents import ClientOptions, Request, land_files, pages_frame, results_frame

log = logging.getLogger("quantmini.options_daily")

DTYPE = "options_daily"
CONTRACTS_DTYPE = "options_contracts"
CONTRACTS_PATH = "/v3/reference/options/contracts"
BARS_PATH = "/v2/aggs/ticker/{ticker}/range/1/day/{lo}/{hi}"
PAGE_LIMIT = 1000
BARS_LIMIT = 50000
_BARS_FILE = re.compile(r"^bars_(\d{4}-\d{2}-\d{2})_(\d{4}-\d{2}-\d{2})_([0-9a-f]+)\.json\.gz$")


def digest(underlyings: list[str]) -> str:
    """Names the landing of one set of underlyings (a changed set is landed again)."""
    return hashlib.sha256(",".join(sorted(underlyings)).encode()).hexdigest()[:10]


def contracts_requests(underlyings: list[str], as_of: dt.date, month_first: dt.date) -> list[Request]:
    out = []
    for u in sorted(underlyings):
        base = {"underlying_ticker": u, "as_of": as_of.isoformat(), "limit": str(PAGE_LIMIT)}
        out.append((CONTRACTS_PATH, {**base, "expired": "false"}))
        out.append((CONTRACTS_PATH, {**base, "expired": "true", "expiration_date.gte": month_first.isoformat()}))
    return out


def bars_requests(tickers: list[str], lo: dt.date, hi: dt.date) -> list[Request]:
    return [(BARS_PATH.format(ticker=t, lo=lo.isoformat(), hi=hi.isoformat()),
             {"adjusted": "false", "sort": "asc", "limit": str(BARS_LIMIT)}) for t in tickers]


def session_runs(sessions: list[dt.date], covered: set[dt.date]) -> list[list[dt.date]]:
    """Maximal runs of consecutive (in `sessions`) sessions not in `covered`."""
    runs: list[list[dt.date]] = []
    prev_missing = False
    for d in sessions:
        missing = d not in covered
        if missing and prev_missing:
            runs[-1].append(d)
        elif missing:
            runs.append([d])
        prev_missing = missing
    return runs


@dataclass(frozen=True)
class YearLanding:
    """Where a year's landing lives, for one set of underlyings (`tag`)."""

    lake: LakePaths
    year: int
    months: tuple[tuple[tuple[int, int], tuple[dt.date, ...]], ...]  # ((y, m), sessions in range)
    tag: str

    @property
    def sessions(self) -> list[dt.date]:
        return sorted(d for _, days in self.months for d in days)

    @staticmethod
    def key(ym: tuple[int, int]) -> str:
        return f"{ym[0]:04d}-{ym[1]:02d}"

    def contracts_file(self, ym: tuple[int, int], as_of: dt.date) -> Path:
        return self.lake.landing_file(DTYPE, ym[0], ym[1], f"contracts_{as_of.isoformat()}_{self.tag}.json.gz")

    def bars_file(self, lo: dt.date, hi: dt.date) -> Path:
        name = f"bars_{lo.isoformat()}_{hi.isoformat()}_{self.tag}.json.gz"
        return self.lake.landing_year_dir(DTYPE, self.year) / name

    def bars_files(self) -> list[tuple[dt.date, dt.date, Path]]:
        """Landed bars documents of this set of underlyings whose span meets the year's sessions."""
        folder = self.lake.landing_year_dir(DTYPE, self.year)
        days = self.sessions
        out = []
        if folder.is_dir():
            for f in sorted(folder.iterdir()):
                m = _BARS_FILE.match(f.name)
                if m and m.group(3) == self.tag:
                    lo, hi = dt.date.fromisoformat(m.group(1)), dt.date.fromisoformat(m.group(2))
                    if any(lo <= d <= hi for d in days):
                        out.append((lo, hi, f))
        return out

    def covered(self) -> set[dt.date]:
        spans = self.bars_files()
        return {d for d in self.sessions if any(lo <= d <= hi for lo, hi, _ in spans)}

    def listings_for(self, run: list[dt.date]) -> list[tuple[tuple[int, int], dt.date]]:
        """The month listings whose union holds every contract that can trade in the run [a, b]: for each
        month the run touches, as of min(its last session in range, b) (a contract live in the run is
        listed by then and expires in or after that month)."""
        hi = run[-1]
        return [(ym, min(days[-1], hi)) for ym, days in self.months if any(d in days for d in run)]


def read_landing(path: Path) -> bytes:
    """A landed document (gzip JSON); kept free of bronze's imports (pandera) for the landing job."""
    try:
        return gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as exc:
        raise _corrupt(f"corrupt landing file {path}; delete it to download it again", exc) from None


def land_year(lake: LakePaths, year: int, months: dict[tuple[int, int], list[dt.date]], underlyings: list[str],
              manifest: Path, opts: ClientOptions) -> dict[str, int]:
    """Land a year of options: the missing contracts listings, then the bars of the sessions not landed.

    Each run of sessions not landed yet is one bars document: one request per contract over the whole
    run (a contract's months in one request). Returns what was downloaded now: contracts_files,
    bars_files, bar_requests.
    """
    if not underlyings:
        raise ValueError("options.underlyings is empty: list the tickers whose options to land")
    tag = digest(underlyings)
    plan = YearLanding(lake, year, tuple((ym, tuple(sorted(days))) for ym, days in sorted(months.items())), tag)
    runs = session_runs(plan.sessions, plan.covered())
    wanted = {(ym, days[-1]) for ym, days in plan.months} | {x for run in runs for x in plan.listings_for(run)}
    contracts_todo = [(plan.contracts_file(ym, d), DTYPE, [f"{ym[0]:04d}-{ym[1]:02d}-01", d.isoformat()],
                       contracts_requests(underlyings, d, dt.date(ym[0], ym[1], 1)))
                      for ym, d in sorted(wanted) if not plan.contracts_file(ym, d).exists()]
    land_files(opts, contracts_todo, listing=True)
    bars_todo = []
    n_requests = 0
    for run in runs:
        lo, hi = run[0], run[-1]
        listed = pl.concat([parse_contracts(read_landing(plan.contracts_file(ym, d)))
                            for ym, d in plan.listings_for(run)])
        tickers = listed.filter(pl.col("expiration") >= lo)["ticker"].unique().sort().to_list()
        reqs = bars_requests(tickers, lo, hi)
        n_requests += len(reqs)
        bars_todo.append((plan.bars_file(lo, hi), DTYPE, [lo.isoformat(), hi.isoformat()], reqs))
    land_files(opts, bars_todo, listing=True)
    _write_manifest(manifest, plan)
    return {"contracts_files": len(contracts_todo), "bars_files": len(bars_todo), "bar_requests": n_requests}


def _write_manifest(path: Path, plan: YearLanding) -> None:
    def entry(kind: str, month: str | None, f: Path, **extra) -> dict:
        data = f.read_bytes()
        return {"kind": kind, "month": month, "file": str(f.relative_to(path.parent)), "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(), **extra}

    entries = [entry("contracts", plan.key(ym), plan.contracts_file(ym, days[-1])) for ym, days in plan.months]
    entries += [entry("bars", None, f, span=[lo.isoformat(), hi.isoformat()]) for lo, hi, f in plan.bars_files()]
    doc = {"dtype": DTYPE, "year": plan.year, "underlyings_digest": plan.tag,
           "months": {plan.key(ym): [d.isoformat() for d in days] for ym, days in plan.months}, "files": entries}
    atomic.write_text(path, json.dumps(doc, indent=1) + "\n")


# ------------------------------------------------------------------------------------------ parsing
_CONTRACT_WIRE = pl.Struct({"ticker": pl.Utf8, "underlying_ticker": pl.Utf8, "contract_type": pl.Utf8,
                            "exercise_style": pl.Utf8, "expiration_date": pl.Utf8, "strike_price": pl.Float64,
                            "shares_per_contract": pl.Float64, "primary_exchange": pl.Utf8, "cfi": pl.Utf8})
_BAR_WIRE = pl.Struct({"o": pl.Float64, "h": pl.Float64, "l": pl.Float64, "c": pl.Float64, "v": pl.Float64,
                       "vw": pl.Float64, "n": pl.Int64, "t": pl.Int64})

CONTRACTS_SCHEMA = {"ticker": pl.Utf8, "underlying": pl.Utf8, "contract_type": pl.Utf8, "strike": pl.Float64,
                    "expiration": pl.Date, "shares_per_contract": pl.Float64, "exercise_style": pl.Utf8,
                    "primary_exchange": pl.Utf8, "cfi": pl.Utf8}
TERMS = ["underlying", "contract_type", "strike", "expiration", "shares_per_contract"]
BARS_SCHEMA = {"ticker": pl.Utf8, "date": pl.Date, "open": pl.Float64, "high": pl.Float64, "low": pl.Float64,
               "close": pl.Float64, "volume": pl.Float64, "vwap": pl.Float64, "transactions": pl.Int64,
               **{k: CONTRACTS_SCHEMA[k] for k in TERMS}}


def _empty_contracts() -> pl.DataFrame:
    return pl.DataFrame(schema={**CONTRACTS_SCHEMA, "_unparsed": pl.Utf8})


def _corrupt(what: str, exc: Exception):
    from quantmini.bronze import CorruptLandingError

    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return CorruptLandingError(f"{what}: {first}")


def parse_contracts(doc: bytes) -> pl.DataFrame:
    """The contracts of a landing document (both listings), one row per served row (duplicates kept)."""
    raw = results_frame(doc, _CONTRACT_WIRE, "options contracts")
    if not raw.height:
        return _empty_contracts()
    expiration = pl.col("expiration_date").str.to_date("%Y-%m-%d", strict=False)
    return raw.select(
        "ticker", pl.col("underlying_ticker").alias("underlying"), "contract_type",
        pl.col("strike_price").alias("strike"), expiration.alias("expiration"), "shares_per_contract",
        "exercise_style", "primary_exchange", "cfi",
        pl.when(pl.col("expiration_date").is_not_null() & expiration.is_null())
        .then(pl.lit("expiration_date")).alias("_unparsed"),
    ).cast({**CONTRACTS_SCHEMA, "_unparsed": pl.Utf8})


def parse_bars(doc: bytes) -> pl.DataFrame:
    """ticker, date (the bar's 00:00 New York stamp), OHLCV, vwap, transactions of a bars document."""
    pages = pages_frame(doc, pl.List(_BAR_WIRE), "options bars")
    rows = (pages.select(pl.col("path").str.extract(r"/v2/aggs/ticker/([^/]+)/range/", 1).alias("ticker"),
                         pl.col("results"))
            .explode("results").filter(pl.col("results").is_not_null()))
    cols = list(BARS_SCHEMA)[:9]
    if not rows.height:
        return pl.DataFrame(schema={k: BARS_SCHEMA[k] for k in cols})
    bars = rows.unnest("results")
    date = (pl.from_epoch(pl.col("t"), time_unit="ms").dt.replace_time_zone("UTC")
            .dt.convert_time_zone("America/New_York").dt.date())
    return bars.select("ticker", date.alias("date"), pl.col("o").alias("open"), pl.col("h").alias("high"),
                       pl.col("l").alias("low"), pl.col("c").alias("close"), pl.col("v").alias("volume"),
                       pl.col("vw").alias("vwap"), pl.col("n").alias("transactions"))


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
    from quantmini.datatypes.options.schema import OptionsContractsBronze, OptionsDailyBronze
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

