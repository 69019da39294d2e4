# news: per-YEAR landing and bronze jobs (articles, article x ticker), per-month silver news_daily; closed
# months' inputs are `ancient`, so they never rebuild (quantmini/datatypes/news).


rule landing_news:
    input:
        plan=session_plans,
    output:
        manifest=LAKE.landing_year_manifest("news", Y),
    params:
        windows=lambda wc: news_windows(int(wc.year)),
        limit=config["news"]["page_limit"],
    resources:
        api=1,
    log:
        log_of("landing_news", YEAR),
    benchmark:
        benchmark_of("landing_news", YEAR)
    conda:
        "../envs/quantmini.yaml"
    script:
        "../workflow_scripts/landing_news.py"


for _year in NEWS_YEARS:

    rule:
        name:
            f"bronze_news_{_year}"
        input:
            manifest=LAKE.landing_year_manifest("news", _year),
            universe=setting("universe", config["universe"]),
        output:
            **{kind: kept([news_file(kind, y, m) for y, m in sorted(PARTITIONS) if y == _year]) for kind in _NEWS_KINDS},
        params:
            year=_year,
            windows=news_windows(_year),
            universe=config["universe"],
        log:
            log_of("bronze_news", f"year={_year:04d}"),
        benchmark:
            benchmark_of("bronze_news", f"year={_year:04d}")
        conda:
            "../envs/quantmini.yaml"
        script:
            "../workflow_scripts/bronze_news.py"


rule silver_news_daily:
    input:
        unpack(news_daily_inputs),
    output:
        silver=LAKE.silver("news_daily", Y, M),
    params:
        closes=lambda wc: news_closes((int(wc.year), int(wc.month))),
        prev_close=lambda wc: news_prev_close((int(wc.year), int(wc.month))),
    log:
        log_of("silver_news_daily", MONTH),
    benchmark:
        benchmark_of("silver_news_daily", MONTH)
    conda:
        "../envs/quantmini.yaml"
    script:
        "../workflow_scripts/silver_news_daily.py"


TARGETS["news"] = [news_file(k, y, m) for k in ("articles", "article_tickers") for y, m in sorted(PARTITIONS)]
SILVER_TARGETS["news"] = per_month(rules.silver_news_daily.output.silver)
