# stocks_minute and options_minute: minute bars per session.
# (Rules land with issue #5; this file is included by the Snakefile.)
