# Revisions (README "Settle time and revisions"): once per new range end, re-fetch the grouped daily of the
# last `revision_sessions` sessions, replace the landed bodies whose content changed (the old ones kept
# under the month's revisions/ folder) and rewrite those months' manifests. It is a checkpoint: the bronze
# months of the window wait for it, and Snakemake re-evaluates them after it, so a month whose landing
# changed rebuilds (its manifest is newer) and one that did not change does not.

REVISION_SESSIONS = sorted(d for p in PARTITIONS.values() for d in p.sessions)[-config["revision_sessions"]:] \
    if config["revision_sessions"] else []
REVISION_MONTHS = sorted({(d.year, d.month) for d in REVISION_SESSIONS})
REVISIONS_ON = enabled("stocks_daily") and bool(REVISION_SESSIONS)


checkpoint revisions_stocks_daily:
    input:
        manifests=[rules.landing_stocks_daily.output.manifest.format(year=f"{y:04d}", month=f"{m:02d}")
                   for y, m in REVISION_MONTHS],
    output:
        report=f"{ROOT}/reports/revisions/stocks_daily/{REVISION_SESSIONS[-1] if REVISION_SESSIONS else 'none'}.json",
    params:
        sessions=[d.isoformat() for d in REVISION_SESSIONS],
    resources:
        api=1,
    log:
        f"{ROOT}/logs/revisions_stocks_daily.log",
    benchmark:
        f"{ROOT}/benchmarks/revisions_stocks_daily.tsv"
    script:
        "../workflow_scripts/revisions_stocks_daily.py"


def revision_wait(months):
    """For input functions reading stocks_daily landing or bronze of `months` ((year, month) pairs): wait
    for the sweep when one is in the window. Every such reader must wait: a job whose input another job
    might rewrite is scheduled to rerun, and only waiting lets Snakemake re-evaluate it after the sweep
    (so an unchanged month rebuilds nothing downstream). Returns None (usable as `revision_wait(...) or path`)."""
    if REVISIONS_ON and any((int(y), int(m)) in REVISION_MONTHS for y, m in months):
        checkpoints.revisions_stocks_daily.get()
    return None


def revision_gate(wildcards, manifest):
    """bronze_stocks_daily's manifest input, after the sweep when the month is in the window."""
    revision_wait([(wildcards.year, wildcards.month)])
    return manifest.format(**wildcards)


if REVISIONS_ON:  # every layer's target runs the sweep (a bronze month up to date would not ask for it)
    for targets in (TARGETS, SILVER_TARGETS, GOLD_TARGETS):
        if "stocks_daily" in targets:
            targets["stocks_daily"] = [*targets["stocks_daily"], rules.revisions_stocks_daily.output.report]
