"""Snakemake script: silver options_daily of one job's months (underlying close, moneyness, days to expiry,
dividend yield, BSM implied vol and greeks, the underlying followed through its ticker changes; see
quantmini.options_silver)."""

from pathlib import Path

from quantmini import runtime
from quantmini.datatypes.options.silver import build_silver_month

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = runtime.job_logging(smk.log[0] if smk.log else None)
for spec in smk.params.months:
    try:
        out = build_silver_month(Path(spec["options"]), Path(spec["stocks"]), [Path(p) for p in spec["dividends"]],
                                 float(smk.params.rate), Path(spec["silver"]), [Path(p) for p in spec["changes"]])
    except Exception as exc:
        log.error("silver options_daily %s failed: %s", spec["key"], exc)
        runtime.die(f"silver options_daily {spec['key']}: {exc}")
    log.info("silver options_daily %s: %d rows, %d with an implied vol", spec["key"], out["rows"], out["with_iv"])
