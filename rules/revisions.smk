# Revisions (README "Settle time and revisions"): once per new range end, for every enabled type the
# catalog marks `revised`, re-fetch what was landed for the last `revision_sessions` sessions, replace the
# landed files whose content changed (the old ones kept under their manifest folder's revisions/), bring
# the manifests in line and touch the revised months' stamps (quantmini/revisions.py). Each sweep is a
# checkpoint: the jobs reading the window's landing or bronze wait for it (revision_wait /
# revision_inputs in rules/common.smk), and Snakemake re-evaluates them after it, so a month whose landing
# changed rebuilds (its manifest, or stamp, is newer) and one that did not change does not.

for _dtype in REVISED_TYPES:
    _months, _sessions = revision_window(_dtype)

    checkpoint:
        name:
            f"revisions_{_dtype}"
        input:
            manifests=[str(p) for p in qm_catalog.data_type(_dtype).landing_manifests(LAKE.paths, _months)],
        output:
            report=LAKE.revision_report(_dtype, _sessions[-1].isoformat()),
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
    # over the DAG. The gaps report never waits for it (its inputs stay the same from run to run).
    REVISION_REPORTS.add(LAKE.revision_report(_dtype, _sessions[-1].isoformat()))
    for _targets in (TARGETS, SILVER_TARGETS, GOLD_TARGETS):
        if _dtype in _targets and not sweep_done(_dtype):
            _targets[_dtype] = [*_targets[_dtype], LAKE.revision_report(_dtype, _sessions[-1].isoformat())]
