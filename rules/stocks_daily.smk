# stocks_daily: one grouped-daily request per XNYS session -> landing (raw gzip JSON) -> bronze month.


# a missing plan file (a new lake, a new month); existing ones are kept current at DAG build (plan.py)
rule session_plan:
    output:
        plan=LAKE.session_plan(Y, M),
    params:
        sessions=month_sessions,
    log:
        log_of("session_plan", MONTH),
    conda:
        "../envs/quantmini.yaml"
    script:
        "../workflow_scripts/session_plan.py"


rule landing_stocks_daily:
    input:
        plan=session_plans,  # the month's sessions, in the lake (quantmini/session_plans.py)
    output:
        **landing_output(LAKE.landing_manifest("stocks_daily", Y, M), LAKE.landing_dir("stocks_daily", Y, M)),
    params:
        sessions=month_sessions,
    resources:
        api=1,
    log:
        log_of("landing_stocks_daily", MONTH),
    benchmark:
        benchmark_of("landing_stocks_daily", MONTH)
    conda:
        "../envs/quantmini.yaml"
    script:
        "../workflow_scripts/landing_stocks_daily.py"


# universe_filter (README): the types to keep reach the job as a param only when the filter is on, so
# lakes built without it keep their params (and do not rebuild).
rule bronze_stocks_daily:
    input:
        **{("landing" if STORAGE else "manifest"):  # the folder on object storage (rules/common.smk)
           lambda wc: revision_gate(wc, landing_input(rules.landing_stocks_daily))},  # rules/revisions.smk
        universe_snapshot=lambda wc: universe_snapshot(wc),  # [] unless universe_filter (rules/common.smk)
        universe=setting("universe", config["universe"]),  # the settings, in the lake (rules/common.smk)
        universe_filter=setting("universe_filter", config.get("universe_filter")),
    output:
        bronze=LAKE.bronze("stocks_daily", Y, M),
        quarantine=LAKE.quarantine("stocks_daily", Y, M),
        report=LAKE.validation_report("stocks_daily", Y, M),
    params:
        sessions=month_sessions,
        universe=config["universe"],
        **UNIVERSE_FILTER_PARAMS,
    log:
        log_of("bronze_stocks_daily", MONTH),
    benchmark:
        benchmark_of("bronze_stocks_daily", MONTH)
    conda:
        "../envs/quantmini.yaml"
    script:
        "../workflow_scripts/bronze_stocks_daily.py"


TARGETS["stocks_daily"] = per_month(rules.bronze_stocks_daily.output.bronze)
