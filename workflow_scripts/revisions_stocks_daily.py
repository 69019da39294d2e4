"""Snakemake script (checkpoint): re-fetch the revision window's grouped daily bodies, replace what changed."""

import datetime as dt
import json

from quantmini import atomic, jobframe, plan, settings
from quantmini.lake import LakePaths
from quantmini.revisions import sweep

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = jobframe.start(smk)
cfg = smk.config
sessions = [dt.date.fromisoformat(s) for s in smk.params.sessions]
with jobframe.failing_as("revisions stocks_daily", log, describe=lambda exc: plan.job_message(exc, cfg)):
    report = sweep(base_url=settings.api_url(cfg), api_key=settings.api_key(), lake=LakePaths(cfg["data_root"]),
                   sessions=sessions, max_concurrency=cfg["max_concurrency"],
                   rate_per_minute=cfg["rate_limit_per_minute"], retries=cfg["retries"], verify=settings.api_verify())
atomic.write_text(smk.output.report, json.dumps(report, indent=1, sort_keys=True) + "\n")
for entry in report["revised"]:  # the run's summary: one line per revised session
    print(f"quantmini: revised {entry['type']} {entry['session']}: {entry['added']} rows added, "
          f"{entry['removed']} removed, {entry['changed']} changed", flush=True)
log.info("revisions stocks_daily: %d session(s) checked, %d revised", len(sessions), len(report["revised"]))
