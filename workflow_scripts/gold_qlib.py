"""Snakemake script: publish the Qlib provider directory from silver, adjusted as of the lake's end."""

import dataclasses
import json
from pathlib import Path

from quantmini import atomic, calendar, runtime
from quantmini.datatypes.stocks_daily.gold import publish
from quantmini.datatypes.stocks_daily.silver import UnreadableFileError

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = runtime.job_logging(smk.log[0] if smk.log else None)
try:
    features = []
    if smk.params.features:
        from quantmini.datatypes.stocks_daily.alpha158 import FEATURE_NAMES

        features = list(FEATURE_NAMES)
    stats = publish(
        [Path(p) for p in smk.input.silver], [Path(p) for p in smk.input.events],
        [Path(p) for p in smk.input.changes], calendar.sessions(smk.params.first, smk.params.last),
        Path(smk.params.provider_dir), features=features,
    )
    summary = dataclasses.asdict(stats)
    atomic.write_text(smk.output.stamp, json.dumps(summary, indent=1, sort_keys=True, default=str) + "\n")
except (UnreadableFileError, OSError) as exc:  # bad input (a corrupt file, a full disk): one line, no traceback
    log.error("gold qlib failed: %s", exc)
    runtime.die(f"gold qlib: {exc}")
except Exception as exc:
    log.exception("gold qlib failed")
    runtime.die(f"gold qlib: {exc}")
log.info("gold qlib: %s", summary)
