"""Gold: the Qlib provider directory, adjusted as of the lake's end, published from silver.

Silver partitions are point in time (factor as of each month's end); here every security's history is
mapped to its latest symbol and back-adjusted with all validated events, so `$close` is the continuous
adjusted close and `$close / $factor` the traded one. The writer is byte-identical to a rebuild (see
qlib_writer).

Incremental publish (`publish` with a state file): a daily update changes one or two silver months and
adds a few events, so instead of reading all of silver and comparing every file, the publish keeps a
state beside the provider (silver files' identities, the symbol map, each security's events, each
symbol's span) and reads only the changed months (plus the session before them, for `change`), and the
whole history of just the securities whose events or symbols changed. Their files are rewritten; every
other symbol keeps its files' bytes up to the first changed month and gets the rest appended. Anything
the state cannot vouch for (no or another version of the state, a vanished month, a calendar that does
not extend the published one, a symbol whose bars vanished, a file shorter than recorded) publishes in
full, and so does a run in which no silver month changed (a forced rerun, e.g. to rewrite a file
`quantmini validate` found cut). The state is deleted before a publish writes anything and written after it ends, so a crash
leaves no state and the next run publishes in full.
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import logging
import os
import re
from pathlib import Path

import polars as pl

from quantmini import adjust, atomic, qlib_writer
from quantmini.adjust import CHANGE_SCHEMA
from quantmini.datatypes.stocks_daily.silver import EVENT_SCHEMA, RAW
from quantmini.parquet_io import UnreadableFileError, read_many

log = logging.getLogger("quantmini.gold")

BASE_FIELDS = ["open", "high", "low", "close", "volume", "vwap", "factor", "change"]
STATE_VERSION = 1
_MONTH_RE = re.compile(r"year=(\d{4})/month=(\d{2})")


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
    events, symbols = _events_and_symbols(event_files, change_files)
    return _adjusted(raw, events, symbols, sessions)


def _events_and_symbols(event_files: list[Path], change_files: list[Path]) -> tuple[pl.DataFrame, pl.DataFrame]:
    events = read_many(event_files, EVENT_SCHEMA).select(list(EVENT_SCHEMA))
    return events, adjust.symbol_map(read_many(change_files, CHANGE_SCHEMA).unique())


def _security_events(events: pl.DataFrame, symbols: pl.DataFrame) -> pl.DataFrame:
    """security, date, m: each security's events, one multiplier per date."""
    return (adjust.assign_security(events, symbols).group_by("security", "date").agg(pl.col("m").product())
            .sort("security", "date"))


