"""Snakemake script: land one year of financials, short interest and short volume (immutable chunk files;
only the days no chunk holds yet are downloaded)."""

from pathlib import Path

from quantmini import jobframe, plan
from quantmini.datatypes.fundamentals.landing import land_year
from quantmini.lake import LakePaths
from quantmini.landing_documents import ClientOptions

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = jobframe.start(smk)
year, windows = int(smk.wildcards.year), list(smk.params.windows)
with jobframe.failing_as(f"landing fundamentals {year:04d}", log,
                         describe=lambda exc: plan.job_message(exc, smk.config)):
    fetched = land_year(LakePaths(smk.config["data_root"]), year, windows, Path(smk.output.manifest),
                        ClientOptions.from_config(smk.config))
log.info("landing fundamentals %04d: %d window(s), %d chunk(s) downloaded now", year, len(windows), fetched)
