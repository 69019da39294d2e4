"""Gold: the Qlib provider directory, adjusted as of the lake's end, published from silver.

Silver partitions are point in time (factor as of each month's end); here every security's history is
mapped to its latest symbol and back-adjusted with all validated events, so `$close` is the continuous
adjusted close and `$close / $factor` the traded one. The writer is incremental and byte-identical to
a rebuild (see qlib_writer).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from quantmini import adjust, qlib_writer
from quantmini.adjust import CHANGE_SCHEMA
from quantmini.datatypes.stocks_daily.silver import EVENT_SCHEMA, RAW
from quantmini.parquet_io import read_many

BASE_FIELDS = ["open", "high", "low", "close", "volume", "vwap", "factor", "change"]


def latest_adjusted(silver_files: list[Path], event_files: list[Path], change_files: list[Path],
                    sessions: list[dt.date], features: list[str] = ()) -> pl.DataFrame:
    """Every silver bar re-keyed to its security's latest symbol and adjusted with every event (lake-end
    factor): security, date, adj_* prices and volume, factor, change (vs the previous session; null after a
    gap), features. Bars only: the writer puts NaN where a security has no bar inside its span.

    The same factor as `silver.adjusted_bars` (factor(t) = product of the security's event multipliers
    dated after t, see adjust.factors), computed for the whole lake without its calendar grid and key
    joins: a forward as-of join of each bar to the next event's suffix product, at full-market scale a
    fraction of the time and half the memory (bench/README.md).
    """
    columns = ["ticker", "date", *RAW, *features]  # never all ~180 silver columns (~14 GB at full scale)
    raw = read_many(silver_files, columns=columns).select(columns).filter(pl.col("close").is_not_null())
    events = read_many(event_files, EVENT_SCHEMA).select(list(EVENT_SCHEMA))
    symbols = adjust.symbol_map(read_many(change_files, CHANGE_SCHEMA).unique())
    index = pl.DataFrame({"date": sessions, "_k": range(len(sessions))}, schema={"date": pl.Date, "_k": pl.Int32})
    bars = (adjust.assign_security(raw, symbols).drop("ticker").join(index, on="date", how="left")
            .sort("security", "_k"))
    del raw
    new_security = pl.col("security") != pl.col("security").shift(1)
    repeated = bars.select(((~new_security) & (pl.col("_k") == pl.col("_k").shift(1))).fill_null(False)).to_series()
    if repeated.any():
        raise ValueError(f"two tickers map to one security on one session: "
                         f"{bars.filter(repeated).select('security', 'date').head(3).rows()}")
    suffix = (adjust.assign_security(events, symbols).group_by("security", "date").agg(pl.col("m").product())
              .sort("security", "date")
              .with_columns(pl.col("m").cum_prod(reverse=True).over("security").alias("factor"))
              .select("security", pl.col("date").alias("_next_event"), "factor").sort("_next_event"))
    bars = (bars.with_row_index("_row").sort("date")
            .join_asof(suffix, left_on="date", right_on="_next_event", by="security", strategy="forward",
                       allow_exact_matches=False, check_sortedness=False)
            .sort("_row").drop("_row", "_next_event")
            .with_columns(pl.col("factor").fill_null(1.0)))
    previous_session = (pl.col("_k").shift(1) == pl.col("_k") - 1) & ~new_security
    return bars.with_columns(  # in place of the raw columns: the lake's widest frame stays 9 columns
        *[(pl.col(c) * pl.col("factor")).alias(f"adj_{c}") for c in adjust.PRICE_COLUMNS],
        (pl.col("volume") / pl.col("factor")).alias("adj_volume"),
    ).drop(RAW).with_columns(
        pl.when(previous_session).then(pl.col("adj_close") / pl.col("adj_close").shift(1) - 1.0).alias("change"),
    ).drop("_k")


def publish(silver_files: list[Path], event_files: list[Path], change_files: list[Path],
            sessions: list[dt.date], provider_dir: Path, *, features: list[str] = ()) -> qlib_writer.PublishStats:
    bars = latest_adjusted(silver_files, event_files, change_files, sessions, list(features))
    frame = bars.select(
        pl.col("security").str.to_uppercase().alias("symbol"), "date",
        *[pl.col(f"adj_{c}").alias(c) for c in RAW], "factor", "change",
        *[pl.col(f).alias(f.lower()) for f in features],
    )
    del bars
    return qlib_writer.publish(provider_dir, frame, sessions, BASE_FIELDS + [f.lower() for f in features])
