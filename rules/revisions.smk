# Revisions (README "Settle time and revisions"): once per new range end, for every enabled type the
# catalog marks `revised`, re-fetch what was landed for the last `revision_sessions` sessions, replace the
# landed files whose content changed (the old ones kept under their manifest folder's revisions/), bring
# the manifests in line and touch the revised months' stamps (quantmini/revisions.py). Each sweep is a
# checkpoint: the jobs reading the window's landing or bronze wait for it (revision_wait /
# revision_inputs in rules/common.smk), and Snakemake re-evaluates them after it, so a month whose landing
# changed rebuilds (its manifest, or stamp, is newer) and one that did not change does not.

for _dtype in REVISED_TYPES:
    _sessions = revision_window(_dtype)[1]

    checkpoint:
        name:
            f"revisions_{_dtype}"
        input:
            manifests=sweep_manifests(_dtype),
        output:
            report=sweep_report(_dtype),
        params:
            sessions=[d.isoformat() for d in _sessions],
            dtype=_dtype,
        resources:
            api=1,
        log:
            log_of(f"revisions_{_dtype}"),
        benchmark:
            benchmark_of(f"revisions_{_dtype}")
        conda:
            "../envs/quantmini.yaml"
        script:
            "../workflow_scripts/revisions_sweep.py"

    # every layer's target runs the sweep (a bronze month up to date would not ask for it) until it ran:
    # then it cannot run again, and a target depending on a checkpoint costs every run a second pass
    # over the DAG. The gaps report never waits for it (REVISION_REPORTS: its inputs stay the same).
    for _targets in (TARGETS, SILVER_TARGETS, GOLD_TARGETS):
        if _dtype in _targets and not sweep_done(_dtype):
            _targets[_dtype] = [*_targets[_dtype], sweep_report(_dtype)]
