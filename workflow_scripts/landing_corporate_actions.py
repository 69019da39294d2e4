"""Snakemake script: land one month of splits, dividends, tickers or ticker_changes (one gzip file per
month and window, every page's raw body; nothing is downloaded when that file already exists)."""

import datetime as dt
from pathlib import Path

from quantmini import runtime
from quantmini.client import resolve_api_key
from quantmini.corporate_actions import ClientOptions, Window, land_listing_month, land_ticker_changes_month
from quantmini.lake import LakePaths

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = runtime.job_logging(smk.log[0] if smk.log else None)
cfg = smk.config
dtype = smk.params.dtype
year, month = int(smk.wildcards.year), int(smk.wildcards.month)
days = [dt.date.fromisoformat(s) for s in smk.params.sessions]
window = Window.from_params(smk.params.window)
lake = LakePaths(cfg["data_root"])
try:
    opts = ClientOptions(
        base_url=runtime.api_url(cfg), api_key=resolve_api_key(), max_concurrency=cfg["max_concurrency"],
        rate_per_minute=cfg["rate_limit_per_minute"], retries=cfg["retries"], verify=runtime.api_verify(),
    )
    if dtype == "ticker_changes":
        previous = list(getattr(smk.input, "previous", []))
        figis = land_ticker_changes_month(
            lake, year, month, days, window, Path(smk.input.snapshot), Path(previous[0]) if previous else None,
            Path(smk.output.manifest), opts,
        )
        done = f"{len(figis)} renamed security(ies) asked for their events"
    else:
        fetched = land_listing_month(dtype, lake, year, month, days, window, Path(smk.output.manifest), opts)
        done = "downloaded now" if fetched else "already landed"
except Exception as exc:  # one line for the user; the key never reaches a message (see client)
    log.error("landing %s %04d-%02d failed: %s", dtype, year, month, exc)
    runtime.die(f"landing {dtype} {year:04d}-{month:02d}: {exc}")
log.info("landing %s %04d-%02d (%d session(s)): %s", dtype, year, month, len(days), done)
