# options_daily: contracts as of each month, daily bars per contract, silver IV and greeks.
# (Rules land with issue #5; this file is included by the Snakefile.)
