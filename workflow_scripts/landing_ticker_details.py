"""Snakemake script: land one year of monthly ticker-details snapshots (only the months whose snapshot
date has no file yet are requested)."""

from pathlib import Path

from quantmini import plan, runtime
from quantmini.lake import LakePaths
from quantmini.landing_documents import ClientOptions
from quantmini.ticker_details import land_details_year

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = runtime.job_logging(smk.log[0] if smk.log else None)
year, months = int(smk.wildcards.year), smk.params.months
try:
    fetched = land_details_year(LakePaths(smk.config["data_root"]), year, months, smk.params.universe,
                                Path(smk.output.manifest), ClientOptions.from_config(smk.config))
except Exception as exc:  # one line for the user; the key never reaches a message (see client)
    log.error("landing ticker_details %04d failed: %s", year, exc)
    runtime.die(f"landing ticker_details {year:04d}: {plan.job_message(exc, cfg)}")
log.info("landing ticker_details %04d: %d of %d month snapshot(s) downloaded now", year, fetched, len(months))
