"""QuantMini: Polygon/Massive market data into a Parquet medallion lake and a Qlib provider directory."""

__version__ = "0.1.0"
