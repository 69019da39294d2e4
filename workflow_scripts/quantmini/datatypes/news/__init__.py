"""news: articles by publication month, article x ticker sentiment, and silver news_daily per ticker-session.

landing, parse and bronze (landing, parsing, bronze and the news_daily silver join), schema (the two bronze models).

Silver reads its month's pairs, the previous month's (articles after the last close of the previous month
count for this month's first session) and its bronze stocks_daily. The yearly bronze job rewrites closed
months unchanged, so silver reads closed months' pairs as `ancient`: closed months never rebuild.
"""
