"""Snakemake script: one silver fundamentals_daily month (fundamentals point in time onto the daily bars)."""

from pathlib import Path

from quantmini import runtime
from quantmini.datatypes.fundamentals.silver import build_month

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = runtime.job_logging(smk.log[0] if smk.log else None)
year, month = int(smk.wildcards.year), int(smk.wildcards.month)
paths = lambda files: [Path(p) for p in files]  # noqa: E731
try:
    rows = build_month(Path(smk.input.bars), paths(smk.input.financials), paths(smk.input.short_interest),
                       paths(smk.input.short_volume), paths(smk.input.splits), paths(smk.input.split_quarantine),
                       list(smk.params.sessions), Path(smk.output.silver), paths(smk.input.changes))
except Exception as exc:
    log.exception("silver fundamentals %04d-%02d failed", year, month)
    runtime.die(f"silver fundamentals {year:04d}-{month:02d}: {exc}")
log.info("silver fundamentals %04d-%02d: %d rows", year, month, rows)
