"""Snakemake script: one silver month (point-in-time adjusted bars, cumulative factors, Alpha158)."""

import datetime as dt
from pathlib import Path

from quantmini import jobframe
from quantmini.datatypes.stocks_daily.silver import build_month
from quantmini.parquet_io import UnreadableFileError

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = jobframe.start(smk)
year, month = int(smk.wildcards.year), int(smk.wildcards.month)
paths = lambda files: [Path(p) for p in files]  # noqa: E731
with jobframe.failing_as(f"silver stocks_daily {year:04d}-{month:02d}", log, traceback=True,
                           plain=(UnreadableFileError, OSError)):  # bad input: one line, no traceback
    report = build_month(
        paths(smk.input.bronze), paths(smk.input.events), paths(smk.input.changes), paths(smk.input.tickers),
        year, month, Path(smk.output.silver), Path(smk.output.securities),
        sessions=[dt.date.fromisoformat(d) for d in smk.params.window_sessions], features=smk.params.features,
    )
log.info("silver stocks_daily %04d-%02d: %s", year, month, report)
