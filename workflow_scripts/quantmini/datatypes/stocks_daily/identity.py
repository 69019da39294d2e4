"""Permanent security identity and immutable cumulative factors for silver stocks_daily.

`security_id` names a security for good: its composite FIGI where the vendor gives one (ticker_changes
and the monthly tickers snapshots carry it), else `QM:<symbol>` — an id we assign from the one symbol
the security is known under (without a FIGI no rename can be known either). It never changes at a
rename, unlike a symbol; `ticker` stays the symbol traded that session. Each silver month records the
ids it used in `silver/securities` (id, symbol, span, FIGI, how the id was found).

`cum_factor` F(t) is the product of the security's validated event multipliers (splits, dividends; see
adjust.py) dated on or before t, over every month of the lake up to t. It depends only on events up to
t, so it never changes when later months arrive, and the series adjusted as of any session T is
    raw(t) * F(T) / F(t)   for t <= T
— continuous across partitions and renames (the ratio cancels events before the security's first bar).
"""

from __future__ import annotations

import polars as pl

from quantmini import adjust

ASSIGNED_PREFIX = "QM:"
SECURITIES_SCHEMA = {"security_id": pl.Utf8, "ticker": pl.Utf8, "first_date": pl.Date, "last_date": pl.Date,
                     "composite_figi": pl.Utf8, "id_source": pl.Utf8}


def security_ids(bars: pl.DataFrame, changes: pl.DataFrame, tickers: pl.DataFrame) -> pl.DataFrame:
    """security -> security_id for the securities of `bars` (security, ticker, date; `security` from
    adjust.assign_security over `changes`).

    A renamed security takes the FIGI of its rename events. Otherwise the FIGI the tickers snapshots
    give its symbol, preferring the snapshot nearest after the bar (the month it traded in) and then the
    latest bar; else the assigned `QM:<security>`.
    """
    secs = bars.select("security").unique()
    renamed = (changes.sort("composite_figi", "date").group_by("composite_figi")
               .agg(pl.col("new_ticker").last().alias("security"))
               .select("security", pl.col("composite_figi").alias("_figi_rename")))
    if tickers.height and "composite_figi" in tickers.columns:
        snap = (tickers.filter(pl.col("composite_figi").is_not_null() & (pl.col("composite_figi") != ""))
                .select("ticker", pl.col("snapshot_date").cast(pl.Date), "composite_figi").unique()
                .sort("snapshot_date"))
        per_bar = (bars.select("security", "ticker", "date").sort("date")
                   .join_asof(snap, left_on="date", right_on="snapshot_date", by="ticker", strategy="nearest",
                              check_sortedness=False)
                   .filter(pl.col("composite_figi").is_not_null())
                   .sort("security", "date")
                   .group_by("security").agg(pl.col("composite_figi").last().alias("_figi_snap")))
    else:
        per_bar = pl.DataFrame(schema={"security": pl.Utf8, "_figi_snap": pl.Utf8})
    out = secs.join(renamed, on="security", how="left").join(per_bar, on="security", how="left")
    return out.select(
        "security",
        pl.coalesce("_figi_rename", "_figi_snap", pl.lit(ASSIGNED_PREFIX) + pl.col("security")).alias("security_id"),
        pl.coalesce("_figi_rename", "_figi_snap").alias("composite_figi"),
        pl.when(pl.col("_figi_rename").is_not_null()).then(pl.lit("ticker_changes"))
        .when(pl.col("_figi_snap").is_not_null()).then(pl.lit("tickers"))
        .otherwise(pl.lit("assigned")).alias("id_source"),
    )


def cumulative_factors(keys: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """security, date -> cum_factor: product of the security's event multipliers dated <= date.

    keys: security, date (the bars). events: security, date, m — every validated event of the lake up
    to the month being built (earlier months' events.parquet included), whatever the window.
    """
    running = (events.group_by("security", "date").agg(pl.col("m").product()).sort("security", "date")
               .with_columns(pl.col("m").cum_prod().over("security").alias("cum_factor"))
               .select("security", pl.col("date").alias("_event"), "cum_factor").sort("_event"))
    return (keys.select("security", "date").with_row_index("_row").sort("date")
            .join_asof(running, left_on="date", right_on="_event", by="security", strategy="backward",
                       check_sortedness=False)
            .sort("_row")
            .select("security", "date", pl.col("cum_factor").fill_null(1.0)))


def securities_table(rows: pl.DataFrame, ids: pl.DataFrame) -> pl.DataFrame:
    """The month's record of ids: one row per (security_id, ticker) traded in it, with its span."""
    return (rows.group_by("security", "ticker")
            .agg(pl.col("date").min().alias("first_date"), pl.col("date").max().alias("last_date"))
            .join(ids, on="security")
            .select(list(SECURITIES_SCHEMA)).sort("security_id", "first_date"))


def event_securities(events: pl.DataFrame, changes: pl.DataFrame) -> pl.DataFrame:
    """events (ticker at the event date, date, m) keyed by `security` through the renames."""
    return adjust.assign_security(events, adjust.symbol_map(changes)).select("security", "date", "m")
