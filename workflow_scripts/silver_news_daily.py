"""Snakemake script: silver news_daily of one month (per ticker-session news count and sentiment)."""

from pathlib import Path

from quantmini import jobframe
from quantmini.datatypes.news.silver import build_news_daily

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = jobframe.start(smk)
key = f"{smk.wildcards.year}-{smk.wildcards.month}"
pairs = [smk.input.pairs] if isinstance(smk.input.pairs, str) else list(smk.input.pairs)
with jobframe.failing_as(f"silver news_daily {key}", log):
    frame = build_news_daily([Path(p) for p in pairs], Path(smk.input.bars), smk.params.closes,
                             smk.params.prev_close, Path(smk.output.silver))
log.info("silver news_daily %s: %d ticker-session(s), %d with news", key, frame.height,
         frame.filter(frame["news_count"] > 0).height)
