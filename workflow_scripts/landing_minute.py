"""Snakemake script: land one month of stocks_minute or options_minute (one immutable file per
(ticker, session); only the files not landed yet are downloaded)."""

import datetime as dt
from pathlib import Path

import polars as pl

from quantmini import jobframe, plan
from quantmini.datatypes.minute import landing as minute_landing
from quantmini.lake import LakePaths
from quantmini.landing_documents import ClientOptions

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = jobframe.start(smk)
cfg, dtype = smk.config, smk.params.dtype
year, month = int(smk.wildcards.year), int(smk.wildcards.month)
sessions = [dt.date.fromisoformat(s) for s in smk.params.sessions]
with jobframe.failing_as(f"landing {dtype} {year:04d}-{month:02d}", log,
                         describe=lambda exc: plan.job_message(exc, cfg)):
    daily = pl.read_parquet(smk.input.daily).filter(pl.col("date").is_in(sessions))
    if dtype == "options_minute":
        pairs = minute_landing.select_options(pl.read_parquet(smk.input.options), daily, smk.params.per_stock)
    else:
        pairs = minute_landing.select_stocks(daily, smk.params.stocks)
    opts = ClientOptions.from_config(cfg)
    fetched = minute_landing.land_month(dtype, LakePaths(cfg["data_root"]), year, month, sessions, pairs,
                                Path(smk.output.manifest), opts)
log.info("landing %s %04d-%02d: %d (ticker, session) pair(s), %d downloaded now", dtype, year, month,
         pairs.height, fetched)
