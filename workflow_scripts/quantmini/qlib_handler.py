"""A Qlib data handler serving Alpha158 from the lake, for qrun workflows.

Why: Qlib's `Alpha158` handler evaluates 158 expressions per instrument with pandas every time a
dataset is prepared. `QuantminiAlpha158` is a drop-in replacement (same constructor, same label
`Ref($close, -2)/Ref($close, -1) - 1`, same processors as configured) whose loader takes the features
from the lake's fast path instead, and whose processing is numpy's (bench/README.md has the figures):
the processors users configure (class name and kwargs in a qrun YAML, or objects) run through
`quantmini.qlib_processors.run`, with fast paths equal to Qlib's for RobustZScoreNorm, ZScoreNorm,
MinMaxNorm, Fillna, DropnaLabel/DropnaProcessor, CSRankNorm and CSZScoreNorm, and Qlib's own processor
object for anything else (other classes, subclasses); segments are fetched as runs of rows.

The loader returns exactly the frame `QlibDataLoader` would: index (datetime, instrument) with a row for
every session of an instrument's span (instruments/<market>.txt) inside the range that its gold
`close` file covers, columns ("feature", KMID..VSUMD60) and ("label", LABEL0), float32. The label is
computed from gold's `$close` in float32 as pyqlib computes it.

Sources (`source=`):
- "compute" (default): `datatypes.stocks_daily.alpha158` (numba kernels) over gold's own prices: equal to Qlib's
  Alpha158 handler to float32 precision (1e-5).
- "gold" reads `features/<sym>/<name>.day.bin` (gold.alpha158), "silver" reads `silver/stocks_daily`
  (re-keyed to gold's symbols with bronze ticker_changes; NaN where a session has no bar), "lake" = gold
  when published, else silver. Nothing is computed, but these are silver's point-in-time features
  (each month computed from its own and four earlier months, adjusted as of its month end), so they
  differ from Qlib's recomputation over gold by float32 rounding of differently adjusted prices (a few
  values in 10,000 beyond 1e-5; beyond 1e-4 only in windows of constant price, where Qlib returns
  pandas' rounding residue).

Usage in a qrun YAML::

    handler:
        class: QuantminiAlpha158
        module_path: quantmini.qlib_handler
        kwargs: {instruments: all, start_time: ..., end_time: ..., fit_start_time: ..., fit_end_time: ...}
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
from qlib.config import C
from qlib.contrib.data.handler import _DEFAULT_LEARN_PROCESSORS, check_transform_proc
from qlib.data import D
from qlib.data.dataset.handler import DataHandlerLP
from qlib.data.dataset.loader import DataLoader
from qlib.data.dataset.utils import fetch_df_by_col

from quantmini.datatypes.stocks_daily import alpha158
from quantmini.lake import LakePaths
from quantmini.qlib_processors import rows_between
from quantmini.qlib_processors import run as run_processors

SOURCES = ("compute", "gold", "silver", "lake")
FEATURES = list(alpha158.FEATURE_NAMES)


class QuantminiError(ValueError):
    """Bad input to the handler: the message is one line starting with `quantmini:`."""

    def __init__(self, message: str):
        super().__init__(f"quantmini: {message}")


def _read_bin(path: Path) -> tuple[int, np.ndarray] | None:
    try:
        raw = np.fromfile(path, dtype="<f4")
    except FileNotFoundError:
        return None
    if raw.size == 0:
        return None
    return int(raw[0]), raw[1:]


def _symbol_dir(provider: Path, symbol: str) -> Path:
    return provider / "features" / symbol.lower()


class QuantminiAlpha158DL(DataLoader):
    """DataLoader of the lake's Alpha158 features and the Alpha158 label (see the module docstring).

    `data_root`: the lake (default: two levels above the provider directory qlib.init was given, i.e.
    `<data_root>/gold/qlib`); only the "silver" source reads outside the provider directory.
    """

    def __init__(self, source: str = "compute", data_root: str | None = None, freq: str = "day",
                 filter_pipe=None, label: bool = True):
        if source not in SOURCES:
            raise QuantminiError(f"handler source {source!r} is not one of {', '.join(SOURCES)}")
        if freq != "day":
            raise QuantminiError(f"handler freq {freq!r}: the lake's Alpha158 features are daily ('day')")
        self.source = source
        self.data_root = data_root
        self.freq = freq
        self.filter_pipe = filter_pipe
        self.label = label
        self.used_source: str | None = None

    # ------------------------------------------------------------------ where things are
    def provider(self) -> Path:
        return Path(C.dpm.get_data_uri(self.freq)).expanduser().resolve()

    def lake(self) -> Path:
        return Path(self.data_root).expanduser().resolve() if self.data_root else self.provider().parent.parent

    def _pick_source(self, symbols: list[str]) -> str:
        if self.source != "lake":
            return self.source
        provider = self.provider()
        if symbols and all((_symbol_dir(provider, s) / f"{FEATURES[0].lower()}.day.bin").exists() for s in symbols[:5]):
            return "gold"
        if any(LakePaths(self.lake()).table_dir("silver", "stocks_daily").glob("year=*/month=*/data.parquet")):
            return "silver"
        return "compute"

    # ------------------------------------------------------------------ the frame
    def load(self, instruments="all", start_time=None, end_time=None) -> pd.DataFrame:
        provider = self.provider()
        if not (provider / "calendars" / "day.txt").exists():
            raise QuantminiError(f"{provider} is not a Qlib provider directory (no calendars/day.txt)")
        if instruments is None:
            instruments = "all"
        if isinstance(instruments, str):
            instruments = D.instruments(instruments, filter_pipe=self.filter_pipe)
        if isinstance(instruments, dict):
            spans = D.list_instruments(instruments, start_time, end_time, freq=self.freq, as_list=False)
        else:  # a list of symbols: no span filter (as QlibDataLoader), each file's own coverage
            spans = {s: None for s in instruments}
        cal = pd.DatetimeIndex(D.calendar(freq=self.freq))
        lo = 0 if start_time is None else int(cal.searchsorted(pd.Timestamp(start_time), side="left"))
        hi = len(cal) - 1 if end_time is None else int(cal.searchsorted(pd.Timestamp(end_time), side="right")) - 1
        symbols = sorted(spans)
        source = self.used_source = self._pick_source(symbols)

        # rows: per symbol, the calendar positions its close file covers inside [lo, hi] and its spans
        keys, pos, closes = [], [], {}
        for s in symbols:
            got = _read_bin(_symbol_dir(provider, s) / "close.day.bin")
            if got is None:
                continue
            first, close = got
            a, b = max(lo, first), min(hi, first + len(close) - 1)
            if a > b:
                continue
            p = np.arange(a, b + 1)
            if spans[s] is not None:
                m = np.zeros(len(p), dtype=bool)
                for begin, end in spans[s]:  # the calendar positions of [begin, end]
                    m |= (p >= cal.searchsorted(pd.Timestamp(begin), "left")) & (
                        p < cal.searchsorted(pd.Timestamp(end), "right"))
                p = p[m]
            if len(p):
                keys.append(s)
                pos.append(p)
                closes[s] = (first, close)
        n = sum(len(p) for p in pos)
        lengths = [len(p) for p in pos]
        offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
        # rows are gathered symbol by symbol but stored in the frame's (datetime, instrument) order:
        # dest[r] is where symbol-major row r goes; one array (columns x rows), no reordering copy
        kidx = np.repeat(np.arange(len(keys), dtype=np.int64), lengths)
        cpos = np.concatenate(pos) if pos else np.zeros(0, dtype=np.int64)
        order = np.lexsort((kidx, cpos))
        dest = np.empty(n, dtype=np.int64)
        dest[order] = np.arange(n)
        data = alpha158.anonymous_empty((len(FEATURES) + (1 if self.label else 0), n), np.float32)
        if source != "compute":  # compute writes every feature of every row; the label is written below
            data.fill(np.nan)
        if source == "gold":
            self._fill_gold(provider, keys, pos, offsets, dest, data)
        elif source == "silver":
            self._fill_silver(keys, pos, offsets, dest, data, cal)
        else:
            self._fill_compute(provider, keys, pos, order, data, closes)
        if self.label:
            for k, s in enumerate(keys):
                first, close = closes[s]
                c = close.astype(np.float32, copy=False)
                lab = np.full(len(c), np.nan, dtype=np.float32)
                if len(c) > 2:
                    lab[:-2] = c[2:] / c[1:-1] - np.float32(1.0)
                data[-1, dest[offsets[k]:offsets[k + 1]]] = lab[pos[k] - first]
        used, date_codes = np.unique(cpos[order], return_inverse=True)
        index = pd.MultiIndex(levels=[cal[used], pd.Index(keys, dtype=object)], codes=[date_codes, kidx[order]],
                              names=["datetime", "instrument"], verify_integrity=False)
        columns = pd.MultiIndex.from_tuples([("feature", f) for f in FEATURES]
                                            + ([("label", alpha158.LABEL_NAME)] if self.label else []))
        return pd.DataFrame(data.T, index=index, columns=columns, copy=False)

    def _fill_gold(self, provider, keys, pos, offsets, dest, data) -> None:
        for k, s in enumerate(keys):
            d = _symbol_dir(provider, s)
            rows = dest[offsets[k]:offsets[k + 1]]
            for j, f in enumerate(FEATURES):
                got = _read_bin(d / f"{f.lower()}.day.bin")
                if got is None:
                    raise QuantminiError(f"gold has no Alpha158 field {f.lower()} for {s}: build gold with "
                                         "gold.alpha158: true, or use source silver or compute")
                first, v = got
                i = pos[k] - first
                ok = (i >= 0) & (i < len(v))
                data[j, rows[ok]] = v[i[ok]]

    def _fill_silver(self, keys, pos, offsets, dest, data, cal) -> None:
        from quantmini import adjust
        from quantmini.adjust import CHANGE_SCHEMA
        from quantmini.parquet_io import read_many

        lake = self.lake()
        if not keys:
            return
        first_day = cal[min(p[0] for p in pos)].date()
        last_day = cal[max(p[-1] for p in pos)].date()
        files = []
        for f in sorted(LakePaths(lake).table_dir("silver", "stocks_daily").glob("year=*/month=*/data.parquet")):
            y, m = int(f.parent.parent.name[5:]), int(f.parent.name[6:])
            if (y, m) >= (first_day.year, first_day.month) and (y, m) <= (last_day.year, last_day.month):
                files.append(f)
        if not files:
            raise QuantminiError(f"no silver stocks_daily partition under {lake} for {first_day}..{last_day}")
        feats = read_many(files, columns=["ticker", "date", *FEATURES])
        changes = read_many(sorted(LakePaths(lake).table_dir("bronze", "ticker_changes").glob("year=*/month=*/data.parquet")),
                            CHANGE_SCHEMA)
        changes = changes.select(list(CHANGE_SCHEMA)).unique() if changes.height else pl.DataFrame(schema=CHANGE_SCHEMA)
        feats = (adjust.assign_security(feats, adjust.symbol_map(changes))
                 .with_columns(pl.col("security").str.to_uppercase()))
        index = pl.DataFrame({"security": np.repeat(np.array(keys, dtype=object), [len(p) for p in pos]).tolist(),
                              "date": cal[np.concatenate(pos)].values.astype("datetime64[D]"),
                              "_row": dest},
                             schema={"security": pl.Utf8, "date": pl.Date, "_row": pl.Int64})
        j = index.join(feats.drop("ticker"), on=["security", "date"], how="inner")
        rows = j["_row"].to_numpy()
        for c, f in enumerate(FEATURES):
            data[c, rows] = j[f].cast(pl.Float32).fill_null(np.nan).to_numpy()

    def _fill_compute(self, provider, keys, pos, order, data, closes) -> None:
        if not keys:
            return
        cols = {f: [] for f in alpha158.FIELDS}
        for s in keys:
            d = _symbol_dir(provider, s)
            first, close = closes[s]
            for f in alpha158.FIELDS:
                got = (first, close) if f == "close" else _read_bin(d / f"{f}.day.bin")
                if got is None or got[0] != first or len(got[1]) != len(close):
                    raise QuantminiError(f"gold field {f} of {s} is missing or not aligned with its close")
                cols[f].append(got[1])
        lengths = np.array([len(closes[s][1]) for s in keys], dtype=np.int64)
        starts = np.array([closes[s][0] for s in keys], dtype=np.int64)
        base = np.concatenate(([0], np.cumsum(lengths)))
        # one frame, symbols as their (sorted) positions in keys; each file is dense, so the rows are
        # already in compute's (symbol, k) order
        bars = pl.DataFrame({"symbol": np.repeat(np.arange(len(keys), dtype=np.int32), lengths),
                             "k": np.arange(base[-1], dtype=np.int64) - np.repeat(base[:-1] - starts, lengths),
                             **{f: np.concatenate(v) for f, v in cols.items()}})
        feats = alpha158.compute(bars, symbol_col="symbol", date_col="k")
        rows = [base[k] + pos[k] - starts[k] for k in range(len(keys))]
        if all(np.array_equal(p, pos[0]) for p in pos):
            # every symbol has the same sessions: the frame's order is a transpose of (symbol, session)
            r = np.stack(rows)
            for j, f in enumerate(FEATURES):
                data[j].reshape(len(pos[0]), len(keys))[:] = feats[f].to_numpy()[r].T
            return
        src = np.concatenate(rows)[order]
        for j, f in enumerate(FEATURES):
            np.take(feats[f].to_numpy(), src, out=data[j])


class QuantminiAlpha158(DataHandlerLP):
    """Qlib's `Alpha158` handler, with the features read from the lake (see the module docstring).

    Same arguments as `qlib.contrib.data.handler.Alpha158` plus `source` and `data_root`; `inst_processors`
    are not supported (they act on the expression frame Qlib would compute). Processors: Qlib's standard
    ones take quantmini.qlib_processors' numpy paths (same results), any other runs as Qlib's object.
    """

    def __init__(self, instruments="all", start_time=None, end_time=None, freq="day", infer_processors=[],
                 learn_processors=_DEFAULT_LEARN_PROCESSORS, fit_start_time=None, fit_end_time=None,
                 process_type=DataHandlerLP.PTYPE_A, filter_pipe=None, inst_processors=None,
                 source: str = "compute", data_root: str | None = None, **kwargs):
        if inst_processors:
            raise QuantminiError("QuantminiAlpha158 does not support inst_processors (use Qlib's Alpha158)")
        infer_processors = check_transform_proc(infer_processors, fit_start_time, fit_end_time)
        learn_processors = check_transform_proc(learn_processors, fit_start_time, fit_end_time)
        loader = QuantminiAlpha158DL(source=source, data_root=data_root, freq=freq, filter_pipe=filter_pipe)
        super().__init__(instruments=instruments, start_time=start_time, end_time=end_time, data_loader=loader,
                         infer_processors=infer_processors, learn_processors=learn_processors,
                         process_type=process_type, **kwargs)

    def process_data(self, with_fit: bool = False):
        """DataHandlerLP.process_data with quantmini.qlib_processors.run for each processor list: Qlib's
        standard processors take a numpy path, any other runs as Qlib's own object; no protective copies
        (a fast path never writes into its input, a Qlib processor that writes gets a copy)."""
        shared = run_processors(self._data, self.shared_processors, with_fit=with_fit, check_for_infer=True)
        self._infer = run_processors(shared, self.infer_processors, with_fit=with_fit, check_for_infer=True)
        if self.process_type == DataHandlerLP.PTYPE_I:
            base = shared
        elif self.process_type == DataHandlerLP.PTYPE_A:
            base = self._infer
        else:
            raise NotImplementedError("This type of input is not supported")
        self._learn = run_processors(base, self.learn_processors, with_fit=with_fit, check_for_infer=False)
        if self.drop_raw:
            del self._data

    def fetch(self, selector=slice(None, None), level="datetime", col_set=DataHandlerLP.CS_ALL,
              data_key=DataHandlerLP.DK_I, squeeze=False, proc_func=None):
        """DataHandlerLP.fetch; a datetime range of a frame sorted by datetime is taken as one run of rows
        (a view, which pandas' copy-on-write keeps read-only) instead of pandas' MultiIndex `.loc`."""
        df = self._get_df_by_key(data_key)
        sel = selector
        if isinstance(sel, (tuple, list)) and len(sel) == 2:
            sel = slice(*sel)
        if (isinstance(df, pd.DataFrame) and proc_func is None and not squeeze and level == "datetime"
                and isinstance(sel, slice) and sel.step is None):
            rows = rows_between(df.index, sel.start, sel.stop)
            if rows is not None:
                if rows != slice(0, len(df)) or not self.fetch_orig:
                    df = df.iloc[rows]
                return fetch_df_by_col(df, col_set)
        return super().fetch(selector=selector, level=level, col_set=col_set, data_key=data_key,
                             squeeze=squeeze, proc_func=proc_func)
