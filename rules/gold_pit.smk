# gold PIT: bronze financials in Qlib's point-in-time layout (<provider>/financial/<sym>/<field>.{data,index}),
# so P($$eps_q)-style expressions work in pyqlib (quantmini/datatypes/fundamentals/gold_pit.py). Built with the
# fundamentals type; one job, after gold (symbols are gold's). Unchanged files are not rewritten.


rule gold_qlib_pit:
    input:
        financials=[f for y in FUND_YEARS for f in fund_files("bronze", y) if "/bronze/financials/" in f],
        changes=bronze_months("ticker_changes"),
        revised=revision_inputs(("ticker_changes",), sorted(PARTITIONS)),  # rules/revisions.smk
        gold=rules.gold_qlib.output.stamp,
    output:
        stamp=str(Path(LAKE.gold_dir()) / ".pit.json"),
    params:
        provider_dir=lambda wc, output: str(Path(output.stamp).parent),
    log:
        log_of("gold_qlib_pit"),
    benchmark:
        benchmark_of("gold_qlib_pit")
    conda:
        "../envs/quantmini.yaml"
    script:
        "../workflow_scripts/gold_qlib_pit.py"


GOLD_TARGETS["fundamentals"] = [rules.gold_qlib_pit.output.stamp]
