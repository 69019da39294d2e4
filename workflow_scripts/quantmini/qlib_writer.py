"""Publish a Qlib provider directory (calendars/, instruments/, features/) from a polars frame of bars.

Layout (Qlib's own binary format, as pyqlib 0.9.7 reads it; README "gold" has the fields):
``features/<fname>/<field>.<freq>.bin`` is little-endian float32; element 0 is the calendar index of the
symbol's first bar, then one value per session up to its last bar, NaN where it has no bar. ``fname`` is
pyqlib's ``code_to_fname(symbol).lower()`` (reserved Windows device names get the ``_qlib_`` prefix).

Incremental and exact: every run computes the bytes a fresh build would write and compares them with what
is on disk. Equal -> untouched; the old file is a prefix (and a whole number of float32) -> only the tail is
appended; anything else (history changed, calendar start moved, torn or foreign file) -> replaced
atomically. Field files of this freq for symbols no longer in ``bars`` are removed. So the result is
byte-identical to a full build into an empty directory, whatever the previous state was.

Crash and reader safety, and the choice made for durability:
- A replacement is written to a temp file beside the final name and ``os.replace``d over it: a reader sees
  the old file or the new one, never a mix. An append happens in place; a reader that opened the file
  meanwhile may see extra trailing values (or a torn last float, which pyqlib floors away) but pyqlib slices
  by calendar index, and the calendar is replaced only after all features, so it never reads past the
  calendar it knows.
- A file that did not exist is created under its final name (no temp file: a fresh build is 16,000 creates).
  No calendar or instruments line refers to it until the publish ends; torn by a crash it is either a
  byte-prefix of the right contents or a wrong length, which the next run completes or rewrites.
- A crash mid-append leaves a file that is either still a byte-prefix of the right contents (the next run
  appends the rest) or has a length that is not a multiple of 4 / differs from the expected bytes (the
  next run rewrites it). Stale temp files of this freq are deleted by the next run.
- Durability: instead of one fsync per feature file (on ext4 the fsyncs of a build's 16,000 files would
  cost more than the whole build; bench/README.md), feature files are written without fsync and one
  ``syncfs(2)`` barrier on the provider's filesystem runs before instruments/ and calendars/ are replaced
  (those two go through ``quantmini.atomic.atomic_path``, fsynced). So a new calendar never refers to
  unflushed feature data. A crash before the barrier may leave files of this run torn or (on filesystems
  without ext4's auto_da_alloc ordering of rename-over-existing) empty under the previous calendar until
  the next publish, which detects every such file by its bytes and rewrites it. ``fsync_each=True`` sends
  every feature file through ``atomic_path`` (fsync per file) instead.
- Not atomic as a whole: during a publish that rewrites history, a reader can see some fields of a symbol
  already rewritten and others not. Single writer per provider directory (Snakemake runs one job per
  output). instruments/all.txt is shared by all freqs in a provider dir: use one provider dir per freq.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import os
import re
import secrets
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl

from quantmini.atomic import atomic_path, write_text

# pyqlib 0.9.7 qlib.utils.code_to_fname: these names (compared upper-case) get the prefix.
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10)), *(f"LPT{i}" for i in range(10))}
_RESERVED_PREFIX = "_qlib_"
_FREQ_RE = re.compile(r"^(day|\d+min)$")
_FIELD_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
_BAD_SYMBOL_CHARS = re.compile(r"[/\\\s\x00]")
# Elements (float32) per in-memory block; bounds peak memory for big (e.g. 1min) inputs.
_BLOCK_ELEMENTS = 32_000_000


class PublishError(ValueError):
    """Input that cannot be published; the message names the problem in one line."""


class StaleState(RuntimeError):
    """An update found the provider directory unlike its publish state says: publish in full instead."""


@dataclasses.dataclass
class PublishStats:
    symbols: int = 0
    fields: int = 0
    sessions: int = 0
    files_created: int = 0
    files_appended: int = 0
    files_rewritten: int = 0
    files_unchanged: int = 0
    files_removed: int = 0
    bytes_written: int = 0
    calendar_written: bool = False
    instruments_written: bool = False
    seconds: float = 0.0
    sync_seconds: float = 0.0  # of which in the durability barrier


def symbol_dirname(symbol: str) -> str:
    """Directory name pyqlib looks up for a symbol: code_to_fname(symbol).lower()."""
    return (_RESERVED_PREFIX + symbol if symbol.upper() in _RESERVED else symbol).lower()


def time_format(freq: str) -> str:
    """strftime format of calendar lines and instrument spans for a freq."""
    return "%Y-%m-%d" if freq == "day" else "%Y-%m-%d %H:%M:%S"


def feature_path(provider_dir: Path, symbol: str, field: str, freq: str = "day") -> Path:
    return Path(provider_dir) / "features" / symbol_dirname(symbol) / f"{field.lower()}.{freq}.bin"


def read_bin(path: str | os.PathLike) -> tuple[int, np.ndarray]:
    """(calendar index of the first value, float32 values) of one feature file."""
    raw = np.fromfile(path, dtype="<f4")
    if raw.size == 0:
        raise PublishError(f"{path}: empty feature file")
    return int(raw[0]), raw[1:]


# ----------------------------------------------------------------------------------------------- inputs


def _calendar_series(calendar: Sequence[date | datetime], freq: str, dtype: pl.DataType) -> pl.Series:
    if freq == "day":
        cal = pl.Series("cal", list(calendar), dtype=pl.Date)
    else:
        cal = pl.Series("cal", list(calendar)).cast(dtype)
    if cal.null_count():
        raise PublishError("calendar contains null entries")
    keys = cal.cast(pl.Int64).to_numpy()
    if len(keys) > 1 and not (np.diff(keys) > 0).all():
        k = int(np.argmin(np.diff(keys) > 0))
        raise PublishError(f"calendar is not strictly increasing at {cal[k]} -> {cal[k + 1]}")
    return cal


def _check_inputs(bars: pl.DataFrame, fields: Sequence[str], freq: str) -> None:
    if not _FREQ_RE.match(freq):
        raise PublishError(f"freq {freq!r} is not 'day' or '<n>min'")
    missing = [c for c in ("symbol", "date", *fields) if c not in bars.columns]
    if missing:
        raise PublishError(f"bars lacks column(s) {missing}")
    if not fields:
        raise PublishError("no fields to publish")
    bad = [f for f in fields if not _FIELD_RE.match(f)]
    if bad:
        raise PublishError(f"field names must be lower-case identifiers, got {bad}")
    if len(set(fields)) != len(fields):
        raise PublishError(f"duplicate field names in {list(fields)}")
    for f in fields:
        if not bars.schema[f].is_numeric():
            raise PublishError(f"field {f!r} has non-numeric dtype {bars.schema[f]}")
    if not isinstance(bars.schema["symbol"], (pl.String, pl.Categorical, pl.Enum)):
        raise PublishError(f"column 'symbol' must be a string, got {bars.schema['symbol']}")
    want = pl.Date if freq == "day" else pl.Datetime
    if not isinstance(bars.schema["date"], want):
        raise PublishError(f"column 'date' must be {want} for freq={freq!r}, got {bars.schema['date']}")
    if bars["symbol"].null_count() or bars["date"].null_count():
        raise PublishError("bars has null symbol or date")


def _dirnames(symbols: pl.Series) -> pl.Series:
    """symbol_dirname, vectorised."""
    reserved = symbols.str.to_uppercase().is_in(sorted(_RESERVED))
    return pl.select(
        pl.when(reserved).then(pl.lit(_RESERVED_PREFIX) + symbols).otherwise(symbols).str.to_lowercase()
    ).to_series()


def _check_symbols(symbols: pl.Series) -> None:
    """Symbols become directory names: reject path-unsafe names and names that collide case-insensitively."""
    bad = symbols.filter(
        symbols.str.contains(_BAD_SYMBOL_CHARS.pattern) | (symbols.str.len_chars() == 0) | symbols.str.starts_with(".")
    )
    if len(bad):
        raise PublishError(f"symbol(s) not usable as a file name: {bad.head(5).to_list()}")
    dup = _dirnames(symbols).is_duplicated()
    if dup.any():
        raise PublishError(f"symbols collide in one directory (case-insensitive): {symbols.filter(dup).head(6).to_list()}")


# ----------------------------------------------------------------------------------------------- layout


@dataclasses.dataclass
class _Layout:
    """Where every bar goes: bars sorted by (symbol, session); one flat float32 buffer per field holds
    every symbol's file contents back to back (header slot + span), so a file is one contiguous slice."""

    symbols: list[str]  # sorted
    first: np.ndarray  # calendar index of each symbol's first bar
    last: np.ndarray  # ... and last bar
    row_start: np.ndarray  # each symbol's first row in `order` (len symbols + 1)
    order: pl.Series | None  # row permutation of bars sorting them by (symbol, session); None: sorted already
    cal_idx: np.ndarray  # calendar index per sorted row

    @property
    def file_len(self) -> np.ndarray:
        return self.last - self.first + 2  # header + span


