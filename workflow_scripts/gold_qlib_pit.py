"""Snakemake script: publish bronze financials into gold in Qlib's point-in-time layout
(quantmini.datatypes.fundamentals.gold_pit)."""

import json
from pathlib import Path

from quantmini import atomic, jobframe, runstate
from quantmini.adjust import CHANGE_SCHEMA
from quantmini.datatypes.fundamentals import gold_pit
from quantmini.parquet_io import UnreadableFileError, read_many

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = jobframe.start(smk)
runstate.sweep_temp_files(smk.params.provider_dir, folders=(".",))  # a killed publish's leftovers
with jobframe.failing_as("gold qlib pit", log, traceback=True,
                           plain=(UnreadableFileError, OSError)):  # bad input: one line, no traceback
    financials = read_many([Path(p) for p in smk.input.financials])
    changes = read_many([Path(p) for p in smk.input.changes], CHANGE_SCHEMA)
    if changes.height:
        changes = changes.select(list(CHANGE_SCHEMA))
    stats = gold_pit.publish(smk.params.provider_dir, gold_pit.pit_table(financials, changes))
    atomic.write_text(smk.output.stamp, json.dumps(stats, indent=1, sort_keys=True) + "\n")
log.info("gold qlib pit: %s", stats)
