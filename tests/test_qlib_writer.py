"""The Qlib gold writer: real pyqlib reads what we publish; incremental publishes equal a fresh full build."""

from __future__ import annotations

import math
import os
import struct
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from quantmini.calendar import sessions
from quantmini.qlib_reader import pyqlib_read
from quantmini.qlib_writer import PublishError, publish, read_bin

FIELDS = ["open", "high", "low", "close", "volume", "vwap", "factor", "change"]
CAL = sessions("2024-01-02", "2024-04-30")  # 82 sessions


def _series(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, n)))
    op = close * (1 + rng.normal(0, 0.01, n))
    return {
        "open": op,
        "high": np.maximum(op, close) * (1 + rng.uniform(0, 0.01, n)),
        "low": np.minimum(op, close) * (1 - rng.uniform(0, 0.01, n)),
        "close": close,
        "volume": rng.integers(1_000, 1_000_000, n).astype(float),
        "vwap": (op + close) / 2,
        "factor": np.ones(n),
        "change": np.r_[np.nan, close[1:] / close[:-1] - 1],
    }


def make_bars(cal: list[date], split_at: date | None = None, drop: tuple[str, ...] = ()) -> pl.DataFrame:
    """Synthetic bars on `cal`: a full history, a gap, an IPO, a delisting, a reserved name, and SPLT whose
    factor (and so every adjusted price before `split_at`) changes once a split is known."""
    n = len(CAL)
    days = {
        "AAPL": list(range(n)),
        "GAPY": [i for i in range(n) if not 10 <= i < 15 and i != 40],
        "IPOX": list(range(20, n)),
        "DELI": list(range(0, 30)),
        "CON": list(range(5, n, 2)),  # reserved device name, trades every other session
        "SPLT": list(range(n)),
    }
    frames = []
    for k, (sym, idx) in enumerate(days.items()):
        if sym in drop:
            continue
        vals = _series(np.random.default_rng(k), n)
        if sym == "SPLT" and split_at is not None:
            before = np.array([d < split_at for d in CAL])
            vals["factor"] = np.where(before, 0.5, 1.0)
            for f in ("open", "high", "low", "close", "vwap"):
                vals[f] = vals[f] * vals["factor"]
            vals["volume"] = vals["volume"] / vals["factor"]
        keep = [i for i in idx if CAL[i] in set(cal)]
        frame = {"symbol": [sym] * len(keep), "date": [CAL[i] for i in keep]}
        frame.update({f: vals[f][keep] for f in FIELDS})
        frames.append(pl.DataFrame(frame, schema={"symbol": pl.String, "date": pl.Date, **{f: pl.Float64 for f in FIELDS}}))
    bars = pl.concat(frames)
    # a null inside a bar must come out as NaN, and row order must not matter
    bars = bars.with_columns(
        pl.when((pl.col("symbol") == "AAPL") & (pl.col("date") == CAL[7])).then(None).otherwise(pl.col("vwap")).alias("vwap")
    )
    return bars.sample(fraction=1.0, shuffle=True, seed=1)


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def expected_frame(bars: pl.DataFrame, cal: list[date]) -> pd.DataFrame:
    """Independent expectation: per symbol, its bars reindexed to the calendar between its first and last bar."""
    pdf = bars.to_pandas()
    pdf["date"] = pd.to_datetime(pdf["date"])
    cal_ts = pd.DatetimeIndex(pd.to_datetime(cal))
    parts = {}
    for sym, g in pdf.groupby("symbol"):
        g = g.set_index("date").sort_index()
        span = cal_ts[(cal_ts >= g.index.min()) & (cal_ts <= g.index.max())]
        parts[sym] = g.reindex(span)[FIELDS].astype(np.float32)
    out = pd.concat(parts, names=["instrument", "datetime"])
    out.columns = [f"${f}" for f in FIELDS]
    return out