def _calendar_index(bars: pl.DataFrame, cal: pl.Series) -> np.ndarray:
    """Calendar index of every bar (raises if a bar is not on the calendar)."""
    cal_keys = cal.cast(pl.Int64).to_numpy()
    bar_keys = bars["date"].cast(cal.dtype).cast(pl.Int64).to_numpy()
    if len(cal_keys) and cal_keys[-1] - cal_keys[0] < 4 * len(cal_keys) + 1_000_000:
        # dense lookup table (e.g. days): one gather instead of a binary search per bar
        table = np.full(int(cal_keys[-1] - cal_keys[0]) + 1, -1, dtype=np.int64)
        table[cal_keys - cal_keys[0]] = np.arange(len(cal_keys))
        rel = bar_keys - cal_keys[0]
        ok = (rel >= 0) & (rel < len(table))
        idx = np.full(len(bar_keys), -1, dtype=np.int64)
        idx[ok] = table[rel[ok]]
    else:
        idx = np.searchsorted(cal_keys, bar_keys)
        hit = idx < len(cal_keys)
        hit[hit] = cal_keys[idx[hit]] == bar_keys[hit]
        idx[~hit] = -1
    outside = idx < 0
    if outside.any():
        out = bars.filter(pl.Series(outside)).select("symbol", "date").head(3).rows()
        raise PublishError(f"{int(outside.sum())} bar(s) fall outside the calendar, e.g. {out}")
    return idx


