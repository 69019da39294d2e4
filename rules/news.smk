# news: articles by publication month, article x ticker insights, silver per ticker-session aggregates.
# (Rules land with issue #5; this file is included by the Snakefile.)
