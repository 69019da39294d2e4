"""stocks_daily: grouped daily bars per XNYS session, and the silver and gold built on them.

landing (one grouped-daily body per session), parse (bodies -> bars), schema (StocksDailyBronze and the
session-aware validation), bronze (a month partition), silver (point-in-time adjusted bars with Alpha158:
alpha158 and its kernels in rolling), gold (the Qlib provider, adjusted as of the lake's end).
"""
