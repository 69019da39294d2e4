"""Snakemake script: validate one month of corporate actions against the raw bars (multipliers out)."""

import json
from pathlib import Path

from quantmini import atomic, runtime
from quantmini.silver import build_month_events

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = runtime.job_logging(smk.log[0] if smk.log else None)
year, month = int(smk.wildcards.year), int(smk.wildcards.month)
try:
    report = build_month_events(
        [Path(p) for p in smk.input.bars], [Path(p) for p in smk.input.splits],
        [Path(p) for p in smk.input.dividends], year, month,
        Path(smk.output.events), Path(smk.output.quarantine),
    )
    report = {"partition": f"{year:04d}-{month:02d}", **report}
    atomic.write_text(smk.output.report, json.dumps(report, indent=1, sort_keys=True, default=str) + "\n")
except Exception as exc:
    log.exception("silver events %04d-%02d failed", year, month)
    runtime.die(f"silver events {year:04d}-{month:02d}: {exc}")
log.info("corporate actions %04d-%02d: %s", year, month, report)
