"""Snakemake script: land one year of options_daily (contracts listings as of each month's last session,
then daily bars per contract for the sessions not landed yet; immutable files, see quantmini.datatypes.options)."""

import datetime as dt
from pathlib import Path

from quantmini import jobframe, plan
from quantmini.lake import LakePaths
from quantmini.landing_documents import ClientOptions
from quantmini.datatypes.options.landing import land_year

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = jobframe.start(smk)
cfg = smk.config
year = int(smk.wildcards.year)
months = {tuple(map(int, k.split("-"))): [dt.date.fromisoformat(s) for s in v] for k, v in smk.params.months.items()}
with jobframe.failing_as(f"landing options_daily {year:04d}", log,
                         describe=lambda exc: plan.job_message(exc, cfg)):
    opts = ClientOptions.from_config(cfg)
    done = land_year(LakePaths(cfg["data_root"]), year, months, list(smk.params.underlyings),
                     Path(smk.output.manifest), opts)
log.info("landing options_daily %04d (%d month(s)): %d contracts file(s), %d bars file(s) (%d bar request(s)) "
         "downloaded now", year, len(months), done["contracts_files"], done["bars_files"], done["bar_requests"])
