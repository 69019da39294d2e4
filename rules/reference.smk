# ticker_details: per-YEAR landing and bronze jobs writing monthly snapshots, which the universe filter of
# bronze stocks_daily reads (quantmini/datatypes/ticker_details).


rule landing_ticker_details:
    input:
        stocks=lambda wc: revision_wait(td_months(int(wc.year)))  # rules/revisions.smk
        or [LAKE.landing_manifest("stocks_daily", y, m) for y, m in td_months(int(wc.year))],
        plan=session_plans,
        universe=setting("universe", config["universe"]),
    output:
        manifest=LAKE.landing_year_manifest("ticker_details", Y),
    params:
        months=lambda wc: td_params(int(wc.year)),
        universe=config["universe"],
    resources:
        api=1,
    log:
        log_of("landing_ticker_details", YEAR),
    benchmark:
        benchmark_of("landing_ticker_details", YEAR)
    conda:
        "../envs/quantmini.yaml"
    script:
        "../workflow_scripts/landing_ticker_details.py"


for _year in sorted({y for y, _ in PARTITIONS}):

    rule:
        name:
            f"bronze_ticker_details_{_year}"
        input:
            manifest=LAKE.landing_year_manifest("ticker_details", _year),
        output:
            bronze=kept([td_file("bronze", y, m) for y, m in td_months(_year)]),
            quarantine=kept([td_file("quarantine", y, m) for y, m in td_months(_year)]),
            report=kept([td_file("report", y, m) for y, m in td_months(_year)]),
        params:
            year=_year,
            months=td_params(_year),
        log:
            log_of("bronze_ticker_details", f"year={_year:04d}"),
        benchmark:
            benchmark_of("bronze_ticker_details", f"year={_year:04d}")
        conda:
            "../envs/quantmini.yaml"
        script:
            "../workflow_scripts/bronze_ticker_details.py"


TARGETS["ticker_details"] = [td_file("bronze", y, m) for y, m in sorted(PARTITIONS)]
