"""Snakemake script: one month's validated splits and dividends (event multipliers) and their quarantine,
and the running files of every month's events and renames up to this one (silver's cumulative inputs)."""

import json
from pathlib import Path

from quantmini import atomic, jobframe
from quantmini.adjust import CHANGE_SCHEMA
from quantmini.datatypes.stocks_daily.silver import EVENT_SCHEMA, validate_month, write_to_date
from quantmini.parquet_io import UnreadableFileError

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = jobframe.start(smk)
year, month = int(smk.wildcards.year), int(smk.wildcards.month)
paths = lambda files: [Path(p) for p in files]  # noqa: E731
with jobframe.failing_as(f"silver corporate_actions {year:04d}-{month:02d}", log, traceback=True,
                           plain=(UnreadableFileError, OSError)):  # bad input: one line, no traceback
    report = validate_month(
        paths(smk.input.bronze), paths(smk.input.splits), paths(smk.input.dividends), year, month,
        Path(smk.output.events), Path(smk.output.quarantine),
    )
    events = write_to_date(paths(smk.input.previous_events), [Path(smk.output.events)], EVENT_SCHEMA,
                           Path(smk.output.events_to_date))
    renames = write_to_date(paths(smk.input.previous_renames), paths(smk.input.changes), CHANGE_SCHEMA,
                            Path(smk.output.renames_to_date))
    atomic.write_text(smk.output.report, json.dumps(report, indent=1, sort_keys=True, default=str) + "\n")
log.info("silver corporate_actions %04d-%02d: %s; to date: %d events, %d renames", year, month, report,
         events, renames)
