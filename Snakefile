# QuantMini: Polygon/Massive market data -> landing -> bronze -> silver -> gold (Qlib).
# This file only includes the rules; logic lives in workflow_scripts/quantmini (see README.md).

include: "rules/common.smk"
include: "rules/stocks_daily.smk"
include: "rules/corporate_actions.smk"
include: "rules/reference.smk"
include: "rules/options.smk"
include: "rules/minute.smk"
include: "rules/news.smk"
include: "rules/fundamentals.smk"
include: "rules/silver.smk"
include: "rules/gold.smk"
include: "rules/gold_pit.smk"
include: "rules/revisions.smk"
include: "rules/report.smk"
include: "rules/ranges.smk"
include: "rules/targets.smk"


rule all:
    input:
        bronze_targets(),
        silver_targets(),
        gold_targets(),
        rules.gaps_report.output.html,
    default_target: True
