"""Snakemake script: the completeness report of the configured range (reports/gaps/); the verdict goes to the log."""

from pathlib import Path

from quantmini import jobframe
from quantmini.lake_report import report_range

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = jobframe.job_logging(None)  # the log file holds the verdict, written by report_range
cfg = smk.config
with jobframe.failing_as("gaps report", log):
    report_range(cfg["data_root"], smk.params.first, smk.params.last, list(smk.params.types),
                 Path(smk.output.html).parent, smk.log[0], cfg={"minute": {"months": smk.params.minute_months}})
