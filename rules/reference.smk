# ticker_details: one snapshot per month (market cap, SIC, shares, type), as of each traded ticker's last
# session of the month in range, for the universe filter. Per-YEAR landing and bronze jobs (a job costs
# a Python start-up) writing month partitions, as corporate actions do; what a snapshot holds and why
# landing stays immutable: workflow_scripts/quantmini/ticker_details.py.
#
# The ticker list of a month comes from its landed grouped-daily bodies (landing_stocks_daily), so the
# universe filter can apply in bronze stocks_daily without a cycle: with `universe_filter.types` set,
# bronze_stocks_daily of month M reads M's snapshot. Closed months' snapshots are `ancient` there: the
# yearly job rewrites them unchanged (their landing is immutable), which must not rebuild closed months.


def td_months(year):
    return [(y, m) for (y, m) in sorted(PARTITIONS) if y == year]


def td_file(kind, y, m):
    return {
        "bronze": f"{ROOT}/bronze/ticker_details/year={y:04d}/month={m:02d}/data.parquet",
        "quarantine": f"{ROOT}/quarantine/ticker_details/year={y:04d}/month={m:02d}/data.parquet",
        "report": f"{ROOT}/reports/validation/ticker_details/year={y:04d}/month={m:02d}.json",
    }[kind]


def td_params(year):
    return [{"year": y, "month": m, "sessions": [d.isoformat() for d in PARTITIONS[(y, m)].sessions]}
            for y, m in td_months(year)]


def universe_snapshot(wildcards):
    """bronze_stocks_daily's input when the universe filter is on: the month's ticker_details snapshot."""
    if not config.get("universe_filter"):
        return []
    ym = (int(wildcards.year), int(wildcards.month))
    path = td_file("bronze", *ym)
    return [path] if ym == max(PARTITIONS) else [ancient(path)]


rule landing_ticker_details:
    input:
        stocks=lambda wc: revision_wait(td_months(int(wc.year)))  # rules/revisions.smk
        or [f"{ROOT}/landing/stocks_daily/year={y:04d}/month={m:02d}/_manifest.json"
            for y, m in td_months(int(wc.year))],
    output:
        manifest=f"{ROOT}/landing/ticker_details/year={{year}}/_manifest.json",
    params:
        months=lambda wc: td_params(int(wc.year)),
        universe=config["universe"],
    resources:
        api=1,
    log:
        f"{ROOT}/logs/landing_ticker_details/year={{year}}.log",
    benchmark:
        f"{ROOT}/benchmarks/landing_ticker_details/year={{year}}.tsv"
    script:
        "../workflow_scripts/landing_ticker_details.py"


for _year in sorted({y for y, _ in PARTITIONS}):

    rule:
        name:
            f"bronze_ticker_details_{_year}"
        input:
            manifest=f"{ROOT}/landing/ticker_details/year={_year:04d}/_manifest.json",
        output:
            bronze=[td_file("bronze", y, m) for y, m in td_months(_year)],
            quarantine=[td_file("quarantine", y, m) for y, m in td_months(_year)],
            report=[td_file("report", y, m) for y, m in td_months(_year)],
        params:
            year=_year,
            months=td_params(_year),
        log:
            f"{ROOT}/logs/bronze_ticker_details/year={_year:04d}.log",
        benchmark:
            f"{ROOT}/benchmarks/bronze_ticker_details/year={_year:04d}.tsv"
        script:
            "../workflow_scripts/bronze_ticker_details.py"


TARGETS["ticker_details"] = per_month(f"{ROOT}/bronze/ticker_details/{MONTH}/data.parquet")
