# silver stocks_daily: per month, from its own and the LOOKBACK_MONTHS earlier bronze months only, so closed
# months never rebuild when later data arrives (quantmini/datatypes/stocks_daily/silver.py).


rule silver_stocks_daily:
    input:
        bronze=window_files("stocks_daily", LOOKBACK_MONTHS + 1),
        splits=window_files("splits", LOOKBACK_MONTHS, closed_months_ancient=True),
        dividends=window_files("dividends", LOOKBACK_MONTHS, closed_months_ancient=True),
        changes=window_files("ticker_changes", LOOKBACK_MONTHS, closed_months_ancient=True),
    output:
        silver=LAKE.silver("stocks_daily", Y, M),
        events=LAKE.silver("corporate_actions", Y, M, "events"),
        quarantine=LAKE.quarantine("corporate_actions", Y, M),
        report=LAKE.validation_report("corporate_actions", Y, M),
    params:
        window_sessions=lambda wc: [d.isoformat() for y, m in window(wc, LOOKBACK_MONTHS + 1)
                                    for d in PARTITIONS[(y, m)].sessions],
        features=config["alpha158"],
    log:
        log_of("silver_stocks_daily", MONTH),
    benchmark:
        benchmark_of("silver_stocks_daily", MONTH)
    conda:
        "../envs/quantmini.yaml"
    script:
        "../workflow_scripts/silver_stocks_daily.py"


SILVER_TARGETS["stocks_daily"] = per_month(rules.silver_stocks_daily.output.silver)
