"""Snakemake script: build the bronze month partitions of one year of splits, dividends, tickers or
ticker_changes from its landing (validated; rejected rows to quarantine with their reason)."""

from pathlib import Path

from quantmini import jobframe
from quantmini.datatypes.corporate_actions.landing import Window
from quantmini.datatypes.corporate_actions.bronze import build_bronze_year

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = jobframe.start(smk)
dtype, year = smk.params.dtype, int(smk.params.year)


def paths(files) -> list[Path]:
    return [Path(files)] if isinstance(files, str) else [Path(f) for f in files]


with jobframe.failing_as(f"bronze {dtype} {year:04d}", log):
    reports = build_bronze_year(
        dtype, year, [Window.from_params(p) for p in smk.params.windows], smk.params.universe,
        jobframe.landing_manifest(smk.input),
        list(zip(paths(smk.output.bronze), paths(smk.output.quarantine), paths(smk.output.report), strict=True)),
    )
log.info("bronze %s %04d (%d month(s)): %d rows valid, %d quarantined", dtype, year, len(reports),
         sum(r["rows_valid"] for r in reports), sum(r["rows_quarantined"] for r in reports))