def _runs(sym: pl.Series) -> np.ndarray:
    """True where a new run of equal symbols starts."""
    rid = sym.rle_id().to_numpy()
    return np.r_[True, rid[1:] != rid[:-1]] if len(rid) else np.zeros(0, dtype=bool)


def _layout(bars: pl.DataFrame, cal: pl.Series) -> _Layout:
    ci = _calendar_index(bars, cal)
    sym = bars["symbol"].cast(pl.String)
    new_sym = _runs(sym)
    heads = sym.filter(pl.Series(new_sym))
    in_order = bool((heads.slice(1) > heads.slice(0, max(len(heads) - 1, 0))).all()) and bool(
        np.all((ci[1:] > ci[:-1]) | new_sym[1:])
    )
    if in_order:  # silver is usually sorted already: skip the sort and the gathers
        order = None
    else:
        order = pl.DataFrame({"symbol": sym, "ci": ci}).select(pl.arg_sort_by(["symbol", "ci"])).to_series()
        sym, ci = sym.gather(order), ci[order.to_numpy()]
        new_sym = _runs(sym)
    dup = ~new_sym[1:] & (ci[1:] == ci[:-1])
    if dup.any():
        k = int(np.argmax(dup)) + 1
        raise PublishError(f"duplicate bar for symbol {sym[k]!r} at {cal[int(ci[k])]}")
    starts = np.flatnonzero(new_sym)
    row_start = np.append(starts, len(ci))
    symbols = sym.gather(starts).to_list()
    _check_symbols(pl.Series(symbols, dtype=pl.String))
    return _Layout(
        symbols=symbols,
        first=ci[starts],
        last=ci[row_start[1:] - 1],
        row_start=row_start,
        order=order,
        cal_idx=ci,
    )


def _blocks(lay: _Layout) -> list[tuple[int, int]]:
    """Split symbols into consecutive ranges whose files hold at most ~_BLOCK_ELEMENTS floats together."""
    out, lo, acc = [], 0, 0
    for i, n in enumerate(lay.file_len.tolist()):
        if acc and acc + n > _BLOCK_ELEMENTS:
            out.append((lo, i))
            lo, acc = i, 0
        acc += n
    if lo < len(lay.symbols):
        out.append((lo, len(lay.symbols)))
    return out


# ----------------------------------------------------------------------------------------------- writing


