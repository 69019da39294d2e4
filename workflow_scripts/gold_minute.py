"""Snakemake script: publish stocks_minute as the Qlib 1min frequency (quantmini.gold_minute)."""

import dataclasses
import datetime as dt
import json
from pathlib import Path

from quantmini import atomic, runtime
from quantmini.datatypes.minute.gold import publish

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = runtime.job_logging(smk.log[0] if smk.log else None)
try:
    stats = publish([Path(p) for p in smk.input.bronze], [dt.date.fromisoformat(s) for s in smk.params.sessions],
                    Path(smk.params.provider_dir))
    summary = dataclasses.asdict(stats)
    atomic.write_text(smk.output.stamp, json.dumps(summary, indent=1, sort_keys=True, default=str) + "\n")
except Exception as exc:
    log.exception("gold qlib 1min failed")
    runtime.die(f"gold qlib 1min: {exc}")
log.info("gold qlib 1min: %s", summary)
