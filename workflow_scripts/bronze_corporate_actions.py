"""Snakemake script: build the bronze partition of one month of splits, dividends, tickers or
ticker_changes from its landing (validated; rejected rows to quarantine with their reason)."""

from pathlib import Path

from quantmini import runtime
from quantmini.corporate_actions import Window, build_bronze_month

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = runtime.job_logging(smk.log[0] if smk.log else None)
dtype = smk.params.dtype
year, month = int(smk.wildcards.year), int(smk.wildcards.month)
try:
    report = build_bronze_month(
        dtype, year, month, Window.from_params(smk.params.window), smk.params.universe,
        Path(smk.input.manifest), Path(smk.output.bronze), Path(smk.output.quarantine), Path(smk.output.report),
    )
except Exception as exc:
    log.error("bronze %s %04d-%02d failed: %s", dtype, year, month, exc)
    runtime.die(f"bronze {dtype} {year:04d}-{month:02d}: {exc}")
log.info("bronze %s %04d-%02d: %d rows valid, %d quarantined",
         dtype, year, month, report["rows_valid"], report["rows_quarantined"])
