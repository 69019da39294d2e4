"""Snakemake script: silver news_daily of one month (per ticker-session news count and sentiment)."""

from pathlib import Path

from quantmini import runtime
from quantmini.datatypes.news.ingest import build_news_daily

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = runtime.job_logging(smk.log[0] if smk.log else None)
key = f"{smk.wildcards.year}-{smk.wildcards.month}"
pairs = [smk.input.pairs] if isinstance(smk.input.pairs, str) else list(smk.input.pairs)
try:
    frame = build_news_daily([Path(p) for p in pairs], Path(smk.input.bars), smk.params.closes,
                             smk.params.prev_close, Path(smk.output.silver))
except Exception as exc:
    log.error("silver news_daily %s failed: %s", key, exc)
    runtime.die(f"silver news_daily {key}: {exc}")
log.info("silver news_daily %s: %d ticker-session(s), %d with news", key, frame.height,
         frame.filter(frame["news_count"] > 0).height)
