# options_daily: per-YEAR landing; bronze and silver (IV, greeks) per year for closed months and one job
# for the open month, the only options jobs a daily update runs (quantmini/datatypes/options).


rule landing_options_daily:
    input:
        plan=session_plans,
        underlyings=setting("options_underlyings", OPT_UNDERLYINGS),
    output:
        manifest=kept(LAKE.landing_year_manifest("options_daily", Y)),  # read as ancient (rules/common.smk)
    params:
        months=lambda wc: opt_months(int(wc.year)),
        underlyings=OPT_UNDERLYINGS,
    resources:
        api=1,
    log:
        log_of("landing_options_daily", YEAR),
    benchmark:
        benchmark_of("landing_options_daily", YEAR)
    conda:
        "../envs/quantmini.yaml"
    script:
        "../workflow_scripts/landing_options_daily.py"


for _name, _months, _manifest in (
    [(f"{y:04d}", opt_closed(y), ancient(opt_landing((y, 1)))) for y in OPT_CLOSED_YEARS]
    + [("open", [OPT_OPEN], opt_landing(OPT_OPEN))]
):

    rule:
        name:
            f"bronze_options_daily_{_name}"
        input:
            manifest=_manifest,
            # the closed months' set (the open job's manifest input is not ancient: it needs none)
            months=[range_stamp(f"options_daily_{_name}", opt_sessions(_months))] if _name != "open" else [],
            revised=revision_inputs(("options_daily",), _months),  # rules/revisions.smk
        output:
            **{k: kept([opt_path(p, ym) for ym in _months]) for k, p in OPT_OUT.items()},
        params:
            months=opt_sessions(_months),
        log:
            log_of("bronze_options_daily", _name),
        benchmark:
            benchmark_of("bronze_options_daily", _name)
        conda:
            "../envs/quantmini.yaml"
        script:
            "../workflow_scripts/bronze_options_daily.py"

    rule:
        name:
            f"silver_options_daily_{_name}"
        input:
            **opt_silver_inputs(_months, _name == "open"),
            rate=setting("options_rate", OPT_RATE),
            # the dividends and renames of every month up to the job's last (rules/revisions.smk)
            revised=revision_inputs(("options_daily", "stocks_daily", "dividends", "ticker_changes"),
                                    [ym for ym in sorted(PARTITIONS) if ym <= max(_months)]),
        output:
            silver=[opt_silver_month(ym)["silver"] for ym in _months],
        params:
            months=[opt_silver_month(ym) for ym in _months],
            rate=OPT_RATE,
        log:
            log_of("silver_options_daily", _name),
        benchmark:
            benchmark_of("silver_options_daily", _name)
        conda:
            "../envs/quantmini.yaml"
        script:
            "../workflow_scripts/silver_options_daily.py"


TARGETS["options_daily"] = per_month(OPT_OUT["bronze"]) + per_month(OPT_OUT["contracts"])
SILVER_TARGETS["options_daily"] = per_month(LAKE.silver("options_daily", Y, M))

