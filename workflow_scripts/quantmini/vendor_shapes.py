"""Shapes the vendor sent in older responses that the simulator's default market does not serve
(issue 18, item 5), made usable instead of being quarantined wholesale.

- Splits and dividends without `id`: the row gets a key derived from its content, `Q` + sha256 of the
  kind and every other field in a fixed order (the vendor's own ids start with `E`, so the two never
  collide). Equal rows get equal keys, so a repeated id-less event still meets the duplicate checks.
- Financials without `acceptance_datetime`: the point-in-time stamp falls back to the filing date's end of
  day in New York, 23:59:59 (first usable the next session: never early). The stamp marks itself: EDGAR
  accepts filings between 06:00 and 22:00 ET, so no real acceptance carries 23:59:59; the month's
  validation report counts such rows (`acceptance_datetime_fallback`).
"""

from __future__ import annotations

import datetime as dt
import hashlib

import polars as pl

FALLBACK_TIME = dt.time(23, 59, 59)
NY = "America/New_York"


def _key(kind: str, values: dict) -> str:
    text = "|".join([kind, *("" if v is None else str(v) for v in values.values())])
    return "Q" + hashlib.sha256(text.encode()).hexdigest()


def fill_content_ids(df: pl.DataFrame, kind: str) -> pl.DataFrame:
    """`id` for the rows that have none, derived from the row's other columns (typed values)."""
    if "id" not in df.columns or df["id"].null_count() == 0:
        return df
    fields = [c for c in df.columns if c != "id" and not c.startswith("_")]
    derived = df.select(pl.struct(fields).map_elements(lambda row: _key(kind, row), return_dtype=pl.Utf8)
                        .alias("_derived"))["_derived"]
    return df.with_columns(pl.coalesce(pl.col("id"), derived).alias("id"))


def acceptance_fallback(filing_date: pl.Expr) -> pl.Expr:
    """The filing date's 23:59:59 New York as a UTC instant (microseconds, like acceptance_datetime)."""
    return (filing_date.dt.combine(FALLBACK_TIME, time_unit="us").dt.replace_time_zone(NY, ambiguous="earliest")
            .dt.convert_time_zone("UTC"))


def is_fallback(accepted: pl.Expr) -> pl.Expr:
    """Whether an acceptance stamp is the fallback (23:59:59 New York)."""
    return accepted.dt.convert_time_zone(NY).dt.time() == FALLBACK_TIME
