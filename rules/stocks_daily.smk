# stocks_daily: one grouped-daily request per XNYS session -> landing (raw gzip JSON) -> bronze month.


rule landing_stocks_daily:
    output:
        manifest=f"{ROOT}/landing/stocks_daily/{MONTH}/_manifest.json",
    params:
        sessions=month_sessions,
    resources:
        api=1,
    log:
        f"{ROOT}/logs/landing_stocks_daily/{MONTH}.log",
    benchmark:
        f"{ROOT}/benchmarks/landing_stocks_daily/{MONTH}.tsv"
    script:
        "../workflow_scripts/landing_stocks_daily.py"


# universe_filter (README): the types to keep reach the job as a param only when the filter is on, so
# lakes built without it keep their params (and do not rebuild).
UNIVERSE_FILTER_PARAMS = (
    {"universe_types": config["universe_filter"]["types"]} if config.get("universe_filter") else {}
)


rule bronze_stocks_daily:
    input:
        manifest=lambda wc: revision_gate(wc, rules.landing_stocks_daily.output.manifest),  # rules/revisions.smk
        universe_snapshot=lambda wc: universe_snapshot(wc),  # [] unless universe_filter (rules/reference.smk)
    output:
        bronze=f"{ROOT}/bronze/stocks_daily/{MONTH}/data.parquet",
        quarantine=f"{ROOT}/quarantine/stocks_daily/{MONTH}/data.parquet",
        report=f"{ROOT}/reports/validation/stocks_daily/{MONTH}.json",
    params:
        sessions=month_sessions,
        universe=config["universe"],
        **UNIVERSE_FILTER_PARAMS,
    log:
        f"{ROOT}/logs/bronze_stocks_daily/{MONTH}.log",
    benchmark:
        f"{ROOT}/benchmarks/bronze_stocks_daily/{MONTH}.tsv"
    script:
        "../workflow_scripts/bronze_stocks_daily.py"


TARGETS["stocks_daily"] = per_month(rules.bronze_stocks_daily.output.bronze)
