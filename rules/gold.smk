# gold: the Qlib provider directory (calendars/, instruments/, features/), adjusted as of the lake's end.


rule gold_qlib:
    input:
        silver=per_month(rules.silver_stocks_daily.output.silver),
        events=per_month(rules.silver_corporate_actions.output.events),
        changes=bronze_months("ticker_changes"),
        features=setting("gold_alpha158", config["gold"]["alpha158"]),
        revised=revision_inputs(("ticker_changes",), sorted(PARTITIONS)),  # rules/revisions.smk
    output:
        stamp=local(LAKE.gold_stamp()),  # gold stays on disk, even with storage: (pyqlib reads files)
    params:
        provider_dir=lambda wc, output: str(Path(output.stamp).parent),
        state=str(LAKE.gold_state()),
        sessions=lambda wc: [d.isoformat() for k in sorted(PARTITIONS) for d in PARTITIONS[k].sessions],
        features=config["gold"]["alpha158"],
    localrule: bool(STORAGE)  # on object storage gold is written where the run is started (it stays local)
    log:
        log_of("gold_qlib"),
    benchmark:
        benchmark_of("gold_qlib")
    conda:
        "../envs/quantmini.yaml"
    script:
        "../workflow_scripts/gold_qlib.py"


GOLD_TARGETS["stocks_daily"] = [rules.gold_qlib.output.stamp]
