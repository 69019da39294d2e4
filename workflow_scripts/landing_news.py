"""Snakemake script: land one year of news by publication month (only what no landed chunk covers)."""

from pathlib import Path

from quantmini import jobframe, plan
from quantmini.lake import LakePaths
from quantmini.landing_documents import ClientOptions
from quantmini.datatypes.news.landing import NewsWindow, land_news_year

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = jobframe.start(smk)
cfg = smk.config
year = int(smk.wildcards.year)
windows = [NewsWindow.from_params(p) for p in smk.params.windows]
with jobframe.failing_as(f"landing news {year:04d}", log,
                         describe=lambda exc: plan.job_message(exc, cfg)):
    opts = ClientOptions.from_config(cfg)
    fetched = land_news_year(LakePaths(cfg["data_root"]), year, windows, Path(smk.output.manifest), opts,
                             limit=int(smk.params.limit))
log.info("landing news %04d (%d month(s)): %d chunk(s) downloaded now", year, len(windows), fetched)
