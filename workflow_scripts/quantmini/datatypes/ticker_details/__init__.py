"""ticker_details: one snapshot per month of the traded tickers' details, and the universe filter.

landing, parse and bronze (landing, parsing and bronze; universe_tickers for bronze stocks_daily), schema (the bronze model).

A month's ticker list comes from its landed grouped-daily bodies (landing_stocks_daily), so the universe
filter applies in bronze stocks_daily without a cycle; closed months' snapshots are `ancient` there (the
yearly job rewrites them unchanged, which must not rebuild closed months).
"""
