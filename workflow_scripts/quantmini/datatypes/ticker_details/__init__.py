"""ticker_details: one snapshot per month of the traded tickers' details, and the universe filter.

ingest (landing, parsing and bronze; universe_tickers for bronze stocks_daily), schema (the bronze model).
"""
