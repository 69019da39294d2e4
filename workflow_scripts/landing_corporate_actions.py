"""Snakemake script: land one year of splits, dividends, tickers or ticker_changes (immutable gzip files
named after what they hold; only the files not landed yet are downloaded)."""

from pathlib import Path

from quantmini import jobframe, plan
from quantmini.datatypes.corporate_actions.landing import Window, land_listing_year, land_ticker_changes_year
from quantmini.lake import LakePaths
from quantmini.landing_documents import ClientOptions

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = jobframe.start(smk)
cfg = smk.config
dtype = smk.params.dtype
year = int(smk.wildcards.year)
windows = [Window.from_params(p) for p in smk.params.windows]
lake = LakePaths(cfg["data_root"])


def paths(files) -> list[Path]:
    return [Path(files)] if isinstance(files, str) else [Path(f) for f in files]


with jobframe.failing_as(f"landing {dtype} {year:04d}", log,
                         describe=lambda exc: plan.job_message(exc, cfg)):
    opts = ClientOptions.from_config(cfg)
    if dtype == "ticker_changes":
        previous = paths(getattr(smk.input, "previous", []))
        figis = land_ticker_changes_year(lake, year, windows, paths(smk.input.snapshots),
                                         previous[0] if previous else None, jobframe.landing_manifest(smk.output), opts)
        done = f"{len(figis)} renamed security(ies) (one events request each, unless landed already)"
    else:
        fetched = land_listing_year(dtype, lake, year, windows, jobframe.landing_manifest(smk.output), opts)
        done = f"{fetched} of {len(windows)} month window(s) downloaded now"
log.info("landing %s %04d (%d month(s)): %s", dtype, year, len(windows), done)
