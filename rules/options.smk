# options_daily: contracts as of each month, daily bars per contract (landing and bronze: one job per
# YEAR writing month partitions, like corporate actions), silver IV and greeks (one job per month).
# What is requested and why, and the landing layout: workflow_scripts/quantmini/options_daily.py.
# params.months (the year's sessions in range, by month) makes the current year stale when `end` moves
# on; closed years never change. The bronze job of the current year rewrites its closed months with the
# same content (immutable landing), so silver reads closed months' bronze as `ancient`.
from quantmini.silver import lookback_months as _opt_lookback

OPT_YEARS = sorted({y for y, _ in PARTITIONS})
OPT_UNDERLYINGS = config.get("options", {}).get("underlyings", [])
OPT_DIV_MONTHS = 12  # trailing dividends for the yield: the 12 months before the month, and the month


def opt_months(year):
    """{'YYYY-MM': [sessions]} of the year's months in range."""
    return {f"{y:04d}-{m:02d}": [d.isoformat() for d in PARTITIONS[(y, m)].sessions]
            for (y, m) in sorted(PARTITIONS) if y == year}


def opt_files(pattern, year):
    return [pattern.format(year=f"{y:04d}", month=f"{m:02d}") for (y, m) in sorted(PARTITIONS) if y == year]


OPT_OUT = {
    "bronze": f"{ROOT}/bronze/options_daily/{MONTH}/data.parquet",
    "quarantine": f"{ROOT}/quarantine/options_daily/{MONTH}/data.parquet",
    "report": f"{ROOT}/reports/validation/options_daily/{MONTH}.json",
    "contracts": f"{ROOT}/bronze/options_contracts/{MONTH}/data.parquet",
    "contracts_quarantine": f"{ROOT}/quarantine/options_contracts/{MONTH}/data.parquet",
    "contracts_report": f"{ROOT}/reports/validation/options_contracts/{MONTH}.json",
}


rule landing_options_daily:
    output:
        manifest=f"{ROOT}/landing/options_daily/year={{year}}/_manifest.json",
    params:
        months=lambda wc: opt_months(int(wc.year)),
        underlyings=OPT_UNDERLYINGS,
    resources:
        api=1,
    log:
        f"{ROOT}/logs/landing_options_daily/year={{year}}.log",
    benchmark:
        f"{ROOT}/benchmarks/landing_options_daily/year={{year}}.tsv"
    script:
        "../workflow_scripts/landing_options_daily.py"


for _year in OPT_YEARS:

    rule:
        name:
            f"bronze_options_daily_{_year}"
        input:
            manifest=f"{ROOT}/landing/options_daily/year={_year:04d}/_manifest.json",
        output:
            **{k: opt_files(p, _year) for k, p in OPT_OUT.items()},
        params:
            year=_year,
            months=opt_months(_year),
        log:
            f"{ROOT}/logs/bronze_options_daily/year={_year:04d}.log",
        benchmark:
            f"{ROOT}/benchmarks/bronze_options_daily/year={_year:04d}.tsv"
        script:
            "../workflow_scripts/bronze_options_daily.py"


def opt_silver_inputs(wildcards):
    """This month's options and stocks bronze, and the dividends of the trailing window (closed months
    `ancient`: see the header)."""
    y, m = int(wildcards.year), int(wildcards.month)
    current = (y, m) == max(PARTITIONS)
    keep = (lambda p: p) if current else ancient
    months = [ym for ym in _opt_lookback(y, m, OPT_DIV_MONTHS) if ym in PARTITIONS] + [(y, m)]
    div = [f"{ROOT}/bronze/dividends/year={a:04d}/month={b:02d}/data.parquet" for a, b in months]
    return {
        "options": keep(f"{ROOT}/bronze/options_daily/year={y:04d}/month={m:02d}/data.parquet"),
        "stocks": f"{ROOT}/bronze/stocks_daily/year={y:04d}/month={m:02d}/data.parquet",
        "dividends": [ancient(p) for p in div[:-1]] + [keep(div[-1])] if enabled("dividends") else [],
    }


rule silver_options_daily:
    input:
        unpack(opt_silver_inputs),
    output:
        silver=f"{ROOT}/silver/options_daily/{MONTH}/data.parquet",
    params:
        rate=config.get("options", {}).get("rate", 0.04),
    log:
        f"{ROOT}/logs/silver_options_daily/{MONTH}.log",
    benchmark:
        f"{ROOT}/benchmarks/silver_options_daily/{MONTH}.tsv"
    script:
        "../workflow_scripts/silver_options_daily.py"


TARGETS["options_daily"] = per_month(OPT_OUT["bronze"]) + per_month(OPT_OUT["contracts"])
SILVER_TARGETS["options_daily"] = per_month(rules.silver_options_daily.output.silver)
