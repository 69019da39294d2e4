"""Snakemake script: fill landing/stocks_daily for one month (only the sessions not yet landed)."""

import datetime as dt

from quantmini import jobframe, plan, settings
from quantmini.datatypes.stocks_daily.landing import land_month
from quantmini.lake import LakePaths

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = jobframe.start(smk)
cfg = smk.config
year, month = int(smk.wildcards.year), int(smk.wildcards.month)
days = [dt.date.fromisoformat(s) for s in smk.params.sessions]
with jobframe.failing_as(f"landing stocks_daily {year:04d}-{month:02d}", log,
                         describe=lambda exc: plan.job_message(exc, cfg)):
    fetched = land_month(
        base_url=settings.api_url(cfg), api_key=settings.api_key(), lake=LakePaths(cfg["data_root"]),
        dtype="stocks_daily", year=year, month=month, days=days, manifest=jobframe.landing_manifest(smk.output),
        max_concurrency=cfg["max_concurrency"], rate_per_minute=cfg["rate_limit_per_minute"],
        retries=cfg["retries"], verify=settings.api_verify(), settle_hours=cfg["settle"],
    )
log.info("landing stocks_daily %04d-%02d: %d session(s), %d downloaded now", year, month, len(days), len(fetched))
