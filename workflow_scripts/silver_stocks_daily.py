"""Snakemake script: build one silver stocks_daily month (point-in-time adjusted bars + Alpha158)."""

from pathlib import Path

from quantmini import runtime
from quantmini.silver import build_month

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = runtime.job_logging(smk.log[0] if smk.log else None)
year, month = int(smk.wildcards.year), int(smk.wildcards.month)
try:
    summary = build_month(
        [Path(p) for p in smk.input.bronze], [Path(p) for p in smk.input.events],
        [Path(p) for p in smk.input.changes], year, month, Path(smk.output.silver),
        features=smk.params.features,
    )
except Exception as exc:
    log.exception("silver stocks_daily %04d-%02d failed", year, month)
    runtime.die(f"silver stocks_daily {year:04d}-{month:02d}: {exc}")
log.info("silver stocks_daily %04d-%02d: %s", year, month, summary)