def test_pyqlib_reads_what_we_publish(tmp_path: Path) -> None:
    bars = make_bars(CAL, split_at=CAL[50])
    stats = publish(tmp_path, bars, CAL, FIELDS)
    assert stats.files_created == 6 * len(FIELDS) and stats.symbols == 6
    assert (tmp_path / "features" / "_qlib_con" / "close.day.bin").is_file()

    view = pyqlib_read(tmp_path, [f"${f}" for f in FIELDS])

    assert [t.date() for t in view.calendar] == CAL
    firsts = bars.group_by("symbol").agg(pl.col("date").min().alias("a"), pl.col("date").max().alias("b"))
    want_spans = {s: [(pd.Timestamp(a), pd.Timestamp(b))] for s, a, b in firsts.iter_rows()}
    assert view.spans == want_spans
    assert view.spans["DELI"] == [(pd.Timestamp(CAL[0]), pd.Timestamp(CAL[29]))]
    assert view.spans["IPOX"][0][0] == pd.Timestamp(CAL[20])

    got = view.features.sort_index()
    want = expected_frame(bars, CAL).sort_index()
    assert (got.dtypes == np.float32).all()
    assert got.index.equals(want.index)
    np.testing.assert_array_equal(got.to_numpy(), want.to_numpy())  # NaN == NaN here: gaps exactly aligned
    gapy = got.loc["GAPY", "$close"]
    assert gapy.loc[pd.Timestamp(CAL[10]) : pd.Timestamp(CAL[14])].isna().all()
    assert gapy.isna().sum() == 6  # sessions 10-14 and 40
    assert math.isnan(got.loc[("AAPL", pd.Timestamp(CAL[7])), "$vwap"])
    assert got.loc["CON", "$close"].isna().sum() == len(got.loc["CON"]) // 2


def test_hand_checked_bin(tmp_path: Path) -> None:
    cal = sessions("2024-01-02", "2024-01-09")  # Jan 2,3,4,5,8,9
    bars = pl.DataFrame(
        {"symbol": ["X", "X", "X"], "date": [cal[1], cal[2], cal[4]], "close": [1.5, 2.25, -3.0]},
        schema={"symbol": pl.String, "date": pl.Date, "close": pl.Float64},
    )
    publish(tmp_path, bars, cal, ["close"])
    want = struct.pack("<5f", 1.0, 1.5, 2.25, float("nan"), -3.0)  # start index 1, then Jan 3,4,(5 missing),8
    assert (tmp_path / "features/x/close.day.bin").read_bytes() == want
    assert read_bin(tmp_path / "features/x/close.day.bin")[0] == 1
    assert (tmp_path / "instruments/all.txt").read_text() == "X\t2024-01-03\t2024-01-08\n"
    assert (tmp_path / "calendars/day.txt").read_text() == "2024-01-02\n2024-01-03\n2024-01-04\n2024-01-05\n2024-01-08\n2024-01-09\n"


def test_incremental_publishes_equal_a_full_build(tmp_path: Path) -> None:
    inc, full = tmp_path / "inc", tmp_path / "full"
    publish(inc, make_bars(CAL[:60]), CAL[:60], FIELDS)
    for k in range(61, len(CAL) + 1):
        split = CAL[50] if k >= 70 else None  # a split becomes known at session 69: SPLT's history changes
        drop = ("DELI",) if k >= 75 else ()  # DELI vanishes from the data
        before = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in inc.rglob("*.bin")}
        stats = publish(inc, make_bars(CAL[:k], split_at=split, drop=drop), CAL[:k], FIELDS)
        if k == 61:  # a plain new day: AAPL, GAPY, IPOX, SPLT append; DELI (delisted) and CON (off day) untouched
            assert (stats.files_appended, stats.files_rewritten, stats.files_created) == (4 * len(FIELDS), 0, 0)
            assert stats.files_unchanged == 2 * len(FIELDS)
            deli = inc / "features/deli/close.day.bin"
            assert (deli.stat().st_mtime_ns, deli.stat().st_size) == before[deli]
        if k == 70:
            assert stats.files_rewritten == 7  # SPLT: open high low close vwap factor volume (not change)
        if k == 75:
            assert stats.files_removed == len(FIELDS) and not (inc / "features/deli").exists()
    stats = publish(inc, make_bars(CAL, split_at=CAL[50], drop=("DELI",)), CAL, FIELDS)
    assert stats.bytes_written == 0 and not stats.calendar_written and not stats.instruments_written

    publish(full, make_bars(CAL, split_at=CAL[50], drop=("DELI",)), CAL, FIELDS)
    a, b = tree_bytes(inc), tree_bytes(full)
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []


