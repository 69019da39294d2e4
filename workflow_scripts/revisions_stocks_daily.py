"""Snakemake script (checkpoint): re-fetch the revision window's grouped daily bodies, replace what changed."""

import datetime as dt
import json

from quantmini import atomic, plan, runtime
from quantmini.lake import LakePaths
from quantmini.revisions import sweep

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = runtime.job_logging(smk.log[0] if smk.log else None)
cfg = smk.config
sessions = [dt.date.fromisoformat(s) for s in smk.params.sessions]
try:
    report = sweep(base_url=runtime.api_url(cfg), api_key=runtime.api_key(), lake=LakePaths(cfg["data_root"]),
                   sessions=sessions, max_concurrency=cfg["max_concurrency"],
                   rate_per_minute=cfg["rate_limit_per_minute"], retries=cfg["retries"], verify=runtime.api_verify())
except Exception as exc:  # one line for the user; the key never reaches a message (see client)
    log.error("revisions stocks_daily failed: %s", exc)
    runtime.die(f"revisions stocks_daily: {plan.job_message(exc, cfg)}")
atomic.write_text(smk.output.report, json.dumps(report, indent=1, sort_keys=True) + "\n")
for entry in report["revised"]:  # the run's summary: one line per revised session
    print(f"quantmini: revised {entry['type']} {entry['session']}: {entry['added']} rows added, "
          f"{entry['removed']} removed, {entry['changed']} changed", flush=True)
log.info("revisions stocks_daily: %d session(s) checked, %d revised", len(sessions), len(report["revised"]))
