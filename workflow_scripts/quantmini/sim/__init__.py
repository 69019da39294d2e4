"""A Polygon/Massive-compatible REST simulator over a deterministic synthetic market."""

__all__ = ["Market", "MarketConfig", "SimProcess"]


def __getattr__(name: str):
    """Imported on first use: the workflow's config check reads quantmini.sim.faults at every Snakemake
    start, and the market (polars, numpy) is not needed there."""
    if name in ("Market", "MarketConfig"):
        from quantmini.sim import market

        return getattr(market, name)
    if name == "SimProcess":
        from quantmini.sim.server import SimProcess

        return SimProcess
    raise AttributeError(f"module 'quantmini.sim' has no attribute {name!r}")
