"""Snakemake script: land one year of financials, short interest and short volume (immutable chunk files;
only the days no chunk holds yet are downloaded)."""

from pathlib import Path

from quantmini import runtime
from quantmini.client import resolve_api_key
from quantmini.corporate_actions import ClientOptions
from quantmini.fundamentals import land_year
from quantmini.lake import LakePaths

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = runtime.job_logging(smk.log[0] if smk.log else None)
cfg = smk.config
year = int(smk.wildcards.year)

try:
    opts = ClientOptions(
        base_url=runtime.api_url(cfg), api_key=resolve_api_key(), max_concurrency=cfg["max_concurrency"],
        rate_per_minute=cfg["rate_limit_per_minute"], retries=cfg["retries"], verify=runtime.api_verify(),
    )
    fetched = land_year(LakePaths(cfg["data_root"]), year, list(smk.params.windows), Path(smk.output.manifest), opts)
except Exception as exc:  # one line for the user; the key never reaches a message (see client)
    log.error("landing fundamentals %04d failed: %s", year, exc)
    runtime.die(f"landing fundamentals {year:04d}: {exc}")
log.info("landing fundamentals %04d: %d window(s), %d chunk(s) downloaded now", year, len(smk.params.windows), fetched)
