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


# A config setting's file in the lake, when it is missing (a new lake); a changed value is rewritten at DAG
# build (rules/common.smk `setting`, quantmini/session_plans.py).
rule setting_plan:
    output:
        LAKE.setting_plan("{name}"),
    params:
        value=lambda wc: json.dumps(SETTINGS[wc.name], sort_keys=True),
    wildcard_constraints:
        name=r"[A-Za-z0-9_]+",
    log:
        log_of("setting_plan", "{name}"),
    localrule: True
    conda:
        "../envs/quantmini.yaml"
    shell:
        "(printf '%s\\n' {params.value:q} > {output:q}.tmp && mv {output:q}.tmp {output:q}) 2> {log:q}"
