# Completeness report of the lake (gaps against the XNYS calendar, thin partitions, quarantine), built
# after bronze as part of `all` (or alone: `snakemake gaps_report`); `snakemake --report report.html`
# embeds it.
# It never fails the run on gaps (that is `quantmini gaps`' exit status); it shows them.


rule gaps_report:
    input:
        bronze=lambda wc: [f for dtype, files in TARGETS.items() if enabled(dtype) for f in files],
    output:
        html=report(f"{ROOT}/reports/gaps/gaps.html", category="Completeness"),
        markdown=f"{ROOT}/reports/gaps/gaps.md",
        coverage=report(f"{ROOT}/reports/gaps/coverage.png", category="Completeness"),
        rows=report(f"{ROOT}/reports/gaps/rows_per_session.png", category="Completeness"),
        summary=f"{ROOT}/reports/gaps/gaps.json",
    params:
        first=lambda wc: PARTITIONS[min(PARTITIONS)].sessions[0].isoformat(),
        last=lambda wc: PARTITIONS[max(PARTITIONS)].sessions[-1].isoformat(),
        types=config["data_types"],
    log:
        f"{ROOT}/logs/gaps_report.log",
    benchmark:
        f"{ROOT}/benchmarks/gaps_report.tsv"
    run:
        from quantmini.lake_report import report_range

        report_range(ROOT, params.first, params.last, params.types, Path(output.html).parent, log[0])
