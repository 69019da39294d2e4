# fundamentals: financials by filing month, short interest, short volume, silver point-in-time join.
# (Rules land with issue #5; this file is included by the Snakefile.)
