"""Snakemake script: land one year of financials, short interest and short volume (immutable chunk files;
only the days no chunk holds yet are downloaded)."""

from pathlib import Path

from quantmini import plan, runtime
from quantmini.fundamentals import land_year
from quantmini.lake import LakePaths
from quantmini.landing_documents import ClientOptions

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = runtime.job_logging(smk.log[0] if smk.log else None)
year, windows = int(smk.wildcards.year), list(smk.params.windows)
try:
    fetched = land_year(LakePaths(smk.config["data_root"]), year, windows, Path(smk.output.manifest),
                        ClientOptions.from_config(smk.config))
except Exception as exc:  # one line for the user; the key never reaches a message (see client)
    log.error("landing fundamentals %04d failed: %s", year, exc)
    runtime.die(f"landing fundamentals {year:04d}: {plan.job_message(exc, cfg)}")
log.info("landing fundamentals %04d: %d window(s), %d chunk(s) downloaded now", year, len(windows), fetched)
