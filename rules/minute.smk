# stocks_minute and options_minute: per-MONTH landing and bronze jobs, bronze partitions per session,
# limited to the last `minute.months` months (quantmini/datatypes/minute).

MINUTE = config["minute"]
MINUTE_MONTHS = [(f"{y:04d}", f"{m:02d}") for y, m in qm_catalog.data_type("stocks_minute").months(sorted(PARTITIONS), config)]


def minute_months(pattern):
    return [pattern.format(year=y, month=m) for y, m in MINUTE_MONTHS]


for _dtype in ("stocks_minute", "options_minute"):

    rule:
        name:
            f"bronze_{_dtype}"
        input:
            manifest=LAKE.landing_manifest(_dtype, Y, M),
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
        script:
            "../workflow_scripts/bronze_minute.py"

    TARGETS[_dtype] = minute_months(bronze_of(_dtype, Y, M)[0])


rule landing_stocks_minute:
    input:
        daily=LAKE.bronze("stocks_daily", Y, M),
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
    script:
        "../workflow_scripts/landing_minute.py"


rule gold_qlib_minute:
    input:
        bronze=minute_months(bronze_of("stocks_minute", Y, M)[0]),
    output:
        stamp=LAKE.gold_stamp("1min"),
    params:
        provider_dir=LAKE.gold_dir(),
        sessions=[d.isoformat() for ym in MINUTE_MONTHS for d in PARTITIONS[(int(ym[0]), int(ym[1]))].sessions],
    log:
        log_of("gold_qlib_minute"),
    benchmark:
        benchmark_of("gold_qlib_minute")
    script:
        "../workflow_scripts/gold_minute.py"


GOLD_TARGETS["stocks_minute"] = [rules.gold_qlib_minute.output.stamp] if MINUTE["gold"] else []


def minute_options_inputs(wildcards):
    """The month's bronze stocks_daily and options_daily; a closed month's options_daily is `ancient`
    (the yearly options job rewrites closed months with the same content, see rules/options.smk)."""
    y, m = int(wildcards.year), int(wildcards.month)
    keep = (lambda p: p) if (y, m) == max(PARTITIONS) else ancient
    return {
        "daily": LAKE.bronze("stocks_daily", y, m),
        "options": keep(LAKE.bronze("options_daily", y, m)),
    }


rule landing_options_minute:
    input:
        unpack(minute_options_inputs),
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
    script:
        "../workflow_scripts/landing_minute.py"
