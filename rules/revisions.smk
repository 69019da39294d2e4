# Revisions (README "Settle time and revisions"): once per new range end, re-fetch the grouped daily of the
# last `revision_sessions` sessions, replace the landed bodies whose content changed (the old ones kept
# under the month's revisions/ folder) and rewrite those months' manifests. It is a checkpoint: the bronze
# months of the window wait for it, and Snakemake re-evaluates them after it, so a month whose landing
# changed rebuilds (its manifest is newer) and one that did not change does not.

checkpoint revisions_stocks_daily:
    input:
        manifests=[fill(landing_input(rules.landing_stocks_daily), year=f"{y:04d}", month=f"{m:02d}")
                   for y, m in REVISION_MONTHS],
    output:
        report=LAKE.revision_report("stocks_daily", REVISION_SESSIONS[-1].isoformat() if REVISION_SESSIONS else "none"),
    params:
        sessions=[d.isoformat() for d in REVISION_SESSIONS],
    resources:
        api=1,
    log:
        log_of("revisions_stocks_daily"),
    benchmark:
        benchmark_of("revisions_stocks_daily")
    conda:
        "../envs/quantmini.yaml"
    script:
        "../workflow_scripts/revisions_stocks_daily.py"


if REVISIONS_ON:  # every layer's target runs the sweep (a bronze month up to date would not ask for it)
    for targets in (TARGETS, SILVER_TARGETS, GOLD_TARGETS):
        if "stocks_daily" in targets:
            targets["stocks_daily"] = [*targets["stocks_daily"], rules.revisions_stocks_daily.output.report]
