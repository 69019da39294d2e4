# silver: validated corporate actions -> event multipliers; adjusted stocks_daily months with Alpha158.


def bronze_months(dtype):
    return per_month(f"{ROOT}/bronze/{dtype}/{MONTH}/data.parquet") if enabled(dtype) else []


def silver_bronze_inputs(wildcards):
    """This month's bronze plus the look-back months that are inside the configured range."""
    from quantmini.silver import lookback_months

    year, month = int(wildcards.year), int(wildcards.month)
    months = [ym for ym in lookback_months(year, month) if ym in PARTITIONS] + [(year, month)]
    return [f"{ROOT}/bronze/stocks_daily/year={y:04d}/month={m:02d}/data.parquet" for y, m in months]


rule silver_corporate_actions:
    input:
        bars=bronze_months("stocks_daily"),
        splits=bronze_months("splits"),
        dividends=bronze_months("dividends"),
        changes=bronze_months("ticker_changes"),
    output:
        multipliers=f"{ROOT}/silver/corporate_actions/multipliers.parquet",
        symbols=f"{ROOT}/silver/corporate_actions/symbols.parquet",
        quarantine=f"{ROOT}/quarantine/corporate_actions/events.parquet",
        report=f"{ROOT}/reports/validation/corporate_actions.json",
    log:
        f"{ROOT}/logs/silver_corporate_actions.log",
    benchmark:
        f"{ROOT}/benchmarks/silver_corporate_actions.tsv"
    script:
        "../workflow_scripts/silver_corporate_actions.py"


rule silver_stocks_daily:
    input:
        bronze=silver_bronze_inputs,
        multipliers=rules.silver_corporate_actions.output.multipliers,
        symbols=rules.silver_corporate_actions.output.symbols,
    output:
        silver=f"{ROOT}/silver/stocks_daily/{MONTH}/data.parquet",
    params:
        sessions=month_sessions,
        features=config["alpha158"],
    log:
        f"{ROOT}/logs/silver_stocks_daily/{MONTH}.log",
    benchmark:
        f"{ROOT}/benchmarks/silver_stocks_daily/{MONTH}.tsv"
    script:
        "../workflow_scripts/silver_stocks_daily.py"


rule silver:
    input:
        per_month(rules.silver_stocks_daily.output.silver),
