"""news: articles by publication month, article x ticker sentiment, and silver news_daily per ticker-session.

ingest (landing, parsing, bronze and the news_daily silver join), schema (the two bronze models).
"""
