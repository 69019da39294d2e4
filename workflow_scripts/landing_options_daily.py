"""Snakemake script: land one year of options_daily (contracts listings as of each month's last session,
then daily bars per contract for the sessions not landed yet; immutable files, see quantmini.options_daily)."""

import datetime as dt
from pathlib import Path

from quantmini import plan, runtime
from quantmini.lake import LakePaths
from quantmini.landing_documents import ClientOptions
from quantmini.options_daily import land_year

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = runtime.job_logging(smk.log[0] if smk.log else None)
cfg = smk.config
year = int(smk.wildcards.year)
months = {tuple(map(int, k.split("-"))): [dt.date.fromisoformat(s) for s in v] for k, v in smk.params.months.items()}
try:
    opts = ClientOptions.from_config(cfg)
    done = land_year(LakePaths(cfg["data_root"]), year, months, list(smk.params.underlyings),
                     Path(smk.output.manifest), opts)
except Exception as exc:  # one line for the user; the key never reaches a message (see client)
    log.error("landing options_daily %04d failed: %s", year, exc)
    runtime.die(f"landing options_daily {year:04d}: {plan.job_message(exc, cfg)}")
log.info("landing options_daily %04d (%d month(s)): %d contracts file(s), %d bars file(s) (%d bar request(s)) "
         "downloaded now", year, len(months), done["contracts_files"], done["bars_files"], done["bar_requests"])
