"""Snakemake script: publish the Qlib provider directory from silver, adjusted as of the lake's end."""

import dataclasses
import json
from pathlib import Path

from quantmini import atomic, calendar, jobframe
from quantmini.datatypes.stocks_daily.gold import publish
from quantmini.parquet_io import UnreadableFileError

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = jobframe.start(smk)
with jobframe.failing_as("gold qlib", log, traceback=True,
                           plain=(UnreadableFileError, OSError)):  # bad input: one line, no traceback
    features = []
    if smk.params.features:
        from quantmini.datatypes.stocks_daily.alpha158 import FEATURE_NAMES

        features = list(FEATURE_NAMES)
    stats = publish(
        [Path(p) for p in smk.input.silver], [Path(p) for p in smk.input.events],
        [Path(p) for p in smk.input.changes], calendar.sessions(smk.params.first, smk.params.last),
        Path(smk.params.provider_dir), features=features, state_file=Path(smk.params.state),
    )
    summary = dataclasses.asdict(stats)
    atomic.write_text(smk.output.stamp, json.dumps(summary, indent=1, sort_keys=True, default=str) + "\n")
log.info("gold qlib: %s", summary)
