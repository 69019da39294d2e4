"""A Polygon/Massive-compatible REST simulator over a deterministic synthetic market."""

from quantmini.sim.market import Market, MarketConfig
from quantmini.sim.server import SimProcess

__all__ = ["Market", "MarketConfig", "SimProcess"]
