# news: articles by publication month (UTC) -> bronze articles + article x ticker (with sentiment) ->
# silver news_daily: per (ticker, session) of bronze stocks_daily, the count and mean sentiment of the
# articles published after the previous session's close and at or before this one's (no look-ahead).
# Windows, landing chunks and the session rule: workflow_scripts/quantmini/news.py.
#
# Landing and bronze: one job per YEAR writing month partitions (a job costs a Python start-up); the
# landing is immutable chunks, so a rerun fetches only what no chunk covers (a new session: the
# articles since the previous cut-off). Silver: one job per month, reading its month's pairs, the
# previous month's (articles after the last close of the previous month count for this month's first
# session) and its bronze stocks_daily. The yearly bronze job rewrites closed months unchanged, so
# silver reads closed months' pairs as `ancient`: closed months never rebuild.
import datetime as _dt

from quantmini import news as qm_news

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
    part = f"year={y:04d}/month={m:02d}"
    return {
        "articles": f"{ROOT}/bronze/news/{part}/articles.parquet",
        "article_tickers": f"{ROOT}/bronze/news/{part}/article_tickers.parquet",
        "quarantine_articles": f"{ROOT}/quarantine/news/{part}/articles.parquet",
        "quarantine_article_tickers": f"{ROOT}/quarantine/news/{part}/article_tickers.parquet",
        "report": f"{ROOT}/reports/validation/news/{part}.json",
    }[kind]


def news_daily_inputs(wildcards):
    ym = (int(wildcards.year), int(wildcards.month))
    revision_wait([ym])  # rules/revisions.smk
    prev = (ym[0] - (ym[1] == 1), (ym[1] - 2) % 12 + 1)
    pairs = [news_file("article_tickers", *prev)] if prev in PARTITIONS else []
    this = news_file("article_tickers", *ym)
    pairs = [ancient(p) for p in pairs] + [this if ym == max(PARTITIONS) else ancient(this)]
    return {"pairs": pairs, "bars": f"{ROOT}/bronze/stocks_daily/year={ym[0]:04d}/month={ym[1]:02d}/data.parquet"}


rule landing_news:
    output:
        manifest=f"{ROOT}/landing/news/year={{year}}/_manifest.json",
    params:
        windows=lambda wc: news_windows(int(wc.year)),
        limit=config["news"]["page_limit"],
    resources:
        api=1,
    log:
        f"{ROOT}/logs/landing_news/year={{year}}.log",
    benchmark:
        f"{ROOT}/benchmarks/landing_news/year={{year}}.tsv"
    script:
        "../workflow_scripts/landing_news.py"


_NEWS_KINDS = ("articles", "article_tickers", "quarantine_articles", "quarantine_article_tickers", "report")

for _year in NEWS_YEARS:

    rule:
        name:
            f"bronze_news_{_year}"
        input:
            manifest=f"{ROOT}/landing/news/year={_year:04d}/_manifest.json",
        output:
            **{kind: [news_file(kind, y, m) for y, m in sorted(PARTITIONS) if y == _year] for kind in _NEWS_KINDS},
        params:
            year=_year,
            windows=news_windows(_year),
            universe=config["universe"],
        log:
            f"{ROOT}/logs/bronze_news/year={_year:04d}.log",
        benchmark:
            f"{ROOT}/benchmarks/bronze_news/year={_year:04d}.tsv"
        script:
            "../workflow_scripts/bronze_news.py"


rule silver_news_daily:
    input:
        unpack(news_daily_inputs),
    output:
        silver=f"{ROOT}/silver/news_daily/{MONTH}/data.parquet",
    params:
        closes=lambda wc: news_closes((int(wc.year), int(wc.month))),
        prev_close=lambda wc: news_prev_close((int(wc.year), int(wc.month))),
    log:
        f"{ROOT}/logs/silver_news_daily/{MONTH}.log",
    benchmark:
        f"{ROOT}/benchmarks/silver_news_daily/{MONTH}.tsv"
    script:
        "../workflow_scripts/silver_news_daily.py"


TARGETS["news"] = per_month(f"{ROOT}/bronze/news/{MONTH}/articles.parquet") + per_month(
    f"{ROOT}/bronze/news/{MONTH}/article_tickers.parquet"
)
SILVER_TARGETS["news"] = per_month(rules.silver_news_daily.output.silver)
