# splits, dividends, tickers, ticker_changes: per-YEAR landing and bronze jobs writing month partitions
# (quantmini/datatypes/corporate_actions; bronze_<type>_<YYYY> because a year's outputs are its months in range).


for _dtype in CA_TYPES:

    rule:
        name:
            f"landing_{_dtype}"
        input:
            unpack(ca_landing_inputs(_dtype)),
            plan=session_plans,
            # ticker_changes reads the tickers snapshots (rules/revisions.smk)
            revised=revision_inputs(("tickers",) if _dtype == "ticker_changes" else (),
                                    lambda wc: ca_months(int(wc.year))),
        output:
            **landing_output(LAKE.landing_year_manifest(_dtype, Y), LAKE.landing_year_dir(_dtype, Y)),
        params:
            sessions=lambda wc: ca_sessions(int(wc.year)),
            windows=lambda wc: ca_windows(int(wc.year)),
            dtype=_dtype,
        resources:
            api=1,
        log:
            log_of(f"landing_{_dtype}", YEAR),
        benchmark:
            benchmark_of(f"landing_{_dtype}", YEAR)
        conda:
            "../envs/quantmini.yaml"
        script:
            "../workflow_scripts/landing_corporate_actions.py"

    for _year in CA_YEARS:

        rule:
            name:
                f"bronze_{_dtype}_{_year}"
            input:
                **({"landing": LAKE.landing_year_dir(_dtype, _year)} if STORAGE  # rules/common.smk
                   else {"manifest": LAKE.landing_year_manifest(_dtype, _year)}),
                universe=setting("universe", config["universe"]),
                revised=revision_inputs((_dtype,), ca_months(_year)),  # rules/revisions.smk
            output:
                bronze=kept(ca_month_files("bronze", _dtype, _year)),
                quarantine=kept(ca_month_files("quarantine", _dtype, _year)),
                report=kept(ca_month_files("report", _dtype, _year)),
            params:
                year=_year,
                sessions=ca_sessions(_year),
                windows=ca_windows(_year),
                universe=config["universe"],
                dtype=_dtype,
            log:
                log_of(f"bronze_{_dtype}", f"year={_year:04d}"),
            benchmark:
                benchmark_of(f"bronze_{_dtype}", f"year={_year:04d}")
            conda:
                "../envs/quantmini.yaml"
            script:
                "../workflow_scripts/bronze_corporate_actions.py"

    TARGETS[_dtype] = [f for y, m in sorted(PARTITIONS) for f in bronze_of(_dtype, y, m)]
