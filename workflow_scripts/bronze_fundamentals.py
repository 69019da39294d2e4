"""Snakemake script: build one year's bronze month partitions of financials, short interest and short
volume from the landing (validated; rejected rows to quarantine with their reason)."""

from pathlib import Path

from quantmini import runtime
from quantmini.datatypes.fundamentals.ingest import build_bronze_year, window_key

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = runtime.job_logging(smk.log[0] if smk.log else None)
year = int(smk.params.year)
windows = list(smk.params.windows)

try:
    outputs = {window_key(w): (Path(b), Path(q), Path(r)) for w, b, q, r in
               zip(windows, smk.output.bronze, smk.output.quarantine, smk.output.report, strict=True)}
    reports = build_bronze_year(year, windows, smk.params.universe, Path(smk.input.manifest), outputs)
except Exception as exc:
    log.error("bronze fundamentals %04d failed: %s", year, exc)
    runtime.die(f"bronze fundamentals {year:04d}: {exc}")
log.info("bronze fundamentals %04d (%d partition(s)): %d rows valid, %d quarantined", year, len(reports),
         sum(r["rows_valid"] for r in reports), sum(r["rows_quarantined"] for r in reports))
