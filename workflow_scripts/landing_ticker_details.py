"""Snakemake script: land one year of monthly ticker-details snapshots (only the months whose snapshot
date has no file yet are requested)."""

from pathlib import Path

from quantmini import jobframe, plan
from quantmini.lake import LakePaths
from quantmini.landing_documents import ClientOptions
from quantmini.datatypes.ticker_details.landing import land_details_year

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = jobframe.start(smk)
year, months = int(smk.wildcards.year), smk.params.months
with jobframe.failing_as(f"landing ticker_details {year:04d}", log,
                         describe=lambda exc: plan.job_message(exc, smk.config)):
    fetched = land_details_year(LakePaths(smk.config["data_root"]), year, months, smk.params.universe,
                                Path(smk.output.manifest), ClientOptions.from_config(smk.config))
log.info("landing ticker_details %04d: %d of %d month snapshot(s) downloaded now", year, fetched, len(months))
