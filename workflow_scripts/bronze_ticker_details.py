"""Snakemake script: build one year of monthly ticker-details snapshots from their landing (validated)."""

from pathlib import Path

from quantmini import jobframe
from quantmini.datatypes.ticker_details.bronze import build_details_year

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = jobframe.start(smk)
year = int(smk.params.year)


def paths(files) -> list[Path]:
    return [Path(files)] if isinstance(files, str) else [Path(f) for f in files]


with jobframe.failing_as(f"bronze ticker_details {year:04d}", log):
    outputs = list(zip(paths(smk.output.bronze), paths(smk.output.quarantine), paths(smk.output.report), strict=True))
    reports = build_details_year(year, Path(smk.input.manifest), outputs)
log.info("bronze ticker_details %04d (%d month(s)): %d rows valid, %d quarantined, %d not found", year,
         len(reports), sum(r["rows_valid"] for r in reports), sum(r["rows_quarantined"] for r in reports),
         sum(len(r["not_found"]) for r in reports))
