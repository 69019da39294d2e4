"""Snakemake script: fill landing/stocks_daily for one month (only the sessions not yet landed)."""

import datetime as dt
from pathlib import Path

from quantmini import plan, runtime
from quantmini.landing import land_month
from quantmini.lake import LakePaths

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = runtime.job_logging(smk.log[0] if smk.log else None)
cfg = smk.config
year, month = int(smk.wildcards.year), int(smk.wildcards.month)
days = [dt.date.fromisoformat(s) for s in smk.params.sessions]
try:
    fetched = land_month(
        base_url=runtime.api_url(cfg), api_key=runtime.api_key(), lake=LakePaths(cfg["data_root"]),
        dtype="stocks_daily", year=year, month=month, days=days, manifest=Path(smk.output.manifest),
        max_concurrency=cfg["max_concurrency"], rate_per_minute=cfg["rate_limit_per_minute"],
        retries=cfg["retries"], verify=runtime.api_verify(), settle_hours=cfg["settle"],
    )
except Exception as exc:  # one line for the user; the key never reaches a message (see client)
    log.error("landing stocks_daily %04d-%02d failed: %s", year, month, exc)
    runtime.die(f"landing stocks_daily {year:04d}-{month:02d}: {plan.job_message(exc, cfg)}")
log.info("landing stocks_daily %04d-%02d: %d session(s), %d downloaded now", year, month, len(days), len(fetched))
