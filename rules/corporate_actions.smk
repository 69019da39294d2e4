# Corporate actions (splits, dividends) and reference data (tickers, ticker_changes): one landing job
# (a gzip file of every page's raw body) and one bronze job per month and type, like stocks_daily.
# params.sessions makes the current month stale when `end` moves on; closed months never change.
# What a month holds (its window) is explained in workflow_scripts/quantmini/corporate_actions.py.
import datetime as _dt

from quantmini.corporate_actions import month_window


def ca_window(wildcards):
    """The month's window: a function of its sessions only (computed here, where the calendar is loaded)."""
    year, month = int(wildcards.year), int(wildcards.month)
    sessions = [_dt.date.fromisoformat(d) for d in month_sessions(wildcards)]
    return month_window(year, month, sessions).to_params()


def ca_landing(dtype):
    return f"{ROOT}/landing/{dtype}/{MONTH}/_manifest.json"


def ca_bronze_outputs(dtype):
    return {
        "bronze": f"{ROOT}/bronze/{dtype}/{MONTH}/data.parquet",
        "quarantine": f"{ROOT}/quarantine/{dtype}/{MONTH}/data.parquet",
        "report": f"{ROOT}/reports/validation/{dtype}/{MONTH}.json",
    }


def previous_month_tickers(wildcards):
    """The tickers snapshot of the month before (none for the range's first month)."""
    keys = month_keys()
    i = keys.index((wildcards.year, wildcards.month))
    if i == 0:
        return []
    y, m = keys[i - 1]
    return [rules.bronze_tickers.output.bronze.format(year=y, month=m)]


rule landing_splits:
    output:
        manifest=ca_landing("splits"),
    params:
        sessions=month_sessions,
        window=ca_window,
        dtype="splits",
    resources:
        api=1,
    log:
        f"{ROOT}/logs/landing_splits/{MONTH}.log",
    benchmark:
        f"{ROOT}/benchmarks/landing_splits/{MONTH}.tsv"
    script:
        "../workflow_scripts/landing_corporate_actions.py"


rule bronze_splits:
    input:
        manifest=rules.landing_splits.output.manifest,
    output:
        **ca_bronze_outputs("splits"),
    params:
        sessions=month_sessions,
        window=ca_window,
        universe=config["universe"],
        dtype="splits",
    log:
        f"{ROOT}/logs/bronze_splits/{MONTH}.log",
    benchmark:
        f"{ROOT}/benchmarks/bronze_splits/{MONTH}.tsv"
    script:
        "../workflow_scripts/bronze_corporate_actions.py"


rule landing_dividends:
    output:
        manifest=ca_landing("dividends"),
    params:
        sessions=month_sessions,
        window=ca_window,
        dtype="dividends",
    resources:
        api=1,
    log:
        f"{ROOT}/logs/landing_dividends/{MONTH}.log",
    benchmark:
        f"{ROOT}/benchmarks/landing_dividends/{MONTH}.tsv"
    script:
        "../workflow_scripts/landing_corporate_actions.py"


rule bronze_dividends:
    input:
        manifest=rules.landing_dividends.output.manifest,
    output:
        **ca_bronze_outputs("dividends"),
    params:
        sessions=month_sessions,
        window=ca_window,
        universe=config["universe"],
        dtype="dividends",
    log:
        f"{ROOT}/logs/bronze_dividends/{MONTH}.log",
    benchmark:
        f"{ROOT}/benchmarks/bronze_dividends/{MONTH}.tsv"
    script:
        "../workflow_scripts/bronze_corporate_actions.py"


rule landing_tickers:
    output:
        manifest=ca_landing("tickers"),
    params:
        sessions=month_sessions,
        window=ca_window,
        dtype="tickers",
    resources:
        api=1,
    log:
        f"{ROOT}/logs/landing_tickers/{MONTH}.log",
    benchmark:
        f"{ROOT}/benchmarks/landing_tickers/{MONTH}.tsv"
    script:
        "../workflow_scripts/landing_corporate_actions.py"


rule bronze_tickers:
    input:
        manifest=rules.landing_tickers.output.manifest,
    output:
        **ca_bronze_outputs("tickers"),
    params:
        sessions=month_sessions,
        window=ca_window,
        universe=config["universe"],
        dtype="tickers",
    log:
        f"{ROOT}/logs/bronze_tickers/{MONTH}.log",
    benchmark:
        f"{ROOT}/benchmarks/bronze_tickers/{MONTH}.tsv"
    script:
        "../workflow_scripts/bronze_corporate_actions.py"


rule landing_ticker_changes:
    input:
        snapshot=rules.bronze_tickers.output.bronze,
        previous=previous_month_tickers,
    output:
        manifest=ca_landing("ticker_changes"),
    params:
        sessions=month_sessions,
        window=ca_window,
        dtype="ticker_changes",
    resources:
        api=1,
    log:
        f"{ROOT}/logs/landing_ticker_changes/{MONTH}.log",
    benchmark:
        f"{ROOT}/benchmarks/landing_ticker_changes/{MONTH}.tsv"
    script:
        "../workflow_scripts/landing_corporate_actions.py"


rule bronze_ticker_changes:
    input:
        manifest=rules.landing_ticker_changes.output.manifest,
    output:
        **ca_bronze_outputs("ticker_changes"),
    params:
        sessions=month_sessions,
        window=ca_window,
        universe=config["universe"],
        dtype="ticker_changes",
    log:
        f"{ROOT}/logs/bronze_ticker_changes/{MONTH}.log",
    benchmark:
        f"{ROOT}/benchmarks/bronze_ticker_changes/{MONTH}.tsv"
    script:
        "../workflow_scripts/bronze_corporate_actions.py"


TARGETS["splits"] = per_month(rules.bronze_splits.output.bronze)
TARGETS["dividends"] = per_month(rules.bronze_dividends.output.bronze)
TARGETS["tickers"] = per_month(rules.bronze_tickers.output.bronze)
TARGETS["ticker_changes"] = per_month(rules.bronze_ticker_changes.output.bronze)
