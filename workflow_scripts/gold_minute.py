"""Snakemake script: publish stocks_minute as the Qlib 1min frequency (quantmini.datatypes.minute.gold)."""

import dataclasses
import datetime as dt
import json
from pathlib import Path

from quantmini import atomic, jobframe, runstate
from quantmini.datatypes.minute.gold import publish

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = jobframe.start(smk)
runstate.sweep_temp_files(smk.params.provider_dir, folders=(".",))  # a killed publish's leftovers
with jobframe.failing_as("gold qlib 1min", log, traceback=True):
    stats = publish([Path(p) for p in smk.input.bronze], [dt.date.fromisoformat(s) for s in smk.params.sessions],
                    Path(smk.params.provider_dir))
    summary = dataclasses.asdict(stats)
    atomic.write_text(smk.output.stamp, json.dumps(summary, indent=1, sort_keys=True, default=str) + "\n")
log.info("gold qlib 1min: %s", summary)
