# silver: per month, point-in-time adjusted stocks_daily with Alpha158, and the month's validated
# corporate actions (event multipliers, quarantine, report). A month depends on its own and the
# LOOKBACK_MONTHS earlier months only,
# so closed months never rebuild when later data arrives.
from quantmini.silver import LOOKBACK_MONTHS, lookback_months


def bronze_file(dtype, y, m):
    return f"{ROOT}/bronze/{dtype}/year={y:04d}/month={m:02d}/data.parquet"


def window(wildcards, before):
    """(year, month) of this month and the `before` months preceding it that are in range."""
    year, month = int(wildcards.year), int(wildcards.month)
    return [ym for ym in lookback_months(year, month, before) if ym in PARTITIONS] + [(year, month)]


def window_files(dtype, before, closed_months_ancient=False):
    """Input function: the bronze files of this month's window for `dtype`.

    Corporate actions are landed and built per year, so their job reruns for every new session of the
    year; marking every closed month `ancient` (all but the range's last month) keeps that from
    rebuilding every silver month of the year. Closed months' landing windows are immutable, so their
    bronze cannot change but by a deliberate rebuild (then force silver with -R silver_stocks_daily).
    """

    def files(wildcards):
        if not enabled(dtype):
            return []
        months = window(wildcards, before)
        if dtype == "stocks_daily":
            revision_wait(months)  # rules/revisions.smk
        paths = [bronze_file(dtype, y, m) for y, m in months]
        if closed_months_ancient:
            current = (int(wildcards.year), int(wildcards.month)) == max(PARTITIONS)
            paths = [ancient(p) for p in paths[:-1]] + (paths[-1:] if current else [ancient(paths[-1])])
        return paths

    return files


def bronze_months(dtype):
    return per_month(f"{ROOT}/bronze/{dtype}/{MONTH}/data.parquet") if enabled(dtype) else []


rule silver_stocks_daily:
    input:
        bronze=window_files("stocks_daily", LOOKBACK_MONTHS + 1),
        splits=window_files("splits", LOOKBACK_MONTHS, closed_months_ancient=True),
        dividends=window_files("dividends", LOOKBACK_MONTHS, closed_months_ancient=True),
        changes=window_files("ticker_changes", LOOKBACK_MONTHS, closed_months_ancient=True),
    output:
        silver=f"{ROOT}/silver/stocks_daily/{MONTH}/data.parquet",
        events=f"{ROOT}/silver/corporate_actions/{MONTH}/events.parquet",
        quarantine=f"{ROOT}/quarantine/corporate_actions/{MONTH}/data.parquet",
        report=f"{ROOT}/reports/validation/corporate_actions/{MONTH}.json",
    params:
        window_sessions=lambda wc: [d.isoformat() for y, m in window(wc, LOOKBACK_MONTHS + 1)
                                    for d in PARTITIONS[(y, m)].sessions],
        features=config["alpha158"],
    log:
        f"{ROOT}/logs/silver_stocks_daily/{MONTH}.log",
    benchmark:
        f"{ROOT}/benchmarks/silver_stocks_daily/{MONTH}.tsv"
    script:
        "../workflow_scripts/silver_stocks_daily.py"


SILVER_TARGETS["stocks_daily"] = per_month(rules.silver_stocks_daily.output.silver)
