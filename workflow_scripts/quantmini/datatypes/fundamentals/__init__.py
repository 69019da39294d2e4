"""fundamentals: financials, short interest and short volume (three tables of one data type).

landing, parse and bronze (landing, parsing and bronze), schema (one bronze model per table), silver (fundamentals_daily:
the tables joined point in time onto the daily bars).
"""
