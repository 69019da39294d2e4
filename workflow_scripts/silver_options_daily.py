"""Snakemake script: silver options_daily of one job's months (underlying close, moneyness, days to expiry,
dividend yield, BSM implied vol and greeks, the underlying followed through its ticker changes; see
quantmini.datatypes.options.silver)."""

from pathlib import Path

from quantmini import jobframe
from quantmini.datatypes.options.silver import build_silver_month

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = jobframe.start(smk)
for spec in smk.params.months:
    with jobframe.failing_as(f"silver options_daily {spec['key']}", log):
        out = build_silver_month(Path(spec["options"]), Path(spec["stocks"]), [Path(p) for p in spec["dividends"]],
                                 float(smk.params.rate), Path(spec["silver"]), [Path(p) for p in spec["changes"]])
    log.info("silver options_daily %s: %d rows, %d with an implied vol", spec["key"], out["rows"], out["with_iv"])
