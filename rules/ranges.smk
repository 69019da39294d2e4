# Range stamps: one small file per job set whose coverage follows the configured range (see range_stamp in
# rules/common.smk). Written in the main process: a few bytes, not worth a job's Python start-up.
import json

from quantmini import atomic as qm_atomic


rule range_stamp:
    output:
        LAKE.range_stamp("{name}"),
    params:
        value=lambda wc: RANGE_STAMPS[wc.name],
    wildcard_constraints:
        name=r"[A-Za-z0-9_]+",
    localrule: True
    run:
        qm_atomic.write_text(output[0], json.dumps(params.value, sort_keys=True) + "\n")
