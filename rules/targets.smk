# Named targets, one per layer; included last, when every type has registered its bronze targets.


def bronze_targets():
    return [f for dtype, files in TARGETS.items() if enabled(dtype) for f in files]


def silver_targets():
    return per_month(rules.silver_stocks_daily.output.silver) if enabled("stocks_daily") else []


def gold_targets():
    return [rules.gold_qlib.output.stamp] if enabled("stocks_daily") else []


rule bronze:
    input:
        bronze_targets(),


rule silver:
    input:
        silver_targets(),


rule gold:
    input:
        gold_targets(),
