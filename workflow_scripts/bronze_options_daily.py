"""Snakemake script: build the bronze options_daily and options_contracts month partitions of one year
from its landing (validated; rejected rows to quarantine with their reason)."""

import datetime as dt
from pathlib import Path

from quantmini import runtime
from quantmini.options_daily import build_bronze_year

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = runtime.job_logging(smk.log[0] if smk.log else None)
year = int(smk.params.year)
months = {k: [dt.date.fromisoformat(s) for s in v] for k, v in smk.params.months.items()}
keys = sorted(months)
outputs = {key: {name: Path(getattr(smk.output, name)[i]) for name in
                 ("bronze", "quarantine", "report", "contracts", "contracts_quarantine", "contracts_report")}
           for i, key in enumerate(keys)}
try:
    reports = build_bronze_year(year, months, Path(smk.input.manifest), outputs)
except Exception as exc:
    log.error("bronze options_daily %04d failed: %s", year, exc)
    runtime.die(f"bronze options_daily {year:04d}: {exc}")
log.info("bronze options_daily %04d (%d month(s)): %d bars valid, %d quarantined", year, len(reports),
         sum(r["rows_valid"] for r in reports), sum(r["rows_quarantined"] for r in reports))
