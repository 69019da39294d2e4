# ticker details snapshots by month (market cap, SIC, shares) for the universe filter.
# (Rules land with issue #5; this file is included by the Snakefile.)
