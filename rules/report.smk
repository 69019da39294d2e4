# Completeness report of the lake, judged per data type as the catalog declares; built after everything it
# reports on (bronze and silver), so it is right when the run ends. It shows gaps, never fails on them.


rule gaps_report:
    input:
        bronze=lambda wc: [f for f in bronze_targets() if f not in REVISION_REPORTS],
        silver=lambda wc: [f for f in silver_targets() if f not in REVISION_REPORTS],
        **report_storage_inputs(),  # on object storage: everything else the report reads (rules/common.smk)
    output:
        html=report(f"{LAKE.gaps_dir()}/gaps.html", category="Completeness",
                    caption="report/gaps.rst"),
        markdown=f"{LAKE.gaps_dir()}/gaps.md",
        coverage=report(f"{LAKE.gaps_dir()}/coverage.png", category="Completeness",
                        caption="report/coverage.rst"),
        rows=report(f"{LAKE.gaps_dir()}/rows_per_session.png", category="Completeness",
                    caption="report/rows_per_session.rst"),
        summary=f"{LAKE.gaps_dir()}/gaps.json",
    params:
        first=lambda wc: PARTITIONS[min(PARTITIONS)].sessions[0].isoformat(),
        last=lambda wc: PARTITIONS[max(PARTITIONS)].sessions[-1].isoformat(),
        types=[t.name for t in qm_catalog.enabled(config)],  # catalog order, whatever the config's
        minute_months=config["minute"]["months"],
    log:
        log_of("gaps_report"),
    benchmark:
        benchmark_of("gaps_report")
    conda:
        "../envs/quantmini.yaml"
    script:
        "../workflow_scripts/gaps_report.py"
