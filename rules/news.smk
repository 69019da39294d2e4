# news: per-YEAR landing and bronze jobs (articles, article x ticker), per-month silver news_daily; closed
# months' inputs are `ancient`, so they never rebuild (quantmini/datatypes/news).
import datetime as _dt

from quantmini.datatypes.news import ingest as qm_news

NEWS_YEARS = sorted({y for y, _ in PARTITIONS})
_NEWS_FIRST = PARTITIONS[min(PARTITIONS)].sessions[0]
_NEWS_PREV = qm_news.previous_session(_NEWS_FIRST)
_NEWS_CLOSES = {}


def news_closes(ym):
    """[[session, close UTC], ...] of a month's sessions in range (computed once per month)."""
    if ym not in _NEWS_CLOSES:
        _NEWS_CLOSES[ym] = qm_news.session_closes(list(PARTITIONS[ym].sessions))
    return _NEWS_CLOSES[ym]


def news_prev_close(ym):
    """Close of the session before the month's first session in range."""
    months = sorted(PARTITIONS)
    k = months.index(ym)
    return news_closes(months[k - 1])[-1][1] if k else qm_news.session_closes([_NEWS_PREV])[0][1]


NEWS_WINDOWS = qm_news.news_windows(
    sorted(PARTITIONS),
    _dt.datetime.fromisoformat(news_prev_close(min(PARTITIONS)).replace("Z", "+00:00")),
    _dt.datetime.fromisoformat(news_closes(max(PARTITIONS))[-1][1].replace("Z", "+00:00")),
)


def news_windows(year):
    return [w.to_params() for w in NEWS_WINDOWS if w.year == year]


def news_file(kind, y, m):
    articles, article_tickers = bronze_of("news", y, m)
    q_articles, q_article_tickers = quarantine_of("news", y, m)
    return {"articles": articles, "article_tickers": article_tickers, "quarantine_articles": q_articles,
            "quarantine_article_tickers": q_article_tickers, "report": report_of("news", y, m)[0]}[kind]


def news_daily_inputs(wildcards):
    ym = (int(wildcards.year), int(wildcards.month))
    prev = (ym[0] - (ym[1] == 1), (ym[1] - 2) % 12 + 1)
    pairs = [news_file("article_tickers", *prev)] if prev in PARTITIONS else []
    this = news_file("article_tickers", *ym)
    pairs = [ancient(p) for p in pairs] + [this if ym == max(PARTITIONS) else ancient(this)]
    return {"pairs": pairs, "bars": LAKE.bronze("stocks_daily", *ym)}


rule landing_news:
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
    script:
        "../workflow_scripts/landing_news.py"


_NEWS_KINDS = ("articles", "article_tickers", "quarantine_articles", "quarantine_article_tickers", "report")

for _year in NEWS_YEARS:

    rule:
        name:
            f"bronze_news_{_year}"
        input:
            manifest=LAKE.landing_year_manifest("news", _year),
        output:
            **{kind: [news_file(kind, y, m) for y, m in sorted(PARTITIONS) if y == _year] for kind in _NEWS_KINDS},
        params:
            year=_year,
            windows=news_windows(_year),
            universe=config["universe"],
        log:
            log_of("bronze_news", f"year={_year:04d}"),
        benchmark:
            benchmark_of("bronze_news", f"year={_year:04d}")
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
    script:
        "../workflow_scripts/silver_news_daily.py"


TARGETS["news"] = [news_file(k, y, m) for k in ("articles", "article_tickers") for y, m in sorted(PARTITIONS)]
SILVER_TARGETS["news"] = per_month(rules.silver_news_daily.output.silver)
