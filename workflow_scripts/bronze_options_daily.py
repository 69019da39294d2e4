"""Snakemake script: build the bronze options_daily and options_contracts month partitions of one job's
months (a year's closed months, or the open month) from the year's landing (validated; rejected rows to
quarantine with their reason)."""

import datetime as dt
from pathlib import Path

from quantmini import jobframe
from quantmini.datatypes.options.bronze import build_bronze_year

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = jobframe.start(smk)
months = {k: [dt.date.fromisoformat(s) for s in v] for k, v in smk.params.months.items()}
keys = sorted(months)
names = ("bronze", "quarantine", "report", "contracts", "contracts_quarantine", "contracts_report")
outputs = {key: {name: Path(list(getattr(smk.output, name))[i]) for name in names} for i, key in enumerate(keys)}
with jobframe.failing_as(f"bronze options_daily {','.join(keys)}", log):
    reports = build_bronze_year(months, Path(smk.input.manifest), outputs)
log.info("bronze options_daily %s: %d bars valid, %d quarantined", ",".join(keys),
         sum(r["rows_valid"] for r in reports), sum(r["rows_quarantined"] for r in reports))
