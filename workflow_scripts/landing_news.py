"""Snakemake script: land one year of news by publication month (only what no landed chunk covers)."""

from pathlib import Path

from quantmini import plan, runtime
from quantmini.lake import LakePaths
from quantmini.landing_documents import ClientOptions
from quantmini.news import NewsWindow, land_news_year

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = runtime.job_logging(smk.log[0] if smk.log else None)
cfg = smk.config
year = int(smk.wildcards.year)
windows = [NewsWindow.from_params(p) for p in smk.params.windows]
try:
    opts = ClientOptions.from_config(cfg)
    fetched = land_news_year(LakePaths(cfg["data_root"]), year, windows, Path(smk.output.manifest), opts,
                             limit=int(smk.params.limit))
except Exception as exc:  # one line for the user; the key never reaches a message (see client)
    log.error("landing news %04d failed: %s", year, exc)
    runtime.die(f"landing news {year:04d}: {plan.job_message(exc, cfg)}")
log.info("landing news %04d (%d month(s)): %d chunk(s) downloaded now", year, len(windows), fetched)
