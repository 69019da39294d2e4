# fundamentals: per-YEAR landing and bronze jobs for financials, short_interest and short_volume, and a
# per-month point-in-time silver join onto the daily bars (quantmini/datatypes/fundamentals).


rule landing_fundamentals:
    input:
        plan=session_plans,
    output:
        manifest=LAKE.landing_year_manifest("fundamentals", Y),
    params:
        windows=lambda wc: fund_windows(int(wc.year)),
    resources:
        api=1,
    log:
        log_of("landing_fundamentals", YEAR),
    benchmark:
        benchmark_of("landing_fundamentals", YEAR)
    conda:
        "../envs/quantmini.yaml"
    script:
        "../workflow_scripts/landing_fundamentals.py"


for _year in FUND_YEARS:

    rule:
        name:
            f"bronze_fundamentals_{_year}"
        input:
            manifest=LAKE.landing_year_manifest("fundamentals", _year),
            universe=setting("universe", config["universe"]),
        output:
            bronze=kept(fund_files("bronze", _year)),
            quarantine=kept(fund_files("quarantine", _year)),
            report=kept(fund_files("report", _year)),
        params:
            year=_year,
            windows=fund_windows(_year),
            universe=config["universe"],
        log:
            log_of("bronze_fundamentals", f"year={_year:04d}"),
        benchmark:
            benchmark_of("bronze_fundamentals", f"year={_year:04d}")
        conda:
            "../envs/quantmini.yaml"
        script:
            "../workflow_scripts/bronze_fundamentals.py"


rule silver_fundamentals:
    input:
        bars=lambda wc: revision_wait([(wc.year, wc.month)])  # rules/revisions.smk
        or LAKE.bronze("stocks_daily", wc.year, wc.month),
        financials=fund_inputs("financials", FILINGS_LOOKBACK_MONTHS),
        short_interest=fund_inputs("short_interest", SHORT_INTEREST_LOOKBACK_MONTHS),
        short_volume=fund_inputs("short_volume", 0),
        splits=fund_inputs("splits", FILINGS_LOOKBACK_MONTHS),
        split_quarantine=fund_inputs("corporate_actions", FILINGS_LOOKBACK_MONTHS),
        changes=fund_inputs("ticker_changes", FILINGS_LOOKBACK_MONTHS),
        # the stamps of the months it reads splits and renames of (rules/revisions.smk)
        revised=revision_inputs(("splits", "ticker_changes"), lambda wc: window(wc, FILINGS_LOOKBACK_MONTHS)),
        chain=chain_waits,  # its split quarantine comes from silver_corporate_actions
    output:
        silver=LAKE.silver("fundamentals_daily", Y, M),
    params:
        sessions=fund_sessions,
    log:
        log_of("silver_fundamentals", MONTH),
    benchmark:
        benchmark_of("silver_fundamentals", MONTH)
    conda:
        "../envs/quantmini.yaml"
    script:
        "../workflow_scripts/silver_fundamentals.py"


TARGETS["fundamentals"] = [f for y in FUND_YEARS for f in fund_files("bronze", y)]
SILVER_TARGETS["fundamentals"] = per_month(rules.silver_fundamentals.output.silver)
