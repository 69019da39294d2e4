"""Snakemake script (checkpoint): re-fetch a type's revision window, replace what changed (quantmini.revisions)."""

import datetime as dt
import json
from pathlib import Path

from quantmini import atomic, jobframe, plan
from quantmini.lake import LakePaths
from quantmini.landing_documents import ClientOptions
from quantmini.revisions import sweep

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = jobframe.start(smk)
cfg, dtype = smk.config, smk.params.dtype
sessions = [dt.date.fromisoformat(s) for s in smk.params.sessions]
with jobframe.failing_as(f"revisions {dtype}", log, describe=lambda exc: plan.job_message(exc, cfg)):
    report = sweep(dtype, lake=LakePaths(cfg["data_root"]), sessions=sessions,
                   manifests=[Path(m) for m in smk.input.manifests], opts=ClientOptions.from_config(cfg))
atomic.write_text(smk.output.report, json.dumps(report, indent=1, sort_keys=True) + "\n")
for entry in report["revised"]:  # the run's summary: one line per revised file
    print(f"quantmini: revised {entry['type']} {entry['session']}: {entry['added']} rows added, "
          f"{entry['removed']} removed, {entry['changed']} changed", flush=True)
log.info("revisions %s: %d session(s), %d file(s), %d request(s) checked, %d revised", dtype, len(sessions),
         report["files"], report["requests"], len(report["revised"]))
