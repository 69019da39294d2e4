"""Snakemake script: publish bronze financials into gold in Qlib's point-in-time layout (quantmini.gold_pit)."""

import json
from pathlib import Path

from quantmini import atomic, gold_pit, runtime
from quantmini.silver import CHANGE_SCHEMA, UnreadableFileError, read_many

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = runtime.job_logging(smk.log[0] if smk.log else None)
try:
    financials = read_many([Path(p) for p in smk.input.financials])
    changes = read_many([Path(p) for p in smk.input.changes], CHANGE_SCHEMA)
    if changes.height:
        changes = changes.select(list(CHANGE_SCHEMA))
    stats = gold_pit.publish(smk.params.provider_dir, gold_pit.pit_table(financials, changes))
    atomic.write_text(smk.output.stamp, json.dumps(stats, indent=1, sort_keys=True) + "\n")
except (UnreadableFileError, OSError) as exc:
    log.error("gold qlib pit failed: %s", exc)
    runtime.die(f"gold qlib pit: {exc}")
except Exception as exc:
    log.exception("gold qlib pit failed")
    runtime.die(f"gold qlib pit: {exc}")
log.info("gold qlib pit: %s", stats)
