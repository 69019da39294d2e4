"""Snakemake script: build one year's bronze month partitions of financials, short interest and short
volume from the landing (validated; rejected rows to quarantine with their reason)."""

from pathlib import Path

from quantmini import jobframe
from quantmini.datatypes.fundamentals.landing import window_key
from quantmini.datatypes.fundamentals.bronze import build_bronze_year

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = jobframe.start(smk)
year = int(smk.params.year)
windows = list(smk.params.windows)

with jobframe.failing_as(f"bronze fundamentals {year:04d}", log):
    outputs = {window_key(w): (Path(b), Path(q), Path(r)) for w, b, q, r in
               zip(windows, smk.output.bronze, smk.output.quarantine, smk.output.report, strict=True)}
    reports = build_bronze_year(year, windows, smk.params.universe, Path(smk.input.manifest), outputs)
log.info("bronze fundamentals %04d (%d partition(s)): %d rows valid, %d quarantined", year, len(reports),
         sum(r["rows_valid"] for r in reports), sum(r["rows_quarantined"] for r in reports))
