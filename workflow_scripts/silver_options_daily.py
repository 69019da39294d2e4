"""Snakemake script: silver options_daily of one month (underlying close, moneyness, days to expiry,
dividend yield, BSM implied vol and greeks; see quantmini.options_silver)."""

from pathlib import Path

from quantmini import runtime
from quantmini.options_silver import build_silver_month

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = runtime.job_logging(smk.log[0] if smk.log else None)
year, month = int(smk.wildcards.year), int(smk.wildcards.month)
files = lambda x: [Path(x)] if isinstance(x, str) else [Path(f) for f in x]  # noqa: E731
try:
    out = build_silver_month(Path(smk.input.options), Path(smk.input.stocks), files(smk.input.dividends),
                             float(smk.params.rate), Path(smk.output.silver))
except Exception as exc:
    log.error("silver options_daily %04d-%02d failed: %s", year, month, exc)
    runtime.die(f"silver options_daily {year:04d}-{month:02d}: {exc}")
log.info("silver options_daily %04d-%02d: %d rows, %d with an implied vol", year, month, out["rows"], out["with_iv"])
