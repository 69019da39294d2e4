"""options_daily: contracts of the configured underlyings and daily bars per contract, with IV and greeks.

ingest (landing, parsing and bronze of options_daily and options_contracts), schema (their bronze models),
silver (underlying, moneyness, dividend yield, implied vol and greeks), bsm (the Black-Scholes-Merton
pricer and implied-vol solver silver uses).
"""
