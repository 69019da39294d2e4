"""Snakemake script: build the bronze stocks_daily partition of one month from its landing files."""

import datetime as dt
from pathlib import Path

from quantmini import jobframe
from quantmini.datatypes.stocks_daily.bronze import build_stocks_daily_month
from quantmini.lake import LakePaths

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = jobframe.start(smk)
year, month = int(smk.wildcards.year), int(smk.wildcards.month)
universe = smk.params.universe
with jobframe.failing_as(f"bronze stocks_daily {year:04d}-{month:02d}", log):
    if "universe_types" in smk.params.keys():  # universe_filter: the month's ticker_details snapshot decides
        from quantmini.datatypes.ticker_details.bronze import universe_tickers

        universe = universe_tickers(Path(list(smk.input.universe_snapshot)[0]), smk.params.universe_types, universe)
        log.info("universe filter %s: %d ticker(s) kept", smk.params.universe_types, len(universe))
    report = build_stocks_daily_month(
        LakePaths(smk.config["data_root"]), year, month,
        [dt.date.fromisoformat(s) for s in smk.params.sessions], universe,
        Path(smk.output.bronze), Path(smk.output.quarantine), Path(smk.output.report),
    )
log.info("bronze stocks_daily %04d-%02d: %d rows valid, %d quarantined",
         year, month, report["rows_valid"], report["rows_quarantined"])
