"""options: landing bodies -> typed frames (the vendor's wire shapes and the bronze column types)."""

from __future__ import annotations

import polars as pl

from quantmini.landing_documents import pages_frame, results_frame

# ------------------------------------------------------------------------------------------ parsing
_CONTRACT_WIRE = pl.Struct({"ticker": pl.Utf8, "underlying_ticker": pl.Utf8, "contract_type": pl.Utf8,
                            "exercise_style": pl.Utf8, "expiration_date": pl.Utf8, "strike_price": pl.Float64,
                            "shares_per_contract": pl.Float64, "primary_exchange": pl.Utf8, "cfi": pl.Utf8})

_BAR_WIRE = pl.Struct({"o": pl.Float64, "h": pl.Float64, "l": pl.Float64, "c": pl.Float64, "v": pl.Float64,
                       "vw": pl.Float64, "n": pl.Int64, "t": pl.Int64})

CONTRACTS_SCHEMA = {"ticker": pl.Utf8, "underlying": pl.Utf8, "contract_type": pl.Utf8, "strike": pl.Float64,
                    "expiration": pl.Date, "shares_per_contract": pl.Float64, "exercise_style": pl.Utf8,
                    "primary_exchange": pl.Utf8, "cfi": pl.Utf8}

TERMS = ["underlying", "contract_type", "strike", "expiration", "shares_per_contract"]

BARS_SCHEMA = {"ticker": pl.Utf8, "date": pl.Date, "open": pl.Float64, "high": pl.Float64, "low": pl.Float64,
               "close": pl.Float64, "volume": pl.Float64, "vwap": pl.Float64, "transactions": pl.Int64,
               **{k: CONTRACTS_SCHEMA[k] for k in TERMS}}

def _empty_contracts() -> pl.DataFrame:
    return pl.DataFrame(schema={**CONTRACTS_SCHEMA, "_unparsed": pl.Utf8})

def _corrupt(what: str, exc: Exception):
    from quantmini.bronze import CorruptLandingError

    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return CorruptLandingError(f"{what}: {first}")

def parse_contracts(doc: bytes) -> pl.DataFrame:
    """The contracts of a landing document (both listings), one row per served row (duplicates kept)."""
    raw = results_frame(doc, _CONTRACT_WIRE, "options contracts")
    if not raw.height:
        return _empty_contracts()
    expiration = pl.col("expiration_date").str.to_date("%Y-%m-%d", strict=False)
    return raw.select(
        "ticker", pl.col("underlying_ticker").alias("underlying"), "contract_type",
        pl.col("strike_price").alias("strike"), expiration.alias("expiration"), "shares_per_contract",
        "exercise_style", "primary_exchange", "cfi",
        pl.when(pl.col("expiration_date").is_not_null() & expiration.is_null())
        .then(pl.lit("expiration_date")).alias("_unparsed"),
    ).cast({**CONTRACTS_SCHEMA, "_unparsed": pl.Utf8})

def parse_bars(doc: bytes) -> pl.DataFrame:
    """ticker, date (the bar's 00:00 New York stamp), OHLCV, vwap, transactions of a bars document."""
    pages = pages_frame(doc, pl.List(_BAR_WIRE), "options bars")
    rows = (pages.select(pl.col("path").str.extract(r"/v2/aggs/ticker/([^/]+)/range/", 1).alias("ticker"),
                         pl.col("results"))
            .explode("results").filter(pl.col("results").is_not_null()))
    cols = list(BARS_SCHEMA)[:9]
    if not rows.height:
        return pl.DataFrame(schema={k: BARS_SCHEMA[k] for k in cols})
    bars = rows.unnest("results")
    date = (pl.from_epoch(pl.col("t"), time_unit="ms").dt.replace_time_zone("UTC")
            .dt.convert_time_zone("America/New_York").dt.date())
    return bars.select("ticker", date.alias("date"), pl.col("o").alias("open"), pl.col("h").alias("high"),
                       pl.col("l").alias("low"), pl.col("c").alias("close"), pl.col("v").alias("volume"),
                       pl.col("vw").alias("vwap"), pl.col("n").alias("transactions"))