_UNCHANGED, _APPENDED, _REWRITTEN, _CREATED = range(4)
_FILES_PER_TASK = 256


def _write_fd(fd: int, data: memoryview) -> None:
    while data:
        data = data[os.write(fd, data) :]


def _replace_file(path: str, data: memoryview, tmp_suffix: str, fsync_each: bool) -> None:
    if fsync_each:
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            fh.write(data)
        return
    head, name = os.path.split(path)
    tmp = os.path.join(head, f".{name}.{tmp_suffix}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            _write_fd(fd, data)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _create_file(path: str, data: memoryview, tmp_suffix: str, fsync_each: bool) -> None:
    """A file that did not exist is written under its final name: no temp file and rename, which are a
    third of the cost of a fresh build on tmpfs. Torn by a crash, it is a prefix or a wrong length, and
    the next publish appends the rest or rewrites it; no calendar or instruments line refers to it yet."""
    if fsync_each:
        _replace_file(path, data, tmp_suffix, fsync_each)
        return
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:  # appeared since the directory scan: replace it atomically instead
        _replace_file(path, data, tmp_suffix, fsync_each)
        return
    try:
        _write_fd(fd, data)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        raise
    os.close(fd)


def _sync_file(path: str, data: memoryview, exists: bool, tmp_suffix: str, fsync_each: bool,
               keep: int = 0) -> tuple[int, int]:
    """Make `path` hold exactly `data`, touching it as little as possible: (outcome, bytes written).

    `keep` > 0 (an update, `update`): `data` holds the file's bytes from offset `keep` on, and the file's
    first `keep` bytes are known to be right already (they are taken from it); a file shorter than that,
    or missing, raises StaleState."""
    fd = -1
    if exists or keep:
        with contextlib.suppress(FileNotFoundError):
            fd = os.open(path, os.O_RDWR | os.O_APPEND)  # one open serves the compare and the append
    if fd < 0:
        if keep:
            raise StaleState(f"{path}: missing, the publish state says it has {keep} bytes")
        _create_file(path, data, tmp_suffix, fsync_each)
        return _CREATED, len(data)
    try:
        if keep:
            old = os.pread(fd, keep + len(data) + 1, 0)
            if len(old) < keep:
                raise StaleState(f"{path}: {len(old)} bytes, the publish state says at least {keep}")
            data = memoryview(old[:keep] + bytes(data))
        n = len(data)
        old = os.pread(fd, n + 1, 0) if not keep else old
        m = len(old)
        blob = bytes(data)  # bytes compare with memcmp; memoryview compares element by element (~20x slower)
        if m == n and blob == old:
            return _UNCHANGED, 0
        if 4 <= m < n and m % 4 == 0 and blob.startswith(old):
            _write_fd(fd, data[m:])
            if fsync_each:
                os.fsync(fd)
            return _APPENDED, n - m
    finally:
        os.close(fd)
    _replace_file(path, data, tmp_suffix, fsync_each)
    return _REWRITTEN, n


def _sync_files(raw: memoryview, jobs: list[tuple[str, int, int, bool, int]], tmp_suffix: str,
                fsync_each: bool) -> np.ndarray:
    """_sync_file for (path, byte offset, byte end, exists, keep) slices of `raw`: counts per outcome + bytes."""
    out = np.zeros(5, dtype=np.int64)
    for path, a, b, exists, keep in jobs:
        outcome, nbytes = _sync_file(path, raw[a:b], exists, tmp_suffix, fsync_each, keep)
        out[outcome] += 1
        out[4] += nbytes
    return out


class _IoThreads:
    """Runs the file tasks on one thread, or on a pool when the disk makes each file slow.

    Where creating a file costs kernel time (an ext4 inode costs ~100x a tmpfs one) the GIL is free
    meanwhile and threads shorten a fresh build; where files are cheap, threads only fight over the GIL
    (figures: bench/README.md). With `n=None` the first task runs alone and is timed: `slow_file` or more
    per file switches to the pool.
    """

    slow_file = 40e-6  # seconds per file
    pool_size = 4

    def __init__(self, n: int | None):
        self._n = n
        self._pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> _IoThreads:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    def map(self, fn, tasks: list[list]) -> list:
        out = []
        if self._n is None and tasks:  # time the first task alone, then decide once for this publish
            t = time.perf_counter()
            out.append(fn(tasks[0]))
            slow = (time.perf_counter() - t) / max(1, len(tasks[0])) >= self.slow_file
            self._n = self.pool_size if slow else 1
            tasks = tasks[1:]
        if self._pool is None and (self._n or 1) > 1:
            self._pool = ThreadPoolExecutor(self._n)
        out.extend(map(fn, tasks) if self._pool is None else self._pool.map(fn, tasks))
        return out


def _syncfs(path: Path) -> None:
    """Flush the filesystem holding `path` (Linux syncfs(2)); os.sync() (every filesystem) elsewhere."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open(path, os.O_RDONLY)
    except (OSError, AttributeError):
        os.sync()
        return
    try:
        if getattr(libc, "syncfs", None) is None or libc.syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def _existing(features: Path, freq: str) -> dict[str, set[str]]:
    """{symbol dir: names of entries in it that belong to this freq (field files and our temp files)}."""
    out: dict[str, set[str]] = {}
    if not features.is_dir():
        return out
    suffix = f".{freq}.bin"
    for d in os.scandir(features):
        if d.is_dir():
            out[d.name] = {e.name for e in os.scandir(d.path) if e.name.endswith(suffix) or (
                e.name.startswith(".") and e.name.endswith(".tmp") and suffix + "." in e.name)}
    return out


def publish(
    provider_dir: Path,
    bars: pl.DataFrame,
    calendar: list[date],
    fields: list[str],
    freq: str = "day",
    *,
    fsync_each: bool = False,
    io_threads: int | None = None,
    market: str = "all",
) -> PublishStats:
    """Make `provider_dir` a Qlib provider holding exactly `bars` on `calendar` for `fields` (see module doc).

    `bars`: one row per (symbol, date); `date` is pl.Date for freq="day", pl.Datetime for "<n>min".
    Raises PublishError (one line) on bad input before anything is written. `io_threads`: threads for
    the file writes (the result does not depend on it); None picks by the speed of the disk (`_IoThreads`).
    `market`: the instruments file written (instruments/<market>.txt); another freq sharing the provider
    dir (e.g. 1min beside day) names its own market so the two never overwrite each other's spans.
    """
    return publish_with_spans(provider_dir, bars, calendar, fields, freq, fsync_each=fsync_each,
                              io_threads=io_threads, market=market)[0]


def _prepared(provider_dir, bars: pl.DataFrame, calendar: list[date], fields, freq: str):
    """What `publish` and `update` both start from: the provider's path, the fields checked against the
    bars, the calendar series and the bars' layout on it."""
    fields = list(fields)
    _check_inputs(bars, fields, freq)
    cal = _calendar_series(calendar, freq, bars.schema["date"])
    return Path(provider_dir), fields, cal, _layout(bars, cal)


def publish_with_spans(provider_dir: Path, bars: pl.DataFrame, calendar: list[date], fields: list[str],
                       freq: str = "day", *, fsync_each: bool = False, io_threads: int | None = None,
                       market: str = "all") -> tuple[PublishStats, pl.DataFrame]:
    """`publish`, and the published spans (symbol, first, last: calendar indexes), the state `update` needs."""
    t0 = time.perf_counter()
    provider_dir, fields, cal, lay = _prepared(provider_dir, bars, calendar, fields, freq)
    stats = PublishStats(symbols=len(lay.symbols), fields=len(fields), sessions=len(cal))
    features = provider_dir / "features"
    existing = _existing(features, freq)
    dirnames = _dirnames(pl.Series(lay.symbols, dtype=pl.String)).to_list()
    counts = _write_fields(features, bars, lay, dirnames, lambda k, name: name in existing.get(dirnames[k], ()),
                           np.zeros(len(lay.symbols), dtype=np.int64), fields, freq, fsync_each, io_threads,
                           make_dirs=[dn for dn in dirnames if dn not in existing])
    spans = pl.DataFrame({"symbol": lay.symbols, "first": lay.first, "last": lay.last},
                         schema={"symbol": pl.String, "first": pl.Int64, "last": pl.Int64})
    _finish(provider_dir, stats, counts, cal, spans, freq, market, fsync_each)

    # Last: drop files of this freq that a fresh build would not have (vanished symbols/fields, temp files).
    keep_dirs = set(dirnames)
    keep_files = {f"{f}.{freq}.bin" for f in fields}
    for dn, names in existing.items():
        kept = dn in keep_dirs
        for name in names:
            if kept and name in keep_files:
                continue
            (features / dn / name).unlink(missing_ok=True)
            stats.files_removed += not name.endswith(".tmp")
        if not kept:
            try:
                (features / dn).rmdir()  # only if no other freq lives there
            except OSError:
                pass
    stats.seconds = time.perf_counter() - t0
    return stats, spans


def update(provider_dir: Path, bars: pl.DataFrame, calendar: list[date], fields: list[str], freq: str = "day",
           *, spans: pl.DataFrame, keep_before: int, rewrite: Sequence[str] = (), remove: Sequence[str] = (),
           fsync_each: bool = False,
           io_threads: int | None = None, market: str = "all") -> tuple[PublishStats, pl.DataFrame]:
    """Bring a provider published with `spans` (symbol, first, last) to the state a full `publish` of the
    whole lake would leave, given only what changed: the result is byte-identical to that publish.

    `bars` holds, for every symbol it names, either its whole history (symbols named in `rewrite`, or new:
    their files are written like `publish` does) or only its bars from calendar index `keep_before` on
    (a symbol of `spans` whose bars before that index are unchanged: its files keep their bytes up to
    there and get the rest appended, or rewritten when a revised bar differs). Symbols of `spans` not in
    `bars` stay as they are; `remove` names symbols whose files of this freq go. Raises StaleState when a
    file is shorter than `spans` says (the caller then publishes in full). Returns the stats and the new
    spans.
    """
    t0 = time.perf_counter()
    provider_dir, fields, cal, lay = _prepared(provider_dir, bars, calendar, fields, freq)
    old = spans.filter(~pl.col("symbol").is_in(list(remove)))
    known = dict(zip(old["symbol"].to_list(), zip(old["first"].to_list(), old["last"].to_list())))
    keep = np.zeros(len(lay.symbols), dtype=np.int64)
    full = set(rewrite)
    for k, sym in enumerate(lay.symbols):
        if sym in known and sym not in full:  # a tail: the file's prefix is kept
            first, last = known[sym]
            if first >= keep_before:  # every bar of it is in `bars`: written whole
                continue
            if int(lay.first[k]) < keep_before:
                raise PublishError(f"update: {sym!r} has a bar before the kept prefix ends")
            keep[k] = min(last + 1, keep_before) - first + 1  # floats, header included
            lay.first[k] = first
    features = provider_dir / "features"
    dirnames = _dirnames(pl.Series(lay.symbols, dtype=pl.String)).to_list()
    counts = _write_fields(features, bars, lay, dirnames, lambda k, name: True, keep, fields, freq, fsync_each,
                           io_threads, make_dirs=[dn for k, dn in enumerate(dirnames) if lay.symbols[k] not in known])
    new = pl.DataFrame({"symbol": lay.symbols, "first": lay.first, "last": lay.last},
                       schema={"symbol": pl.String, "first": pl.Int64, "last": pl.Int64})
    merged = pl.concat([old.filter(~pl.col("symbol").is_in(lay.symbols)), new]).sort("symbol")
    stats = PublishStats(symbols=merged.height, fields=len(fields), sessions=len(cal))
    _finish(provider_dir, stats, counts, cal, merged, freq, market, fsync_each)
    suffix = f".{freq}.bin"
    for sym in remove:
        if sym in lay.symbols:
            continue
        d = features / symbol_dirname(sym)
        if not d.is_dir():
            continue
        for e in os.scandir(d):
            if e.name.endswith(suffix) or (e.name.startswith(".") and e.name.endswith(".tmp") and suffix + "." in e.name):
                os.unlink(e.path)
                stats.files_removed += not e.name.endswith(".tmp")
        with contextlib.suppress(OSError):
            d.rmdir()
    stats.seconds = time.perf_counter() - t0
    return stats, merged


def _write_fields(features: Path, bars: pl.DataFrame, lay: _Layout, dirnames: list[str], exists, keep: np.ndarray,
                  fields: list[str], freq: str, fsync_each: bool, io_threads: int | None,
                  make_dirs: list[str]) -> np.ndarray:
    """Write every field file of the layout's symbols; a symbol's file from float `keep[k]` on (see update).
    Returns the counts per outcome and the bytes written."""
    for dn in make_dirs:
        (features / dn).mkdir(parents=True, exist_ok=True)
    sym_dirs = [os.path.join(features, dn) for dn in dirnames]
    tmp_suffix = f"{os.getpid()}-{secrets.token_hex(4)}.tmp"  # the writer's pid: see atomic.temp_owner
    counts = np.zeros(5, dtype=np.int64)
    blocks = _blocks(lay)
    order = None if lay.order is None else lay.order.to_numpy()
    with _IoThreads(io_threads) as threads:
        for lo, hi in blocks:
            r0, r1 = int(lay.row_start[lo]), int(lay.row_start[hi])
            kept = keep[lo:hi]
            offs = np.concatenate(([0], np.cumsum(lay.file_len[lo:hi] - kept)))
            # flat position of each row's value: its symbol's offset + 1 (header) + index within its span
            # - the floats of the file kept as they are
            sym_of_row = np.repeat(np.arange(hi - lo), np.diff(lay.row_start[lo : hi + 1]))
            pos = offs[:-1][sym_of_row] + 1 + (lay.cal_idx[r0:r1] - lay.first[lo:hi][sym_of_row]) - kept[sym_of_row]
            del sym_of_row
            if order is not None and len(blocks) == 1:  # scatter straight from the unsorted columns
                pos_in_bars_order = np.empty_like(pos)
                pos_in_bars_order[order] = pos
                pos, rows = pos_in_bars_order, None
            else:
                rows = None if order is None else pl.Series(order[r0:r1])
            byte_offs = (4 * offs).tolist()
            headed = kept == 0
            for field in fields:
                col = bars.get_column(field)
                col = col.slice(r0, r1 - r0) if order is None else col if rows is None else col.gather(rows)
                if not col.dtype.is_float():
                    col = col.cast(pl.Float64)
                buf = np.full(int(offs[-1]), np.nan, dtype="<f4")
                buf[offs[:-1][headed]] = lay.first[lo:hi][headed]
                buf[pos] = col.to_numpy()  # float64 -> float32 rounds to nearest, as Qlib's astype("<f"); null -> NaN
                raw = memoryview(buf).cast("B")
                name = f"{field}.{freq}.bin"
                jobs = [
                    (f"{sym_dirs[k]}/{name}", byte_offs[k - lo], byte_offs[k - lo + 1], exists(k, name),
                     4 * int(kept[k - lo]))
                    for k in range(lo, hi)
                ]
                tasks = [jobs[i : i + _FILES_PER_TASK] for i in range(0, len(jobs), _FILES_PER_TASK)]
                for c in threads.map(lambda t, raw=raw: _sync_files(raw, t, tmp_suffix, fsync_each), tasks):
                    counts += c
                del buf, raw
    return counts


def _finish(provider_dir: Path, stats: PublishStats, counts: np.ndarray, cal: pl.Series, spans: pl.DataFrame,
            freq: str, market: str, fsync_each: bool) -> None:
    """Count the file outcomes, run the durability barrier, then write instruments and calendar."""
    stats.files_unchanged, stats.files_appended, stats.files_rewritten, stats.files_created = map(int, counts[:4])
    stats.bytes_written = int(counts[4])
    changed = stats.bytes_written > 0 or counts[1:4].sum() > 0
    if changed and not fsync_each:
        t = time.perf_counter()
        _syncfs(provider_dir / "features")  # feature bytes reach disk before the calendar can refer to them
        stats.sync_seconds = time.perf_counter() - t
    fmt = time_format(freq)
    cal_text = "".join(f"{s}\n" for s in cal.dt.strftime(fmt).to_list())
    first = spans["first"].to_numpy()
    last = spans["last"].to_numpy()
    starts = cal.gather(first).dt.strftime(fmt).to_list() if len(cal) else []
    ends = cal.gather(last).dt.strftime(fmt).to_list() if len(cal) else []
    inst_text = "".join(f"{s}\t{a}\t{b}\n" for s, a, b in zip(spans["symbol"].to_list(), starts, ends))
    stats.instruments_written = _write_if_changed(provider_dir / "instruments" / f"{market}.txt", inst_text)
    stats.calendar_written = _write_if_changed(provider_dir / "calendars" / f"{freq}.txt", cal_text)


def _write_if_changed(path: Path, text: str) -> bool:
    data = text.encode()
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    write_text(path, text)
    return True
