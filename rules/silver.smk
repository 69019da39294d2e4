# silver stocks_daily: per month, from its own and the LOOKBACK_MONTHS earlier bronze months and every
# earlier month's validated events and renames (running files extended month by month by jobs over bronze
# only), so closed months never rebuild when later data arrives (quantmini/datatypes/stocks_daily/silver.py).


rule silver_corporate_actions:
    input:
        bronze=window_files("stocks_daily", 1),
        splits=window_files("splits", 0, closed_months_ancient=True),
        dividends=window_files("dividends", 0, closed_months_ancient=True),
        changes=window_files("ticker_changes", 0, closed_months_ancient=True),
        previous_events=previous_to_date("events_to_date"),
        previous_renames=previous_to_date("renames_to_date"),
        # a revised month's events or renames reach every later month through the running files
        revised=revision_inputs(CA_TYPES, lambda wc: window(wc, 0)),  # rules/revisions.smk
        chain=chain_waits,
    output:
        events=LAKE.silver("corporate_actions", Y, M, "events"),
        events_to_date=LAKE.silver("corporate_actions", Y, M, "events_to_date"),
        renames_to_date=LAKE.silver("corporate_actions", Y, M, "renames_to_date"),
        quarantine=LAKE.quarantine("corporate_actions", Y, M),
        report=LAKE.validation_report("corporate_actions", Y, M),
    log:
        log_of("silver_corporate_actions", MONTH),
    benchmark:
        benchmark_of("silver_corporate_actions", MONTH)
    conda:
        "../envs/quantmini.yaml"
    script:
        "../workflow_scripts/silver_corporate_actions.py"


rule silver_stocks_daily:
    input:
        bronze=window_files("stocks_daily", LOOKBACK_MONTHS + 1),
        events=[rules.silver_corporate_actions.output.events_to_date],  # every month's up to this one
        changes=[rules.silver_corporate_actions.output.renames_to_date],
        tickers=window_files("tickers", LOOKBACK_MONTHS, closed_months_ancient=True),
        features=setting("alpha158", config["alpha158"]),  # the settings, in the lake (rules/common.smk)
        revised=revision_inputs(("tickers",), lambda wc: window(wc, LOOKBACK_MONTHS)),  # rules/revisions.smk
        chain=chain_waits,
    output:
        silver=LAKE.silver("stocks_daily", Y, M),
        securities=LAKE.silver("securities", Y, M),
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


SILVER_TARGETS["stocks_daily"] = per_month(rules.silver_stocks_daily.output.silver) + per_month(
    rules.silver_corporate_actions.output.events)