def test_publish_heals_any_previous_state(tmp_path: Path) -> None:
    bars = make_bars(CAL, split_at=CAL[50])
    dirty, full = tmp_path / "dirty", tmp_path / "full"
    publish(dirty, make_bars(CAL[:40]), CAL[:40], FIELDS)
    f = dirty / "features"
    torn = f / "aapl/close.day.bin"
    torn.write_bytes(torn.read_bytes() + b"\x00\x00")  # crash mid-append: length not a multiple of 4
    (f / "gapy/open.day.bin").write_bytes(b"")  # crash before the data reached disk
    longer = f / "ipox/high.day.bin"
    longer.write_bytes(longer.read_bytes() + struct.pack("<2f", 1, 2))  # longer than it should be
    (f / "splt/.low.day.bin.deadbeef.tmp").write_bytes(b"junk")  # stale temp file
    (f / "splt/oldfield.day.bin").write_bytes(b"junk")  # a field no longer published
    (f / "gone").mkdir()
    (f / "gone/close.day.bin").write_bytes(struct.pack("<2f", 0, 1))  # a symbol no longer published
    (f / "splt/close.1min.bin").write_bytes(b"other freq")  # another freq's file must survive
    publish(dirty, bars, CAL, FIELDS)
    publish(full, bars, CAL, FIELDS)
    (f / "splt/close.1min.bin").unlink()
    assert tree_bytes(dirty) == tree_bytes(full)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda b: b.with_columns(pl.when(pl.col("symbol") == "AAPL").then(date(2024, 1, 6)).otherwise(pl.col("date")).alias("date")).unique(["symbol", "date"]), "outside the calendar"),
        (lambda b: pl.concat([b, b.head(1)]), "duplicate bar"),
        (lambda b: b.drop("vwap"), "lacks column"),
        (lambda b: b.with_columns(pl.col("symbol").str.replace("AAPL", "a/b")), "not usable as a file name"),
        (lambda b: b.with_columns(pl.col("symbol").str.replace("AAPL", "con")), "collide"),
    ],
)
def test_bad_input_is_refused_before_writing(tmp_path: Path, mutate, message: str) -> None:
    with pytest.raises(PublishError, match=message) as exc:
        publish(tmp_path / "p", mutate(make_bars(CAL[:30])), CAL[:30], FIELDS)
    assert "\n" not in str(exc.value)
    assert not (tmp_path / "p").exists()


def test_unsorted_calendar_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PublishError, match="strictly increasing"):
        publish(tmp_path, make_bars(CAL[:5]), [CAL[1], CAL[0], *CAL[2:5]], FIELDS)
    assert os.listdir(tmp_path) == []


def test_row_order_blocks_threads_and_fsync_do_not_change_the_bytes(tmp_path: Path, monkeypatch) -> None:
    import quantmini.qlib_writer as qw

    bars = make_bars(CAL, split_at=CAL[50])
    publish(tmp_path / "shuffled", bars, CAL, FIELDS)
    publish(tmp_path / "sorted", bars.sort("symbol", "date"), CAL, FIELDS)
    monkeypatch.setattr(qw, "_BLOCK_ELEMENTS", 100)  # ~one symbol per block: the gather path
    publish(tmp_path / "blocks", bars, CAL, FIELDS, io_threads=1, fsync_each=True)
    ref = tree_bytes(tmp_path / "shuffled")
    assert tree_bytes(tmp_path / "sorted") == ref
    assert tree_bytes(tmp_path / "blocks") == ref


