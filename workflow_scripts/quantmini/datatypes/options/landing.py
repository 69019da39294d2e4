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
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from quantmini import atomic
from quantmini.datatypes.options.parse import _corrupt, parse_contracts
from quantmini.lake import LakePaths
from quantmini.landing_documents import ClientOptions, Request, land_files

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
