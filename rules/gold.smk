# gold: the Qlib provider directory (calendars/, instruments/, features/), adjusted as of the lake's end.


rule gold_qlib:
    input:
        silver=per_month(rules.silver_stocks_daily.output.silver),
        events=per_month(rules.silver_stocks_daily.output.events),
        changes=bronze_months("ticker_changes"),
    output:
        stamp=f"{ROOT}/gold/qlib/.published.json",
    params:
        provider_dir=f"{ROOT}/gold/qlib",
        first=lambda wc: PARTITIONS[min(PARTITIONS)].sessions[0].isoformat(),
        last=lambda wc: PARTITIONS[max(PARTITIONS)].sessions[-1].isoformat(),
        features=config["gold"]["alpha158"],
    log:
        f"{ROOT}/logs/gold_qlib.log",
    benchmark:
        f"{ROOT}/benchmarks/gold_qlib.tsv"
    script:
        "../workflow_scripts/gold_qlib.py"


GOLD_TARGETS["stocks_daily"] = [rules.gold_qlib.output.stamp]
