"""Snakemake script: land one year of splits, dividends, tickers or ticker_changes (immutable gzip files
named after what they hold; only the files not landed yet are downloaded)."""

from pathlib import Path

from quantmini import plan, runtime
from quantmini.corporate_actions import Window, land_listing_year, land_ticker_changes_year
from quantmini.lake import LakePaths
from quantmini.landing_documents import ClientOptions

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = runtime.job_logging(smk.log[0] if smk.log else None)
cfg = smk.config
dtype = smk.params.dtype
year = int(smk.wildcards.year)
windows = [Window.from_params(p) for p in smk.params.windows]
lake = LakePaths(cfg["data_root"])


def paths(files) -> list[Path]:
    return [Path(files)] if isinstance(files, str) else [Path(f) for f in files]


try:
    opts = ClientOptions.from_config(cfg)
    if dtype == "ticker_changes":
        previous = paths(getattr(smk.input, "previous", []))
        figis = land_ticker_changes_year(lake, year, windows, paths(smk.input.snapshots),
                                         previous[0] if previous else None, Path(smk.output.manifest), opts)
        done = f"{len(figis)} renamed security(ies) (one events request each, unless landed already)"
    else:
        fetched = land_listing_year(dtype, lake, year, windows, Path(smk.output.manifest), opts)
        done = f"{fetched} of {len(windows)} month window(s) downloaded now"
except Exception as exc:  # one line for the user; the key never reaches a message (see client)
    log.error("landing %s %04d failed: %s", dtype, year, exc)
    runtime.die(f"landing {dtype} {year:04d}: {plan.job_message(exc, cfg)}")
log.info("landing %s %04d (%d month(s)): %s", dtype, year, len(windows), done)
