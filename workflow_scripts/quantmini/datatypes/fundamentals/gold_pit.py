"""Gold: bronze financials in Qlib's point-in-time (PIT) layout, so `P($$eps_q)` works in pyqlib.

Why a layout of its own: a filing is known from the moment it is accepted, not from its period end, and
Qlib's PIT operators (`P`, `PRef`) look a figure up by (observation date, report period). pyqlib 0.9.7
reads, per instrument and field, `<provider>/financial/<sym>/<field>.data` and `<field>.index`:

- `.data`: records `(date uint32 YYYYMMDD, period uint32, value float64, next uint32)`, 20 bytes each,
  little-endian, sorted by date; `period` is YYYYQQ (quarterly, `_q` fields) or YYYY (annual, `_a`);
  `next` is the byte offset of the same period's next revision (0xFFFFFFFF: none).
- `.index`: uint32 first year, then one uint32 per period slot from that year's first period (4 per
  year for `_q`, 1 for `_a`): the byte offset of the period's first record (0xFFFFFFFF: none).

`date` is the first XNYS session whose close is at or after the acceptance time (accepted after the
close: the next session), the rule of silver fundamentals_daily: on a session, `P($$x_q)` is the latest
period's figure among filings accepted by that session's close. Values are as reported (per-share
figures are not split-adjusted). Every quarterly result gives `<field>_q`, every annual result
`<field>_a`, and `eps_q`/`eps_a` alias `basic_earnings_per_share`. Symbols are gold's: a filing under a
ticker the security held at acceptance goes to the security's latest symbol.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import polars as pl

from quantmini import adjust, calendar
from quantmini.qlib_writer import _syncfs, symbol_dirname

RECORD = np.dtype([("date", "<u4"), ("period", "<u4"), ("value", "<f8"), ("next", "<u4")])  # 20 bytes, packed
NONE = 0xFFFFFFFF
ALIASES = {"basic_earnings_per_share": "eps"}
DIR = "financial"


def observation_dates(accepted_utc: pl.Series) -> pl.Series:
    """The first session whose close is at or after each acceptance time (UTC), as YYYYMMDD uint32."""
    if accepted_utc.is_empty():
        return pl.Series("obs", [], pl.UInt32)
    lo = accepted_utc.min().astimezone(calendar.NY).date() - dt.timedelta(days=1)
    hi = accepted_utc.max().astimezone(calendar.NY).date() + dt.timedelta(days=10)
    days = calendar.sessions(lo, hi)
    closes = pl.DataFrame({"_close": [calendar.session_bounds_utc(d)[1] for d in days],
                           "obs": [d.year * 10000 + d.month * 100 + d.day for d in days]},
                          schema={"_close": pl.Datetime("us", "UTC"), "obs": pl.UInt32})
    frame = pl.DataFrame({"_t": accepted_utc.cast(pl.Datetime("us", "UTC"))}).with_row_index("_i")
    got = (frame.sort("_t").join_asof(closes, left_on="_t", right_on="_close", strategy="forward")
           .sort("_i"))
    return got["obs"]


def pit_table(financials: pl.DataFrame, ticker_changes: pl.DataFrame | None = None) -> pl.DataFrame:
    """symbol, field (`<name>_q` / `<name>_a`), date (YYYYMMDD), period, value: one row per figure."""
    fin = financials.filter(pl.col("timeframe").is_in(["quarterly", "annual"]) & pl.col("value").is_not_null()
                            & pl.col("value").is_finite())
    if fin.is_empty():
        return pl.DataFrame(schema={"symbol": pl.Utf8, "field": pl.Utf8, "date": pl.UInt32, "period": pl.UInt32,
                                    "value": pl.Float64})
    changes = ticker_changes if ticker_changes is not None and ticker_changes.height else None
    symbols = adjust.symbol_map(changes.unique()) if changes is not None else adjust.symbol_map(pl.DataFrame())
    day = pl.col("acceptance_datetime").dt.convert_time_zone("America/New_York").dt.date()
    fin = adjust.assign_security(fin.with_columns(day.alias("_day")), symbols, date_col="_day").drop("_day")
    quarterly = pl.col("timeframe") == "quarterly"
    quarter = pl.col("fiscal_period").str.strip_prefix("Q").cast(pl.UInt32, strict=False)
    period = pl.when(quarterly).then(pl.col("fiscal_year").cast(pl.UInt32) * 100 + quarter) \
        .otherwise(pl.col("fiscal_year").cast(pl.UInt32))
    suffix = pl.when(quarterly).then(pl.lit("_q")).otherwise(pl.lit("_a"))
    rows = fin.with_columns(period.alias("period"), suffix.alias("_sfx"),
                            observation_dates(fin["acceptance_datetime"]).alias("date"))
    rows = rows.filter(pl.col("period").is_not_null())
    base = rows.select(pl.col("security").str.to_uppercase().alias("symbol"),
                       (pl.col("field") + pl.col("_sfx")).alias("field"), "date", "period",
                       pl.col("value").cast(pl.Float64), "acceptance_datetime")
    alias = rows.filter(pl.col("field").is_in(list(ALIASES))).select(
        pl.col("security").str.to_uppercase().alias("symbol"),
        (pl.col("field").replace_strict(ALIASES) + pl.col("_sfx")).alias("field"), "date", "period",
        pl.col("value").cast(pl.Float64), "acceptance_datetime")
    # a later acceptance of the same period on the same session supersedes the earlier one
    return (pl.concat([base, alias]).sort("symbol", "field", "date", "period", "acceptance_datetime")
            .unique(["symbol", "field", "date", "period"], keep="last", maintain_order=True)
            .drop("acceptance_datetime"))


def encode(dates: np.ndarray, periods: np.ndarray, values: np.ndarray, quarterly: bool) -> tuple[bytes, bytes]:
    """(.data bytes, .index bytes) of one field of one instrument; inputs sorted by (date, period)."""
    n = len(dates)
    rec = np.zeros(n, dtype=RECORD)
    rec["date"], rec["period"], rec["value"] = dates, periods, values
    rec["next"] = NONE
    first_of: dict[int, int] = {}
    last_of: dict[int, int] = {}
    for k in range(n):  # link each period's revisions in date order
        p = int(periods[k])
        if p in last_of:
            rec["next"][last_of[p]] = k * RECORD.itemsize
        else:
            first_of[p] = k * RECORD.itemsize
        last_of[p] = k
    years = [p // 100 if quarterly else p for p in first_of]
    first_year, last_year = min(years), max(years)
    slots = np.full((last_year - first_year + 1) * (4 if quarterly else 1), NONE, dtype="<u4")
    for p, off in first_of.items():
        slots[(p // 100 - first_year) * 4 + p % 100 - 1 if quarterly else p - first_year] = off
    return rec.tobytes(), np.uint32(first_year).astype("<u4").tobytes() + slots.tobytes()


def publish(provider_dir: str | os.PathLike, table: pl.DataFrame) -> dict:
    """Write `table` (pit_table) under <provider_dir>/financial/: each file written beside and renamed into
    place, one syncfs at the end (before the job's stamp: a crash before it reruns the job, which rewrites
    any file whose bytes differ). Files of fields or symbols no longer in the table are removed;
    unchanged files are left alone."""
    root = Path(provider_dir) / DIR
    wanted: set[Path] = set()
    written = 0
    for (symbol, field), part in table.sort("symbol", "field", "date", "period").group_by(
            ["symbol", "field"], maintain_order=True):
        data, index = encode(part["date"].to_numpy(), part["period"].to_numpy(), part["value"].to_numpy(),
                             field.endswith("_q"))
        d = root / symbol_dirname(symbol)
        for path, blob in ((d / f"{field}.data", data), (d / f"{field}.index", index)):
            wanted.add(path)
            if not path.exists() or path.read_bytes() != blob:
                d.mkdir(parents=True, exist_ok=True)
                tmp = d / f".{path.name}.{os.getpid()}.tmp"
                tmp.write_bytes(blob)
                os.replace(tmp, path)  # whole or absent under its name; durable at the barrier below
                written += 1
    removed = 0
    if root.exists():
        for path in sorted(root.rglob("*")):
            if path.is_file() and path not in wanted:
                path.unlink()
                removed += 1
        for d in sorted((p for p in root.iterdir() if p.is_dir()), reverse=True):
            if not any(d.iterdir()):
                d.rmdir()
    if written or removed:
        _syncfs(root)  # one barrier for all files (an fsync each costs ~5 ms here); the job's stamp follows it
    return {"symbols": table["symbol"].n_unique(), "fields": table["field"].n_unique(), "records": table.height,
            "files_written": written, "files_removed": removed}
