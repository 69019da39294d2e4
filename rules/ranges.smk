# Range stamps: one small file per job set whose coverage follows the configured range (see range_stamp in
# rules/common.smk). A shell one-liner: a few bytes, not worth a job's Python start-up.
import json


rule range_stamp:
    output:
        LAKE.range_stamp("{name}"),
    params:
        value=lambda wc: json.dumps(RANGE_STAMPS[wc.name], sort_keys=True),
    wildcard_constraints:
        name=r"[A-Za-z0-9_]+",
    log:
        log_of("range_stamp", "{name}"),
    localrule: True
    conda:
        "../envs/quantmini.yaml"
    shell:
        "(printf '%s\\n' {params.value:q} > {output:q}.tmp && mv {output:q}.tmp {output:q}) 2> {log:q}"
