"""Corporate actions and reference data: splits, dividends, tickers and ticker_changes.

One package serves four data types because they land and build the same way (per-year jobs writing month
partitions of one listing endpoint each; ticker_changes is found from the tickers snapshots), and differ
only by endpoint, date field and schema: landing, parse and bronze (landing, parsing and bronze), schema (one pandera model
per type), event_validation (splits and dividends checked against the raw bars before silver applies them).

Rules (rules/corporate_actions.smk): landing_<type> per year (wildcard), bronze_<type>_<YYYY> one rule per
year, because a year's outputs are its months in range (a rule's outputs cannot vary with a wildcard).
Force a rebuild of every year with e.g. `-R $(for y in 2024 2025; do echo bronze_splits_$y; done)`.
"""
