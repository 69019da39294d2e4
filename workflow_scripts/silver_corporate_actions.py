"""Snakemake script: validate corporate actions against the raw bars; write the event multipliers."""

import json
from pathlib import Path

from quantmini import atomic, runtime
from quantmini.silver import build_corporate_actions

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = runtime.job_logging(smk.log[0] if smk.log else None)
try:
    report = build_corporate_actions(
        [Path(p) for p in smk.input.bars], [Path(p) for p in smk.input.splits],
        [Path(p) for p in smk.input.dividends], [Path(p) for p in smk.input.changes],
        Path(smk.output.multipliers), Path(smk.output.symbols), Path(smk.output.quarantine),
    )
    atomic.write_text(smk.output.report, json.dumps(report, indent=1, sort_keys=True, default=str) + "\n")
except Exception as exc:
    log.exception("silver corporate actions failed")
    runtime.die(f"silver corporate actions: {exc}")
log.info("corporate actions: %s", report)
