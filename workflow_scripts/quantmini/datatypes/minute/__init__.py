"""Minute bars: stocks_minute and options_minute (one package, two data types of one shape).

landing, parse and bronze (landing per (ticker, session), parsing and bronze per session), schema (MinuteBronze), gold
(stocks_minute as the Qlib 1min frequency).
"""
