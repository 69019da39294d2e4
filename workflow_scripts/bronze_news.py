"""Snakemake script: build the bronze news month partitions (articles, article x ticker) of one year."""

from pathlib import Path

from quantmini import jobframe
from quantmini.datatypes.news.landing import NewsWindow
from quantmini.datatypes.news.bronze import build_news_year

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = jobframe.start(smk)
year = int(smk.params.year)
KINDS = ("articles", "article_tickers", "quarantine_articles", "quarantine_article_tickers", "report")


def paths(files) -> list[Path]:
    return [Path(files)] if isinstance(files, str) else [Path(f) for f in files]


with jobframe.failing_as(f"bronze news {year:04d}", log):
    columns = {k: paths(getattr(smk.output, k)) for k in KINDS}
    outputs = [dict(zip(KINDS, row, strict=True)) for row in zip(*columns.values(), strict=True)]
    reports = build_news_year(year, [NewsWindow.from_params(p) for p in smk.params.windows], smk.params.universe,
                              Path(smk.input.manifest), outputs)
log.info("bronze news %04d (%d month(s)): %d article(s), %d duplicate(s) collapsed, %d quarantined", year,
         len(reports), sum(r["rows_valid"] for r in reports), sum(r["exact_duplicates_collapsed"] for r in reports),
         sum(r["rows_quarantined"] for r in reports))
