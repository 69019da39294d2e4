"""Snakemake script: one silver month (point-in-time adjusted bars, Alpha158, validated events)."""

import datetime as dt
import json
from pathlib import Path

from quantmini import atomic, runtime
from quantmini.datatypes.stocks_daily.silver import UnreadableFileError, build_month

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = runtime.job_logging(smk.log[0] if smk.log else None)
year, month = int(smk.wildcards.year), int(smk.wildcards.month)
paths = lambda files: [Path(p) for p in files]  # noqa: E731
try:
    report = build_month(
        paths(smk.input.bronze), paths(smk.input.splits), paths(smk.input.dividends), paths(smk.input.changes),
        year, month, Path(smk.output.silver), Path(smk.output.events), Path(smk.output.quarantine),
        sessions=[dt.date.fromisoformat(d) for d in smk.params.window_sessions], features=smk.params.features,
    )
    atomic.write_text(smk.output.report, json.dumps(report, indent=1, sort_keys=True, default=str) + "\n")
except (UnreadableFileError, OSError) as exc:  # bad input (a corrupt file, a full disk): one line, no traceback
    log.error("silver stocks_daily %04d-%02d failed: %s", year, month, exc)
    runtime.die(f"silver stocks_daily {year:04d}-{month:02d}: {exc}")
except Exception as exc:
    log.exception("silver stocks_daily %04d-%02d failed", year, month)
    runtime.die(f"silver stocks_daily {year:04d}-{month:02d}: {exc}")
log.info("silver stocks_daily %04d-%02d: %s", year, month, report)
