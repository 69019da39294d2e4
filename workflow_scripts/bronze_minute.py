"""Snakemake script: build the bronze session partitions of one month of stocks_minute or options_minute
(validated; rejected rows to quarantine; incomplete sessions flagged in the month's report)."""

import datetime as dt
from pathlib import Path

from quantmini import jobframe
from quantmini.datatypes.minute.bronze import build_bronze_month

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = jobframe.start(smk)
dtype = smk.params.dtype
year, month = int(smk.wildcards.year), int(smk.wildcards.month)
with jobframe.failing_as(f"bronze {dtype} {year:04d}-{month:02d}", log):
    report = build_bronze_month(
        dtype, Path(smk.input.manifest), [dt.date.fromisoformat(s) for s in smk.params.sessions],
        smk.params.extended_hours, Path(smk.output.bronze), Path(smk.output.quarantine), Path(smk.output.report),
    )
log.info("bronze %s %04d-%02d: %d rows valid, %d quarantined, flagged sessions: %s", dtype, year, month,
         report["rows_valid"], report["rows_quarantined"], report["flagged_sessions"] or "none")
