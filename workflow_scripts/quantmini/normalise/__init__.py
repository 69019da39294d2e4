"""Parsers from raw Polygon/Massive response bodies to typed polars frames (one module per dataset)."""
