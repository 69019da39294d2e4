"""Snakemake script: one silver fundamentals_daily month (fundamentals point in time onto the daily bars)."""

from pathlib import Path

from quantmini import jobframe
from quantmini.datatypes.fundamentals.silver import build_month

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = jobframe.start(smk)
year, month = int(smk.wildcards.year), int(smk.wildcards.month)
paths = lambda files: [Path(p) for p in files]  # noqa: E731
with jobframe.failing_as(f"silver fundamentals {year:04d}-{month:02d}", log, traceback=True):
    rows = build_month(Path(smk.input.bars), paths(smk.input.financials), paths(smk.input.short_interest),
                       paths(smk.input.short_volume), paths(smk.input.splits), paths(smk.input.split_quarantine),
                       list(smk.params.sessions), Path(smk.output.silver), paths(smk.input.changes))
log.info("silver fundamentals %04d-%02d: %d rows", year, month, rows)
