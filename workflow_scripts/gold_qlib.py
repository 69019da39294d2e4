"""Snakemake script: publish the Qlib provider directory from silver, adjusted as of the lake's end.

The sessions come from the rule (Snakemake has the calendar loaded): importing exchange_calendars here
would be most of the job's CPU in a daily update (bench/README.md, issue 21)."""

import dataclasses
import datetime as dt
import json
from pathlib import Path

from quantmini import atomic, jobframe, runstate
from quantmini.datatypes.stocks_daily.gold import publish
from quantmini.parquet_io import UnreadableFileError

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = jobframe.start(smk)
runstate.sweep_temp_files(smk.params.provider_dir, folders=(".",))  # a killed publish's leftovers
with jobframe.failing_as("gold qlib", log, traceback=True,
                           plain=(UnreadableFileError, OSError)):  # bad input: one line, no traceback
    features = []
    if smk.params.features:
        from quantmini.datatypes.stocks_daily.alpha158 import FEATURE_NAMES

        features = list(FEATURE_NAMES)
    stats = publish(
        [Path(p) for p in smk.input.silver], [Path(p) for p in smk.input.events],
        [Path(p) for p in smk.input.changes], [dt.date.fromisoformat(d) for d in smk.params.sessions],
        Path(smk.params.provider_dir), features=features, state_file=Path(smk.params.state),
    )
    summary = dataclasses.asdict(stats)
    atomic.write_text(smk.output.stamp, json.dumps(summary, indent=1, sort_keys=True, default=str) + "\n")
log.info("gold qlib: %s", summary)