def _adjusted(raw: pl.DataFrame, events: pl.DataFrame, symbols: pl.DataFrame, sessions: list[dt.date]
              ) -> pl.DataFrame:
    """latest_adjusted's computation on bars already read: each bar's values depend only on its own
    security's events and its previous session's bar, so a subset of the lake gives the same rows."""
    index = pl.DataFrame({"date": sessions, "_k": range(len(sessions))}, schema={"date": pl.Date, "_k": pl.Int32})
    bars = (adjust.assign_security(raw, symbols).drop("ticker").join(index, on="date", how="left")
            .sort("security", "_k"))
    del raw
    new_security = pl.col("security") != pl.col("security").shift(1)
    repeated = bars.select(((~new_security) & (pl.col("_k") == pl.col("_k").shift(1))).fill_null(False)).to_series()
    if repeated.any():
        raise ValueError(f"two tickers map to one security on one session: "
                         f"{bars.filter(repeated).select('security', 'date').head(3).rows()}")
    suffix = (_security_events(events, symbols)
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


def _frame(bars: pl.DataFrame, features: list[str]) -> pl.DataFrame:
    return bars.select(
        pl.col("security").str.to_uppercase().alias("symbol"), "date",
        *[pl.col(f"adj_{c}").alias(c) for c in RAW], "factor", "change",
        *[pl.col(f).alias(f.lower()) for f in features],
    )


def publish(silver_files: list[Path], event_files: list[Path], change_files: list[Path],
            sessions: list[dt.date], provider_dir: Path, *, features: list[str] = (),
            state_file: Path | None = None) -> qlib_writer.PublishStats:
    """Publish the provider; with `state_file`, incrementally when the state allows (module doc)."""
    features = list(features)
    fields = BASE_FIELDS + [f.lower() for f in features]
    state = _load_state(state_file) if state_file else None
    if state_file:
        Path(state_file).unlink(missing_ok=True)  # from here until the end a crash leaves no state
    if state is not None:
        try:
            done = _update(state, silver_files, event_files, change_files, sessions, provider_dir, features, fields)
        except (qlib_writer.StaleState, UnreadableFileError, OSError, pl.exceptions.PolarsError) as exc:
            log.warning("gold: incremental publish not possible (%s): publishing in full", exc)
            done = None
        if done is not None:
            stats, new_state = done
            atomic.write_text(state_file, json.dumps(new_state, separators=(",", ":")) + "\n")
            return stats
    columns = ["ticker", "date", *RAW, *features]
    raw = read_many(silver_files, columns=columns).select(columns).filter(pl.col("close").is_not_null())
    events, symbols = _events_and_symbols(event_files, change_files)
    frame = _frame(_adjusted(raw, events, symbols, sessions), features)
    del raw
    stats, spans = qlib_writer.publish_with_spans(provider_dir, frame, sessions, fields)
    if state_file:
        atomic.write_text(state_file, json.dumps(_state(silver_files, sessions, fields, events, symbols, spans),
                                                 separators=(",", ":")) + "\n")
    return stats


# ----------------------------------------------------------------------------------------------- state


def _identity(path: Path) -> list[int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _map_rows(symbols: pl.DataFrame) -> set[tuple]:
    return {tuple(None if v is None else str(v) for v in r)
            for r in symbols.select("ticker", "valid_from", "valid_to", "security").iter_rows()}


def _event_rows(sec_events: pl.DataFrame) -> set[tuple]:
    return {(s, d.isoformat(), m) for s, d, m in sec_events.select("security", "date", "m").iter_rows()}


def _state(silver_files: list[Path], sessions: list[dt.date], fields: list[str], events: pl.DataFrame,
           symbols: pl.DataFrame, spans: pl.DataFrame) -> dict:
    return {
        "version": STATE_VERSION, "fields": fields, "sessions": len(sessions),
        "first": sessions[0].isoformat() if sessions else None,
        "last": sessions[-1].isoformat() if sessions else None,
        "silver": {str(f): _identity(f) for f in silver_files},
        "symbol_map": sorted(_map_rows(symbols), key=lambda r: tuple("" if v is None else v for v in r)),
        "events": sorted(_event_rows(_security_events(events, symbols))),
        "spans": {"symbol": spans["symbol"].to_list(), "first": spans["first"].to_list(),
                  "last": spans["last"].to_list()},
    }


def _load_state(path: Path) -> dict | None:
    try:
        state = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and state.get("version") == STATE_VERSION else None


def _month_start(path: Path) -> dt.date:
    m = _MONTH_RE.search(str(path))
    if not m:
        raise qlib_writer.StaleState(f"{path}: not a month partition")
    return dt.date(int(m.group(1)), int(m.group(2)), 1)


def _scan(files: list[Path], columns: list[str], predicate: pl.Expr) -> pl.DataFrame:
    frames = [pl.scan_parquet(f).select(columns).filter(predicate) for f in files if Path(f).exists()]
    if not frames:
        return pl.DataFrame()
    return pl.concat(frames, how="diagonal_relaxed").collect()


def _update(state: dict, silver_files: list[Path], event_files: list[Path], change_files: list[Path],
            sessions: list[dt.date], provider_dir: Path, features: list[str], fields: list[str]
            ) -> tuple[qlib_writer.PublishStats, dict] | None:
    """The incremental publish, or None when the state cannot vouch for the provider (publish in full)."""
    n_old = state["sessions"]
    if (state["fields"] != fields or not sessions or n_old < 1 or n_old > len(sessions)
            or sessions[0].isoformat() != state["first"] or sessions[n_old - 1].isoformat() != state["last"]):
        return None
    ids = {str(f): _identity(f) for f in silver_files}
    if set(state["silver"]) - set(ids):
        return None  # a month went away
    changed = [f for f in silver_files if state["silver"].get(str(f)) != ids[str(f)]]
    if not changed:
        return None  # a forced rerun (e.g. to repair a file `quantmini validate` found cut): check every file
    starts = {str(f): _month_start(f) for f in silver_files}
    keep_before = min(n_old, bisect.bisect_left(sessions, min(starts[str(f)] for f in changed)))

    events, symbols = _events_and_symbols(event_files, change_files)
    old_map, new_map = {tuple(r) for r in state["symbol_map"]}, _map_rows(symbols)
    map_diff = old_map ^ new_map
    dirty = {r[0] for r in map_diff} | {r[3] for r in map_diff}  # tickers and securities a rename touched
    sec_events = _security_events(events, symbols)
    dirty |= {r[0] for r in {tuple(r) for r in state["events"]} ^ _event_rows(sec_events)}
    dirty_symbols = {d.upper() for d in dirty}

    columns = ["ticker", "date", *RAW, *features]
    parts = []
    if dirty:  # the whole history of every ticker that may belong to a security whose history changed
        tickers = sorted(dirty | {t for t, _, _, sec in new_map if sec in dirty})
        parts.append(_scan(silver_files, columns, pl.col("ticker").is_in(tickers)))
        not_dirty = ~pl.col("ticker").is_in(tickers)
    else:
        not_dirty = pl.lit(True)
    if keep_before < len(sessions):
        tail_from = sessions[keep_before]
        parts.append(_scan([f for f in silver_files if starts[str(f)] >= dt.date(tail_from.year, tail_from.month, 1)],
                           columns, not_dirty & (pl.col("date") >= tail_from)))
        if keep_before > 0:  # the session before, for `change`
            before = sessions[keep_before - 1]
            parts.append(_scan([f for f in silver_files if starts[str(f)] == dt.date(before.year, before.month, 1)],
                               columns, not_dirty & (pl.col("date") == before)))
    parts = [p for p in parts if p.width]
    if parts:
        raw = pl.concat([p.select(columns) for p in parts], how="vertical_relaxed").filter(pl.col("close").is_not_null())
    elif silver_files:  # new sessions without bars (or nothing new): the calendar still moves
        raw = _scan(silver_files[:1], columns, pl.lit(False))
    else:
        return None
    frame = _frame(_adjusted(raw, events, symbols, sessions), features)
    if keep_before > 0:  # the session before was read for `change` only
        tail = pl.col("date") >= sessions[keep_before] if keep_before < len(sessions) else pl.lit(False)
        frame = frame.filter(pl.col("symbol").is_in(sorted(dirty_symbols)) | tail)
    old_spans = pl.DataFrame(state["spans"], schema={"symbol": pl.String, "first": pl.Int64, "last": pl.Int64})
    present = set(frame["symbol"].unique().to_list())
    vanished = old_spans.filter((pl.col("last") >= keep_before) & ~pl.col("symbol").is_in(sorted(dirty_symbols))
                                & ~pl.col("symbol").is_in(sorted(present)))
    if vanished.height:
        return None  # bars that were published are gone: only a full publish knows where such a file ends
    remove = sorted(s for s in dirty_symbols if s not in present and s in set(old_spans["symbol"].to_list()))
    stats, spans = qlib_writer.update(provider_dir, frame, sessions, fields, spans=old_spans,
                                      keep_before=keep_before, rewrite=sorted(dirty_symbols & present),
                                      remove=remove)
    return stats, _state(silver_files, sessions, fields, events, symbols, spans)
