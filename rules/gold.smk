# gold: the Qlib provider directory (calendars/, instruments/, features/), published from silver.


rule gold_qlib:
    input:
        silver=per_month(rules.silver_stocks_daily.output.silver),
    output:
        stamp=f"{ROOT}/gold/qlib/.published.json",
    params:
        provider_dir=f"{ROOT}/gold/qlib",
        first=lambda wc: min(PARTITIONS.values(), key=lambda p: (p.year, p.month)).sessions[0].isoformat(),
        last=lambda wc: max(PARTITIONS.values(), key=lambda p: (p.year, p.month)).sessions[-1].isoformat(),
        features=config["gold"]["alpha158"],
    log:
        f"{ROOT}/logs/gold_qlib.log",
    benchmark:
        f"{ROOT}/benchmarks/gold_qlib.tsv"
    script:
        "../workflow_scripts/gold_qlib.py"


rule gold:
    input:
        rules.gold_qlib.output.stamp,


TARGETS["stocks_daily"] = TARGETS["stocks_daily"] + [rules.gold_qlib.output.stamp]
