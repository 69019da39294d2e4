"""options_daily: contracts of the configured underlyings and daily bars per contract, with IV and greeks.

landing, parse and bronze (landing, parsing and bronze of options_daily and options_contracts), schema (their bronze models),
silver (underlying, moneyness, dividend yield, implied vol and greeks), bsm (the Black-Scholes-Merton
pricer and implied-vol solver silver uses).

Jobs (rules/options.smk; each costs a Python start-up, so few and large; partitions stay per month):
landing_options_daily per year; bronze/silver_options_daily_<YYYY> for the year's closed months, whose
inputs never change (immutable landing, closed months' stocks bronze, dividends and ticker changes read as
`ancient`), so they run once and again only when a month closes; bronze/silver_options_daily_open for the
range's last month, the only options jobs a daily update runs.
"""
