# stocks_minute and options_minute: minute bars per session (quantmini/minute.py explains the layout).
# One landing job and one bronze job per type and MONTH (a job costs ~2.5 s of start-up; a session of a
# few tickers is a few hundred KB): landing files are per (ticker, session) and immutable, bronze
# partitions per session (bronze/<type>/year=YYYY/month=MM/date=YYYY-MM-DD/data.parquet, the month
# directory being the job's output). params.sessions makes only the current month rerun when `end`
# moves on, and its landing job downloads only the new session. `minute.months` limits both types to
# the last N months of the range.

MINUTE = config["minute"]
MINUTE_MONTHS = month_keys()[-MINUTE["months"]:] if MINUTE["months"] else month_keys()


def minute_months(pattern):
    return [pattern.format(year=y, month=m) for y, m in MINUTE_MONTHS]


for _dtype in ("stocks_minute", "options_minute"):

    rule:
        name:
            f"bronze_{_dtype}"
        input:
            manifest=f"{ROOT}/landing/{_dtype}/{MONTH}/_manifest.json",
        output:
            bronze=directory(f"{ROOT}/bronze/{_dtype}/{MONTH}"),
            quarantine=f"{ROOT}/quarantine/{_dtype}/{MONTH}/data.parquet",
            report=f"{ROOT}/reports/validation/{_dtype}/{MONTH}.json",
        params:
            sessions=month_sessions,
            extended_hours=MINUTE["extended_hours"],
            dtype=_dtype,
        log:
            f"{ROOT}/logs/bronze_{_dtype}/{MONTH}.log",
        benchmark:
            f"{ROOT}/benchmarks/bronze_{_dtype}/{MONTH}.tsv"
        script:
            "../workflow_scripts/bronze_minute.py"

    TARGETS[_dtype] = minute_months(f"{ROOT}/bronze/{_dtype}/{MONTH}")


rule landing_stocks_minute:
    input:
        daily=lambda wc: revision_wait([(wc.year, wc.month)])  # rules/revisions.smk
        or f"{ROOT}/bronze/stocks_daily/year={wc.year}/month={wc.month}/data.parquet",
    output:
        manifest=f"{ROOT}/landing/stocks_minute/{MONTH}/_manifest.json",
    params:
        sessions=month_sessions,
        stocks=MINUTE["stocks"],
        dtype="stocks_minute",
    resources:
        api=1,
    log:
        f"{ROOT}/logs/landing_stocks_minute/{MONTH}.log",
    benchmark:
        f"{ROOT}/benchmarks/landing_stocks_minute/{MONTH}.tsv"
    script:
        "../workflow_scripts/landing_minute.py"


rule gold_qlib_minute:
    input:
        bronze=minute_months(f"{ROOT}/bronze/stocks_minute/{MONTH}"),
    output:
        stamp=f"{ROOT}/gold/qlib/.published_1min.json",
    params:
        provider_dir=f"{ROOT}/gold/qlib",
        sessions=[d.isoformat() for ym in MINUTE_MONTHS for d in PARTITIONS[(int(ym[0]), int(ym[1]))].sessions],
    log:
        f"{ROOT}/logs/gold_qlib_minute.log",
    benchmark:
        f"{ROOT}/benchmarks/gold_qlib_minute.tsv"
    script:
        "../workflow_scripts/gold_minute.py"


GOLD_TARGETS["stocks_minute"] = [rules.gold_qlib_minute.output.stamp] if MINUTE["gold"] else []


def minute_options_inputs(wildcards):
    """The month's bronze stocks_daily and options_daily; a closed month's options_daily is `ancient`
    (the yearly options job rewrites closed months with the same content, see rules/options.smk)."""
    y, m = int(wildcards.year), int(wildcards.month)
    revision_wait([(y, m)])  # rules/revisions.smk
    keep = (lambda p: p) if (y, m) == max(PARTITIONS) else ancient
    return {
        "daily": f"{ROOT}/bronze/stocks_daily/year={y:04d}/month={m:02d}/data.parquet",
        "options": keep(f"{ROOT}/bronze/options_daily/year={y:04d}/month={m:02d}/data.parquet"),
    }


rule landing_options_minute:
    input:
        unpack(minute_options_inputs),
    output:
        manifest=f"{ROOT}/landing/options_minute/{MONTH}/_manifest.json",
    params:
        sessions=month_sessions,
        per_stock=MINUTE["options_per_stock"],
        dtype="options_minute",
    resources:
        api=1,
    log:
        f"{ROOT}/logs/landing_options_minute/{MONTH}.log",
    benchmark:
        f"{ROOT}/benchmarks/landing_options_minute/{MONTH}.tsv"
    script:
        "../workflow_scripts/landing_minute.py"
