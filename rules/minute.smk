# stocks_minute and options_minute: per-MONTH landing and bronze jobs, bronze partitions per session,
# limited to the last `minute.months` months (quantmini/datatypes/minute).


for _dtype in ("stocks_minute", "options_minute"):

    rule:
        name:
            f"bronze_{_dtype}"
        input:
            manifest=LAKE.landing_manifest(_dtype, Y, M),
            extended_hours=setting("minute_extended_hours", MINUTE["extended_hours"]),
            revised=revision_inputs((_dtype,), lambda wc: [(wc.year, wc.month)]),  # rules/revisions.smk
        output:
            bronze=directory(bronze_of(_dtype, Y, M)[0]),
            quarantine=quarantine_of(_dtype, Y, M)[0],
            report=report_of(_dtype, Y, M)[0],
        params:
            sessions=month_sessions,
            extended_hours=MINUTE["extended_hours"],
            dtype=_dtype,
        log:
            log_of(f"bronze_{_dtype}", MONTH),
        benchmark:
            benchmark_of(f"bronze_{_dtype}", MONTH)
        conda:
            "../envs/quantmini.yaml"
        script:
            "../workflow_scripts/bronze_minute.py"

    TARGETS[_dtype] = minute_months(bronze_of(_dtype, Y, M)[0])


rule landing_stocks_minute:
    input:
        daily=lambda wc: revision_wait([(wc.year, wc.month)])  # rules/revisions.smk
        or LAKE.bronze("stocks_daily", wc.year, wc.month),
        plan=session_plans,
        stocks=setting("minute_stocks", MINUTE["stocks"]),
    output:
        manifest=LAKE.landing_manifest("stocks_minute", Y, M),
    params:
        sessions=month_sessions,
        stocks=MINUTE["stocks"],
        dtype="stocks_minute",
    resources:
        api=1,
    log:
        log_of("landing_stocks_minute", MONTH),
    benchmark:
        benchmark_of("landing_stocks_minute", MONTH)
    conda:
        "../envs/quantmini.yaml"
    script:
        "../workflow_scripts/landing_minute.py"


rule gold_qlib_minute:
    input:
        bronze=minute_months(bronze_of("stocks_minute", Y, M)[0]),
        revised=revision_inputs(("stocks_minute",), MINUTE_MONTHS),  # rules/revisions.smk
    output:
        stamp=LAKE.gold_stamp("1min"),
    params:
        provider_dir=lambda wc, output: str(Path(output.stamp).parent),
        sessions=[d.isoformat() for ym in MINUTE_MONTHS for d in PARTITIONS[(int(ym[0]), int(ym[1]))].sessions],
    log:
        log_of("gold_qlib_minute"),
    benchmark:
        benchmark_of("gold_qlib_minute")
    conda:
        "../envs/quantmini.yaml"
    script:
        "../workflow_scripts/gold_minute.py"


GOLD_TARGETS["stocks_minute"] = [rules.gold_qlib_minute.output.stamp] if MINUTE["gold"] else []


rule landing_options_minute:
    input:
        unpack(minute_options_inputs),
        plan=session_plans,
        per_stock=setting("minute_options_per_stock", MINUTE["options_per_stock"]),
        revised=revision_inputs(("options_daily",), lambda wc: [(wc.year, wc.month)]),  # rules/revisions.smk
    output:
        manifest=LAKE.landing_manifest("options_minute", Y, M),
    params:
        sessions=month_sessions,
        per_stock=MINUTE["options_per_stock"],
        dtype="options_minute",
    resources:
        api=1,
    log:
        log_of("landing_options_minute", MONTH),
    benchmark:
        benchmark_of("landing_options_minute", MONTH)
    conda:
        "../envs/quantmini.yaml"
    script:
        "../workflow_scripts/landing_minute.py"