def test_intraday_freq_is_read_by_pyqlib(tmp_path: Path) -> None:
    from datetime import datetime, timedelta

    minutes = [datetime(2024, 1, d, 9, 30) + timedelta(minutes=m) for d in (2, 3) for m in range(5)]
    bars = pl.DataFrame(
        {"symbol": ["AAA"] * 3 + ["BBB"] * 9,
         "date": [minutes[i] for i in (1, 2, 4)] + [minutes[i] for i in range(10) if i != 5],
         "close": [1.0, 2.0, 3.0] + [10.0 + i for i in range(9)]},
        schema={"symbol": pl.String, "date": pl.Datetime("us"), "close": pl.Float64},
    )
    publish(tmp_path, bars, minutes, ["close"], freq="1min")
    assert (tmp_path / "calendars/1min.txt").read_text().splitlines()[:2] == ["2024-01-02 09:30:00", "2024-01-02 09:31:00"]
    assert (tmp_path / "instruments/all.txt").read_text() == "AAA\t2024-01-02 09:31:00\t2024-01-02 09:34:00\nBBB\t2024-01-02 09:30:00\t2024-01-03 09:34:00\n"
    view = pyqlib_read(tmp_path, ["$close"], freq="1min")
    assert [t.to_pydatetime() for t in view.calendar] == minutes
    aaa = view.features.loc["AAA", "$close"]
    np.testing.assert_array_equal(aaa.to_numpy(), np.array([1, 2, np.nan, 3], dtype=np.float32))
    assert list(aaa.index) == [pd.Timestamp(m) for m in minutes[1:5]]
    assert view.features.loc["BBB", "$close"].isna().sum() == 1


def test_a_new_file_torn_by_a_crash_is_completed_by_the_next_publish(tmp_path: Path) -> None:
    """New files are written under their final name: a crash leaves a byte-prefix (or a torn float),
    and the next publish completes or rewrites it."""
    bars = make_bars(CAL)
    full, dirty = tmp_path / "full", tmp_path / "dirty"
    publish(full, bars, CAL, FIELDS)
    whole = (full / "features/ipox/close.day.bin").read_bytes()
    publish(dirty, bars.filter(pl.col("symbol") != "IPOX"), CAL, FIELDS)
    (dirty / "features/ipox").mkdir()
    (dirty / "features/ipox/close.day.bin").write_bytes(whole[:40])  # crashed after 10 floats
    (dirty / "features/ipox/open.day.bin").write_bytes(whole[:41])  # ... mid-float
    stats = publish(dirty, bars, CAL, FIELDS)
    assert stats.files_appended == 1 and stats.files_rewritten == 1
    assert tree_bytes(dirty) == tree_bytes(full)


def test_io_threads_follow_the_disk_and_never_change_the_bytes(tmp_path: Path) -> None:
    import time

    from quantmini.qlib_writer import _IoThreads

    def slow(task):
        time.sleep(_IoThreads.slow_file * 2 * len(task))
        return len(task)

    tasks = [[0] * 4] * 3
    with _IoThreads(None) as t:
        assert t.map(slow, tasks) == [4, 4, 4] and t._pool is not None  # slow files: a pool
    with _IoThreads(None) as t:
        assert t.map(len, tasks) == [4, 4, 4] and t._pool is None  # fast files: one thread
    bars = make_bars(CAL, split_at=CAL[50])
    for n in (None, 1, 4):
        publish(tmp_path / str(n), bars, CAL, FIELDS, io_threads=n)
    assert tree_bytes(tmp_path / "1") == tree_bytes(tmp_path / "4") == tree_bytes(tmp_path / "None")
