"""A deterministic synthetic US equity market: the ground truth the simulator serves.

Everything is a pure function of `MarketConfig`: the same config gives bit-identical data in any
process. Random draws come from numpy generators keyed by (seed, stream[, block of securities]) and
are drawn session-major, so the data of a session depends only on the seed, the start date and the
security -- never on `end`. Extending `end` therefore appends sessions without rewriting history
(what an incremental lake needs), and every event is placed at a session offset from `start`.

Prices are stored as int32 ticks of 1/10,000 dollar (the vendor's 4-decimal rounding, exact), volumes
and transaction counts as uint32, in (session x security) arrays.

Raw (unadjusted) bars show the corporate actions: on a split's execution date the raw price is
multiplied by split_from/split_to (a 2:1 split halves it) and the volume by its inverse; on a cash
dividend's ex-date the raw walk is multiplied by (1 - y), y being the dividend yield, and the
declared cash amount is D = round(y * raw close of the session before, 2).

CRSP-style back-adjustment (`daily_adjusted`), from the TRUE events inside the range:
    factor(t) = prod_{splits with e > t} (split_from / split_to)
              * prod_{dividends with ex-date e > t} (1 - D / raw_close[session before e])
so factor = 1 on and after the last event;
    adj_price = raw_price * factor,   adj_volume = raw_volume / factor.
`split_adjusted` (what `adjusted=true` serves) uses the split terms only, rounded like the vendor
(prices to 4 decimals, volume to 4 decimals).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import polars as pl

from quantmini import calendar
from quantmini.atomic import atomic_path

TICK = 10_000  # price ticks per dollar (4 decimals)
HORIZON = 2520  # sessions over which random lifecycle events are spread (~10 years from start)
NEVER = np.iinfo(np.int32).max // 2  # offset meaning "does not happen"
BLOCK = 256  # securities per random-number block
MIN_TICKS = 5001  # raw prices stay above $0.50
QUARTER = 63  # sessions between quarterly ex-dates
FIGI_ALPHABET = "BCDFGHJKLMNPQRSTVWXYZ0123456789"  # FIGIs use consonants and digits

# Roles forced into the first securities so every (even short, demo-sized) market shows each case
# within ~60 sessions of `start`: (role, session offset or phase, parameter).
FORCED_ROLES = [
    ("split", 15, (1.0, 2.0)),
    ("dividend", 5, None),
    ("split", 25, (10.0, 1.0)),
    ("ipo", 10, None),
    ("delist", 40, None),
    ("ticker_change", 35, None),
    ("split", 45, (1.0, 3.0)),
    ("ipo", 30, None),
    ("delist", 55, None),
    ("dividend", 12, None),
    ("dividend", 20, None),
    ("dividend", 33, None),
]


# Security types other than CS and ETF, as (lo, hi, type) bands of a uniform draw of stream 300.
OTHER_TYPES = [(0.0, 0.05, "ADRC"), (0.05, 0.08, "PFD"), (0.08, 0.10, "WARRANT")]
SECURITY_TYPES = ("CS", "ETF", "ADRC", "PFD", "WARRANT")


@dataclass(frozen=True)
class MarketConfig:
    """What the market is a function of. end None = the last XNYS session on or before today."""

    seed: int = 42
    n_tickers: int = 50
    start: dt.date | str = "2019-01-02"
    end: dt.date | str | None = None
    vendor_errors: bool = True
    # opt-in (classic tests compare served grouped bodies with daily_raw): extra bars in grouped
    # responses stamped on a non-session or on the wrong session, and a true split listed a second time
    # with a ratio the price jump does not show. daily_raw and every truth series stay as they are.
    extra_vendor_errors: bool = False
    # opt-in research mode (sim/planted.py): news sentiment carrying a known signal / a known leak
    plant_signal: float = 0.0
    plant_leak: float = 0.0

    def resolved_end(self) -> dt.date:
        if self.end is not None:
            return calendar.to_date(self.end)
        today = calendar.current_time().astimezone(calendar.NY).date()  # QUANTMINI_NOW pins it
        return calendar.sessions(today - dt.timedelta(days=15), today)[-1]


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _event_id(*parts: object) -> str:
    return "E" + hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()


def _encode(value: int, alphabet: str, width: int) -> str:
    out = []
    for _ in range(width):
        value, r = divmod(value, len(alphabet))
        out.append(alphabet[r])
    return "".join(reversed(out))


def _mix(x: int) -> int:
    """A 64-bit bijective mix (splitmix64 finaliser): spreads consecutive ids over the code space."""
    x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)


_SYLLABLES = ["ar", "bel", "cor", "dyn", "ex", "fal", "gen", "hal", "ion", "jun", "kel", "lum", "mer",
              "nov", "or", "pax", "quin", "ros", "sol", "tal", "ul", "ver", "wex", "xan", "yor", "zen"]
_SUFFIXES = ["Inc.", "Corp.", "Holdings Inc.", "Group Inc.", "Technologies Inc.", "Therapeutics Inc.",
             "Bancorp", "Energy Corp.", "Industries Inc.", "Systems Inc."]
_SIC = [("3571", "ELECTRONIC COMPUTERS"), ("2834", "PHARMACEUTICAL PREPARATIONS"),
        ("6022", "STATE COMMERCIAL BANKS"), ("7372", "SERVICES-PREPACKAGED SOFTWARE"),
        ("1311", "CRUDE PETROLEUM & NATURAL GAS"), ("3674", "SEMICONDUCTORS & RELATED DEVICES"),
        ("5331", "RETAIL-VARIETY STORES"), ("4911", "ELECTRIC SERVICES")]


@dataclass
class _Events:
    """Event arrays, one row per event, sorted by (security index, session offset)."""

    sec: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    idx: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))


class Market:
    """The synthetic market; see the module docstring for the model and the adjustment formula."""

    def __init__(self, config: MarketConfig | None = None):
        self.config = config or MarketConfig()
        cfg = self.config
        if cfg.n_tickers < 1:
            raise ValueError(f"n_tickers must be >= 1, got {cfg.n_tickers}")
        self.start = calendar.to_date(cfg.start)
        self.end = cfg.resolved_end()
        self.sessions: list[dt.date] = calendar.sessions(self.start, self.end)
        if not self.sessions:
            raise ValueError(f"no XNYS session between {self.start} and {self.end}")
        self.N = len(self.sessions)
        self.n = cfg.n_tickers
        self.session_days = np.array(self.sessions, dtype="datetime64[D]")
        self._session_index = {d: i for i, d in enumerate(self.sessions)}
        self._draw_securities()
        self._draw_symbols()
        self._draw_events()
        self._build_prices()
        self._finish_dividends()
        self._build_split_segments()
        self._build_vendor_splits()
        self._build_bar_errors()

    # ------------------------------------------------------------------ securities and lifecycle
    def _draw_securities(self) -> None:
        n, seed = self.n, self.config.seed
        g = _rng(seed, 1)
        self.security_id = np.arange(1, n + 1, dtype=np.int64) + 10_000
        is_etf = g.random(n) < 0.08
        self.sec_type = np.where(is_etf, "ETF", "CS").astype(object)
        self.exchange = np.where(g.random(n) < 0.6, "XNAS", "XNYS").astype(object)
        self.p0 = np.clip(np.exp(g.normal(np.log(35.0), 0.9, n)), 3.0, 900.0)
        self.mu = g.normal(0.06, 0.12, n) / 252.0
        self.sigma = np.where(is_etf, g.uniform(0.10, 0.30, n), g.uniform(0.18, 0.70, n)) / np.sqrt(252.0)
        self.vol_mean = np.clip(np.exp(g.normal(np.log(8e5), 1.1, n)), 2e4, 1.5e8)
        self.trade_size = g.uniform(60.0, 260.0, n)
        self.div_yield = g.uniform(0.002, 0.009, n)
        self.shares_base = np.round(np.exp(g.normal(np.log(2e8), 1.0, n)), -3)
        self.sic = g.integers(0, len(_SIC), n)
        pre_days = g.integers(30, 365 * 30, n)
        # lifecycle, as session offsets from start (independent of end)
        u = g.random((5, n))
        ipo_off = g.integers(1, HORIZON, n)
        self.list_off = np.where(u[0] < 0.15, ipo_off, -1).astype(np.int64)
        first = np.maximum(self.list_off, 0)
        self.delist_off = np.where(u[1] < 0.18, first + g.integers(20, HORIZON, n), NEVER).astype(np.int64)
        self.change_off = np.where(u[2] < 0.05, first + g.integers(5, HORIZON, n), NEVER).astype(np.int64)
        self.split_off = np.where(u[3] < 0.10, first + g.integers(2, HORIZON, n), NEVER).astype(np.int64)
        self.split_ratio = np.zeros((n, 2))  # decided from the price path (forward when high)
        payer_p = np.where(is_etf, 0.5, 0.35)
        self.div_phase = np.where(u[4] < payer_p, g.integers(1, QUARTER, n), NEVER).astype(np.int64)
        forced_split = np.zeros(n, bool)
        for k, (role, off, param) in enumerate(FORCED_ROLES[:n]):
            self.sec_type[k] = "CS"
            self.list_off[k] = -1
            self.delist_off[k] = self.change_off[k] = self.split_off[k] = self.div_phase[k] = NEVER
            if role == "split":
                self.split_off[k] = off
                self.split_ratio[k] = param
                forced_split[k] = True
                self.p0[k] = 2.4 if param[0] > param[1] else 120.0 + 60.0 * k
            elif role == "dividend":
                self.div_phase[k] = off
            elif role == "ipo":
                self.list_off[k] = off
            elif role == "delist":
                self.delist_off[k] = off
            elif role == "ticker_change":
                self.change_off[k] = off
        self._forced_split = forced_split
        self._draw_other_types()
        self._split_drawn = self.split_off < NEVER
        first = np.maximum(self.list_off, 0)
        self.first_idx = first
        self.last_idx = np.minimum(self.delist_off, self.N - 1)
        # events must fall strictly after the first traded session and on/before the last one
        self.visible = self.list_off <= self.N - 1
        self.start_np = np.datetime64(self.start, "D")
        pre = np.busday_offset(self.start_np - pre_days.astype("timedelta64[D]"), 0, roll="backward")
        self.list_date = np.where(self.list_off >= 0,
                                  self.session_days[np.clip(self.list_off, 0, self.N - 1)], pre)
        self.names = np.array([self._name(i) for i in range(n)], dtype=object)
        figi_codes = [_mix(seed * 1_000_003 + int(s)) for s in self.security_id]
        self.figi = np.array(["BBG" + _encode(c, FIGI_ALPHABET, 9) for c in figi_codes], dtype=object)
        self.share_class_figi = np.array(
            ["BBG" + _encode(_mix(c), FIGI_ALPHABET, 9) for c in figi_codes], dtype=object)
        self.cik = np.array([f"{1_000_000 + (_mix(seed * 7 + int(s)) % 8_000_000):010d}"
                             for s in self.security_id], dtype=object)

    def _draw_other_types(self) -> None:
        """Relabel some common stocks as ADRs, preferreds, warrants (for the universe filter).

        Labels only, drawn from their own stream (300), so no other draw, price or event changes; the
        first two securities after the forced roles are an ADR and a preferred when they are common
        stocks, so even a 14-security market shows types a `CS` filter must drop.
        """
        u = _rng(self.config.seed, 300).random(self.n)
        cs = (self.sec_type == "CS") & (np.arange(self.n) >= len(FORCED_ROLES))
        for lo, hi, label in OTHER_TYPES:
            self.sec_type[cs & (u >= lo) & (u < hi)] = label
        for k, label in enumerate(("ADRC", "PFD"), start=len(FORCED_ROLES)):
            if k < self.n and cs[k]:
                self.sec_type[k] = label

    def _name(self, i: int) -> str:
        h = _mix(self.config.seed * 31 + i)
        stem = "".join(_SYLLABLES[(h >> (5 * k)) % len(_SYLLABLES)] for k in range(2 + (h >> 60) % 2))
        if self.sec_type[i] == "ETF":
            return f"{stem.capitalize()} Select Sector ETF Trust"
        return f"{stem.capitalize()} {_SUFFIXES[(h >> 40) % len(_SUFFIXES)]}"

    def _draw_symbols(self) -> None:
        """Two unique 1-5 letter symbols per security (the second is used after a ticker change)."""
        g = _rng(self.config.seed, 2)
        need = 2 * self.n
        seen: dict[str, None] = {}
        letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        while len(seen) < need:
            m = need * 2
            lengths = g.choice([1, 2, 3, 4, 5], size=m, p=[0.002, 0.03, 0.35, 0.55, 0.068])
            chars = letters[g.integers(0, 26, size=(m, 5))]
            for row, ln in zip(chars, lengths):
                seen.setdefault("".join(row[:ln]), None)
                if len(seen) >= need:
                    break
        syms = list(seen)
        self.sym0 = np.array(syms[0::2], dtype=object)
        self.sym1 = np.array(syms[1::2], dtype=object)

    def _draw_events(self) -> None:
        """Clamp lifecycle events into each security's traded span; lay out the dividend ex-dates."""
        inside = lambda off: (off > self.first_idx) & (off <= self.last_idx) & (off < self.N)
        self.change_off = np.where(inside(self.change_off), self.change_off, NEVER)
        self.split_off = np.where(inside(self.split_off), self.split_off, NEVER)
        sec, idx = [], []
        for j in np.flatnonzero(self.div_phase < NEVER):
            offs = np.arange(self.first_idx[j] + self.div_phase[j], self.last_idx[j] + 1, QUARTER)
            offs = offs[(offs > self.first_idx[j]) & (offs < self.N)]
            sec.append(np.full(offs.size, j))
            idx.append(offs)
        self.div = _Events(np.concatenate(sec or [np.zeros(0, np.int64)]).astype(np.int64),
                           np.concatenate(idx or [np.zeros(0, np.int64)]).astype(np.int64))

    # ------------------------------------------------------------------ prices
    def _build_prices(self) -> None:
        N, n, seed = self.N, self.n, self.config.seed
        self.o = np.zeros((N, n), np.int32)
        self.h = np.zeros((N, n), np.int32)
        self.l = np.zeros((N, n), np.int32)
        self.c = np.zeros((N, n), np.int32)
        self.vw = np.zeros((N, n), np.int32)
        self.v = np.zeros((N, n), np.uint32)
        self.tx = np.zeros((N, n), np.uint32)
        t_idx = np.arange(N)[:, None]
        for b0 in range(0, n, BLOCK):
            b1 = min(n, b0 + BLOCK)
            blk, w = b0 // BLOCK, b1 - b0
            cols = slice(b0, b1)
            z = _rng(seed, 10, blk).standard_normal((N, w))
            noise = [_rng(seed, 11 + k, blk).standard_normal((N, w), dtype=np.float32) for k in range(5)]
            mu, sig = self.mu[cols], self.sigma[cols]
            walk = np.log(self.p0[cols]) + np.cumsum((mu - 0.5 * sig**2) + sig * z, axis=0)
            # decide the ratio of random splits from the price at the split date
            for jj in range(w):
                j = b0 + jj
                if self.split_off[j] < NEVER and not self._forced_split[j]:
                    px = np.exp(walk[self.split_off[j], jj])
                    if px > 80:
                        self.split_ratio[j] = (1.0, 2.0) if px < 300 else (1.0, 4.0)
                    elif px < 5:
                        self.split_ratio[j] = (10.0, 1.0) if px < 2 else (5.0, 1.0)
                    elif px > 40:
                        self.split_ratio[j] = (2.0, 3.0)
                    else:
                        self.split_off[j] = NEVER
            jump_split = np.zeros((N, w))
            js = np.flatnonzero(self.split_off[cols] < NEVER)
            jump_split[self.split_off[cols][js], js] = np.log(
                self.split_ratio[cols][js, 0] / self.split_ratio[cols][js, 1])
            jump_div = np.zeros((N, w))
            in_blk = (self.div.sec >= b0) & (self.div.sec < b1)
            dsec = self.div.sec[in_blk] - b0
            jump_div[self.div.idx[in_blk], dsec] = np.log1p(-self.div_yield[cols][dsec])
            jumps = jump_split + jump_div
            log_close = walk + np.cumsum(jumps, axis=0)
            # reflect at $1 so raw prices stay well above $0.50 (Skorokhod reflection, vectorised)
            push = np.maximum.accumulate(np.maximum(0.0, np.log(1.0) - log_close), axis=0)
            log_close += push
            close = np.exp(log_close)
            prev = np.vstack([close[:1] * np.exp(-(mu - 0.5 * sig**2)), close[:-1]])
            opn = prev * np.exp(jumps + push - np.vstack([push[:1], push[:-1]]) + 0.25 * sig * noise[0])
            hi = np.maximum(opn, close) * np.exp(np.abs(0.6 * sig * noise[1]))
            lo = np.minimum(opn, close) * np.exp(-np.abs(0.6 * sig * noise[2]))
            to_ticks = lambda x: np.maximum(np.rint(x * TICK), MIN_TICKS).astype(np.int64)
            c_t, o_t, h_t, l_t = to_ticks(close), to_ticks(opn), to_ticks(hi), to_ticks(lo)
            l_t = np.minimum(l_t, np.minimum(o_t, c_t))
            h_t = np.maximum(np.maximum(h_t, np.maximum(o_t, c_t)), l_t + 2)
            typical = (h_t + l_t + c_t) / 3.0
            frac = np.clip((typical - l_t) / (h_t - l_t) + 0.08 * noise[3], 0.0, 0.9999)
            vw_t = l_t + 1 + np.floor(frac * (h_t - l_t - 1)).astype(np.int64)
            shares_mult = np.exp(-np.cumsum(jump_split, axis=0))
            vol = self.vol_mean[cols] * shares_mult * np.exp(0.45 * noise[4] - 0.1) * (1.0 + 1.5 * np.abs(z))
            vol = np.clip(np.rint(vol), 100, 4e9)
            tx = np.maximum(1, np.rint(vol / self.trade_size[cols] * np.exp(0.15 * noise[3])))
            traded = (t_idx >= self.first_idx[cols]) & (t_idx <= self.last_idx[cols])
            self.o[:, cols] = np.where(traded, o_t, 0)
            self.h[:, cols] = np.where(traded, h_t, 0)
            self.l[:, cols] = np.where(traded, l_t, 0)
            self.c[:, cols] = np.where(traded, c_t, 0)
            self.vw[:, cols] = np.where(traded, vw_t, 0)
            self.v[:, cols] = np.where(traded, vol, 0)
            self.tx[:, cols] = np.where(traded, tx, 0)
        js = np.flatnonzero(self.split_off < NEVER)
        order = np.lexsort((self.split_off[js], js))
        self.spl = _Events(js[order].astype(np.int64), self.split_off[js][order].astype(np.int64))
        self.spl_from = self.split_ratio[self.spl.sec, 0]
        self.spl_to = self.split_ratio[self.spl.sec, 1]

    def _finish_dividends(self) -> None:
        prev_close = self.c[self.div.idx - 1, self.div.sec] / TICK
        self.div_cash = np.maximum(0.01, np.round(self.div_yield[self.div.sec] * prev_close, 2))

    @staticmethod
    def _segments(sec: np.ndarray, mult: np.ndarray) -> np.ndarray:
        """Per event k (sorted by security, date): the product of k's and every later multiplier of the
        same security -- the factor of the sessions before event k and on/after the previous one.

        Multiplied from the last event backwards, once, so every path uses bit-identical factors.
        """
        seg = np.ones(sec.size)
        for k in range(sec.size - 1, -1, -1):
            later = seg[k + 1] if k + 1 < sec.size and sec[k + 1] == sec[k] else 1.0
            seg[k] = later * mult[k]
        return seg

    def _lookup(self, sec: np.ndarray, idx: np.ndarray, seg: np.ndarray,
                rows: int | np.ndarray, cols: int | np.ndarray) -> np.ndarray:
        """Factor of (session offset, security index) pairs: seg of the security's first event after it."""
        ii, cc = np.broadcast_arrays(np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64))
        out = np.ones(ii.shape)
        if not sec.size:
            return out
        stride = self.N + 1
        keys = sec * stride + idx
        pos = np.searchsorted(keys, cc * stride + ii, side="right")
        ok = pos < keys.size
        ok[ok] = sec[pos[ok]] == cc[ok]
        out[ok] = seg[pos[ok]]
        return out

    def _build_split_segments(self) -> None:
        self.spl_seg_factor = self._segments(self.spl.sec, self.spl_from / self.spl_to)

    @cached_property
    def _crsp_events(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(security, offset, segment factor) of all true splits and dividends, for daily_adjusted."""
        prev_close = self.c[self.div.idx - 1, self.div.sec] / TICK
        sec = np.concatenate([self.spl.sec, self.div.sec])
        idx = np.concatenate([self.spl.idx, self.div.idx])
        mult = np.concatenate([self.spl_from / self.spl_to, 1.0 - self.div_cash / prev_close])
        order = np.lexsort((idx, sec))
        sec, idx, mult = sec[order], idx[order], mult[order]
        return sec, idx, self._segments(sec, mult)

    # ------------------------------------------------------------------ vendor splits (with errors)
    def _build_vendor_splits(self) -> None:
        rows = [(self.spl.sec[k], self.spl.idx[k], self.spl_from[k], self.spl_to[k], None, 0)
                for k in range(self.spl.sec.size)]
        bogus = []
        if self.config.vendor_errors and self.N >= 3:
            count = max(1, self.n // 1000)
            if rows:
                for k in range(min(count, len(rows))):
                    j, i, f, t, _, _ = rows[(k * 7) % len(rows)]
                    bogus.append((j, i, f, t, "duplicate", k))
            # securities that never split and live through the range (chosen independently of end)
            no_split = [j for j in range(len(FORCED_ROLES), self.n)
                        if not self._split_drawn[j] and self.list_off[j] < 0 and self.delist_off[j] >= NEVER]
            if not no_split:
                no_split = [j for j in range(self.n) if self.split_off[j] >= NEVER and self.visible[j]]
            g = _rng(self.config.seed, 4)
            for k in range(count):
                for reason, ratio, want in (("absurd_ratio", (1.0, 2_000_000.0), 20),
                                            ("not_in_bars", (1.0, 2.0), 50)):
                    if not no_split:
                        break
                    j = no_split[int(g.integers(0, len(no_split)))]
                    lo, hi = self.first_idx[j] + 1, min(self.last_idx[j], self.N - 1)
                    if lo > hi:
                        continue
                    i = int(np.clip(want + 40 * k, lo, hi))
                    bogus.append((j, i, ratio[0], ratio[1], reason, k))
        if self.config.extra_vendor_errors:  # a real split's date, listed again with a ratio x1.5 off
            for k in range(min(max(1, self.n // 1000), len(rows))):
                j, i, f, t, _, _ = rows[(k * 5) % len(rows)]
                bogus.append((j, i, f, t * 1.5, "ratio_mismatch", k))
        self._bogus_rows = bogus
        all_rows = rows + bogus
        self.vendor_split_rows = [
            {
                "id": _event_id(self.config.seed, "split", self.security_id[j], i, f, t, reason or "", k),
                "security_id": int(self.security_id[j]),
                "ticker": self.symbol_at(j, i),
                "execution_date": self.sessions[i],
                "split_from": float(f),
                "split_to": float(t),
                "reason": reason,
            }
            for j, i, f, t, reason, k in all_rows
        ]

    # ------------------------------------------------------------------ misdated bars (extra vendor errors)
    def _build_bar_errors(self) -> None:
        """Extra bars the grouped endpoint serves (kind, served session offset, security, stamped date):
        a copy of the security's bar of that session, stamped on the next non-session day or on the
        session before. At fixed offsets from start, so they do not depend on `end`."""
        rows: list[tuple[str, int, int, dt.date]] = []
        if self.config.extra_vendor_errors:
            for k in range(max(1, self.n // 1000)):
                for kind, want in (("not_a_session", 8), ("wrong_session", 18)):
                    i = want + 40 * k
                    if i >= self.N:
                        continue
                    cols = self.traded_at(i)
                    cols = cols[self.first_idx[cols] < i]  # traded the session before too
                    if not cols.size:
                        continue
                    j = int(cols[(3 * k + len(rows)) % cols.size])
                    if kind == "wrong_session":
                        stamp = self.sessions[i - 1]
                    else:
                        stamp = self.sessions[i] + dt.timedelta(days=1)
                        while calendar.is_session(stamp):
                            stamp += dt.timedelta(days=1)
                    rows.append((kind, i, j, stamp))
        self.bar_error_rows = rows

    def bar_errors_at(self, i: int) -> list[tuple[str, int, int, dt.date]]:
        return [r for r in self.bar_error_rows if r[1] == i]

    def bar_errors(self) -> pl.DataFrame:
        """The misdated bars injected into grouped responses: what bronze must quarantine, and why."""
        return pl.DataFrame(
            [(kind, self.symbol_at(j, i), self.sessions[i], stamp) for kind, i, j, stamp in self.bar_error_rows],
            schema={"kind": pl.Utf8, "ticker": pl.Utf8, "served_for": pl.Date, "date": pl.Date}, orient="row")

    # ------------------------------------------------------------------ lookups used by the server
    def symbol_at(self, j: int, i: int) -> str:
        return self.sym1[j] if i >= self.change_off[j] else self.sym0[j]

    def symbols_at(self, i: int, cols: np.ndarray) -> np.ndarray:
        return np.where(i >= self.change_off[cols], self.sym1[cols], self.sym0[cols])

    def session_index(self, day: dt.date) -> int | None:
        return self._session_index.get(day)

    @cached_property
    def symbol_spans(self) -> dict[str, tuple[int, int, int]]:
        """symbol -> (security index, first session offset, last session offset) it is valid for."""
        out = {}
        for j in np.flatnonzero(self.visible):
            f, last, ch = int(self.first_idx[j]), int(self.last_idx[j]), int(self.change_off[j])
            if ch < NEVER:
                out[self.sym0[j]] = (int(j), f, ch - 1)
                out[self.sym1[j]] = (int(j), ch, last)
            else:
                out[self.sym0[j]] = (int(j), f, last)
        return out

    def split_factor(self, rows: int | np.ndarray, cols: int | np.ndarray) -> np.ndarray:
        """Split-only factor (the served `adjusted=true`) of session offsets rows x security indices cols."""
        return self._lookup(self.spl.sec, self.spl.idx, self.spl_seg_factor, rows, cols)

    def crsp_factor(self, rows: int | np.ndarray, cols: int | np.ndarray) -> np.ndarray:
        """CRSP factor (splits and dividends, module docstring) of session offsets rows x securities cols."""
        return self._lookup(*self._crsp_events, rows, cols)

    def bars(self, rows: np.ndarray, cols: np.ndarray, adjusted: bool) -> dict[str, np.ndarray]:
        """Bars for (session offsets rows, security indices cols) pairs, as served (rounded)."""
        raw = [a[rows, cols] for a in self._stored]
        return self._served(raw, self.split_factor(rows, cols) if adjusted else None)

    @property
    def _stored(self) -> tuple[np.ndarray, ...]:
        return self.o, self.h, self.l, self.c, self.vw, self.v, self.tx

    @staticmethod
    def _served(raw: list[np.ndarray], factor: np.ndarray | None) -> dict[str, np.ndarray]:
        """Stored ticks/counts -> served values; the one place the vendor's rounding is applied."""
        o, h, l, c, vw, v, tx = raw
        prices = (o, h, l, c, vw)
        if factor is not None:
            prices = [np.rint(x.astype(np.float64) * factor) / TICK for x in prices]
            v = np.round(v.astype(np.float64) / factor, 4)
        else:
            prices = [x.astype(np.float64) / TICK for x in prices]
            v = v.astype(np.float64)
        return dict(zip(("o", "h", "l", "c", "vw"), prices), v=v, n=tx.astype(np.int64))

    def _all_bars(self) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """(session offsets, security indices, stored columns) of every bar, security-major.

        Read through contiguous transposed copies and a boolean mask: random 2-D gathers over a
        12,000-wide array would cost a cache miss per value.
        """
        t = np.arange(self.N)[None, :]
        mask_t = (t >= self.first_idx[:, None]) & (t <= self.last_idx[:, None])  # (security, session)
        jj, tt = np.nonzero(mask_t)
        return tt, jj, [np.ascontiguousarray(a.T)[mask_t] for a in self._stored]

    def traded_at(self, i: int) -> np.ndarray:
        """Security indices with a bar on session offset i, in security order."""
        return np.flatnonzero((self.first_idx <= i) & (self.last_idx >= i))

    def shares_outstanding(self, j: int, i: int) -> float:
        mult = 1.0
        for k in np.flatnonzero((self.spl.sec == j) & (self.spl.idx <= i)):
            mult *= self.spl_to[k] / self.spl_from[k]
        return float(self.shares_base[j] * mult)

    # ------------------------------------------------------------------ ground truth frames
    def securities(self) -> pl.DataFrame:
        vis = np.flatnonzero(self.visible)
        delisted = self.delist_off[vis] <= self.N - 1
        cur = [self.symbol_at(j, int(self.last_idx[j])) for j in vis]
        return pl.DataFrame({
            "security_id": self.security_id[vis],
            "composite_figi": self.figi[vis].tolist(),
            "cik": self.cik[vis].tolist(),
            "name": self.names[vis].tolist(),
            "type": self.sec_type[vis].tolist(),
            "primary_exchange": self.exchange[vis].tolist(),
            "list_date": self.list_date[vis],
            "delist_date": pl.Series(np.where(delisted, self.session_days[np.minimum(self.last_idx[vis], self.N - 1)],
                                              np.datetime64("NaT"))).cast(pl.Date),
            "current_ticker": cur,
        }).with_columns(pl.col("list_date").cast(pl.Date))

    def symbols(self) -> pl.DataFrame:
        rows = []
        active_end = self.N - 1
        for sym, (j, f, last) in self.symbol_spans.items():
            still = last == active_end and self.delist_off[j] > active_end
            begin = self.list_date[j] if f == self.first_idx[j] else self.session_days[f]
            rows.append((int(self.security_id[j]), sym, begin.item(), None if still else self.session_days[last].item()))
        return pl.DataFrame(rows, schema={"security_id": pl.Int64, "ticker": pl.Utf8,
                                          "start_date": pl.Date, "end_date": pl.Date},
                            orient="row").sort("security_id", "start_date")

    def _bars_ticker(self, tt: np.ndarray, jj: np.ndarray) -> pl.Series:
        """Symbol in use per bar: code 2j before a ticker change, 2j+1 after, gathered in Rust."""
        symbols = pl.Series(np.stack([self.sym0, self.sym1], axis=1).ravel().tolist(), dtype=pl.Utf8)
        return symbols.gather(pl.Series(2 * jj + (tt >= self.change_off[jj]), dtype=pl.UInt32))

    def _bars_frame(self, adjusted: bool) -> pl.DataFrame:
        tt, jj, raw = self._all_bars()
        factor = self.split_factor(tt, jj) if adjusted else None
        b = self._served(raw, factor)
        cols = {"security_id": self.security_id[jj], "ticker": self._bars_ticker(tt, jj),
                "date": pl.Series(self.session_days[tt]).cast(pl.Date)}
        if adjusted:
            cols["factor"] = factor
        cols.update({"open": b["o"], "high": b["h"], "low": b["l"], "close": b["c"], "volume": b["v"],
                     "vwap": b["vw"], "transactions": b["n"]})
        return pl.DataFrame(cols)

    def daily_raw(self) -> pl.DataFrame:
        """Exactly what `adjusted=false` serves: one row per security per session it traded."""
        return self._bars_frame(adjusted=False)

    def split_adjusted(self) -> pl.DataFrame:
        """Exactly what `adjusted=true` serves: true splits only, never dividends, as of `end`."""
        return self._bars_frame(adjusted=True)

    def splits(self) -> pl.DataFrame:
        """The TRUE splits (the bars show every one of them)."""
        return self._split_frame([r for r in self.vendor_split_rows if r["reason"] is None], with_reason=False)

    def bogus_splits(self) -> pl.DataFrame:
        """The vendor errors injected into the served splits list, with why each one is wrong."""
        return self._split_frame([r for r in self.vendor_split_rows if r["reason"] is not None], with_reason=True)

    @staticmethod
    def _split_frame(rows: list[dict], with_reason: bool) -> pl.DataFrame:
        schema = {"id": pl.Utf8, "security_id": pl.Int64, "ticker": pl.Utf8, "execution_date": pl.Date,
                  "split_from": pl.Float64, "split_to": pl.Float64, "reason": pl.Utf8}
        frame = pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)
        frame = frame.sort("security_id", "execution_date", "id")
        return frame if with_reason else frame.drop("reason")

    def dividends(self) -> pl.DataFrame:
        ex = self.session_days[self.div.idx]
        tickers = [self.symbol_at(int(j), int(i)) for j, i in zip(self.div.sec, self.div.idx)]
        return pl.DataFrame({
            "id": [_event_id(self.config.seed, "dividend", self.security_id[j], i)
                   for j, i in zip(self.div.sec, self.div.idx)],
            "security_id": self.security_id[self.div.sec],
            "ticker": pl.Series(tickers, dtype=pl.Utf8),
            "cash_amount": self.div_cash,
            "currency": pl.Series(["USD"] * self.div.sec.size, dtype=pl.Utf8),
            "declaration_date": np.busday_offset(ex, -10, roll="backward"),
            "ex_dividend_date": ex,
            "record_date": np.busday_offset(ex, 1, roll="forward"),
            "pay_date": np.busday_offset(ex, 12, roll="forward"),
            "frequency": pl.Series([4] * self.div.sec.size, dtype=pl.Int64),
            "dividend_type": pl.Series(["CD"] * self.div.sec.size, dtype=pl.Utf8),
        }).with_columns(pl.col("declaration_date", "ex_dividend_date", "record_date", "pay_date")
                        .cast(pl.Date)).sort("security_id", "ex_dividend_date")

    def ticker_changes(self) -> pl.DataFrame:
        js = np.flatnonzero((self.change_off < NEVER) & self.visible)
        return pl.DataFrame({
            "security_id": self.security_id[js],
            "date": self.session_days[self.change_off[js]],
            "old_ticker": pl.Series(self.sym0[js].tolist(), dtype=pl.Utf8),
            "new_ticker": pl.Series(self.sym1[js].tolist(), dtype=pl.Utf8),
        }).with_columns(pl.col("date").cast(pl.Date))

    def daily_adjusted(self) -> pl.DataFrame:
        """CRSP-style back-adjustment for splits and dividends (formula in the module docstring)."""
        tt, jj, raw = self._all_bars()
        f = self.crsp_factor(tt, jj)
        b = self._served(raw, None)
        return pl.DataFrame({
            "security_id": self.security_id[jj],
            "ticker": self._bars_ticker(tt, jj),
            "date": pl.Series(self.session_days[tt]).cast(pl.Date),
            "factor": f,
            "adj_open": b["o"] * f, "adj_high": b["h"] * f, "adj_low": b["l"] * f, "adj_close": b["c"] * f,
            "adj_vwap": b["vw"] * f, "adj_volume": b["v"] / f,
        })

    def export_truth(self, out_dir: str | Path) -> list[Path]:
        """Write every ground-truth frame as Parquet (atomically) into out_dir; return the paths."""
        out_dir = Path(out_dir)
        frames = {
            "securities": self.securities(), "symbols": self.symbols(), "daily_raw": self.daily_raw(),
            "split_adjusted": self.split_adjusted(), "daily_adjusted": self.daily_adjusted(),
            "splits": self.splits(), "bogus_splits": self.bogus_splits(), "bar_errors": self.bar_errors(), "dividends": self.dividends(),
            "ticker_changes": self.ticker_changes(),
            "sessions": pl.DataFrame({"date": self.sessions}, schema={"date": pl.Date}),
        }
        paths = []
        for name, frame in frames.items():
            path = out_dir / f"{name}.parquet"
            with atomic_path(path) as tmp:
                frame.write_parquet(tmp)
            paths.append(path)
        return paths
