"""Simulated listed equity options: contracts, daily bars priced by Black-Scholes-Merton with KNOWN vols.

Everything is a pure function of the underlying `Market` (its config and prices), drawn from RNG streams
`_rng(seed, 100..199, ...)` keyed per security and per expiry, so an option's data never depends on `end`
(prefix-stable, like the market itself).

Contracts (per underlying security j):
- expirations: the third Friday of every month (a holiday -> the previous XNYS session);
- an expiry E is listed on the first session on or after E - LIST_DAYS calendar days (or the
  underlying's first traded session / the market's first session, whichever is later), if that is on
  or before E and the underlying still trades;
- strikes: a grid of 2*HALF_STRIKES+1 strikes around the underlying's raw close on the listing session,
  step `strike_step(S)`; a call and a put per strike; OCC ticker O:<root><YYMMDD><C|P><strike*1000:08d>,
  root = the underlying's symbol on the listing session; 100 shares per contract, exercise style
  "american" on the wire (priced as European: BSM).

Prices (contract c, session t, underlying raw close S_t, calendar days to expiry d, T = d/365):
    sigma(c, t) = base_t * clip(1 - 0.3 m + 1.0 m^2, 0.5, 3),  m = ln(K / S_t)
    base_t     = annual vol of the underlying * exp(0.2 x_t), x_t an AR(1) (phi 0.97) per underlying
    q_t        = (cash dividends with ex-date in (date-365 days, date]) / S_t   (continuous yield)
    r          = RATE (continuous)
close = BSM(S_t close); open/high/low/vwap = BSM at the underlying's open/high/low/vwap with the same
sigma (call prices rise with S, puts fall: a call's high is priced at the underlying's high, a put's at
its low), every price rounded to cents like the vendor. A contract-session has a bar when the close
is >= $0.01 and a draw passes the trade probability (lower far from the money: sparse trading).

Splits of the underlying (an honest simplification): the real market adjusts a live contract's
deliverable; here a contract whose life spans a split of its underlying stops trading the session
before the split (no bar from the execution date on); contracts listed after it use the new price.
A delisted underlying's contracts stop with its last bar. Options bars are never split-adjusted.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property

import numpy as np
import polars as pl
from scipy.signal import lfilter
from scipy.special import ndtr

from quantmini.sim.asgi import Request, Response, json_response
from quantmini.sim.corporate_actions import _typed
from quantmini.sim.market import TICK, Market, _rng
from quantmini.sim.paging import effective_params, encode_cursor, page

RATE = 0.04  # the simulator's risk-free rate (continuous, annual)
LIST_DAYS = 56  # an expiry is listed ~8 weeks before it
HALF_STRIKES = 4  # strikes each side of the money at listing
SHARES_PER_CONTRACT = 100
VOL_PHI = 0.97  # persistence of the underlying's base-vol factor


def strike_step(price: np.ndarray) -> np.ndarray:
    """Strike spacing by the underlying's price (like the listed grids: $0.5 ... $10)."""
    p = np.asarray(price, dtype=np.float64)
    return np.select([p < 5, p < 25, p < 100, p < 250], [0.5, 1.0, 2.5, 5.0], 10.0)


def third_friday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(4 - first.weekday()) % 7 + 14)


def occ_ticker(root: str, expiration: dt.date, contract_type: str, strike: float) -> str:
    return f"O:{root}{expiration:%y%m%d}{'C' if contract_type == 'call' else 'P'}{int(round(strike * 1000)):08d}"


def bsm_price(S, K, T, r, q, sigma, is_call):
    """European BSM price (vectorised); T = 0 gives the intrinsic value."""
    S, K, T, sigma = (np.asarray(x, dtype=np.float64) for x in (S, K, T, sigma))
    with np.errstate(divide="ignore", invalid="ignore"):
        sq = sigma * np.sqrt(T)
        d1 = (np.log(S / K) + (r - q + 0.5 * sigma**2) * T) / sq
        d2 = d1 - sq
        df_q, df_r = np.exp(-q * T), np.exp(-r * T)
        call = S * df_q * ndtr(d1) - K * df_r * ndtr(d2)
        put = K * df_r * ndtr(-d2) - S * df_q * ndtr(-d1)
    price = np.where(is_call, call, put)
    intrinsic = np.where(is_call, np.maximum(S - K, 0.0), np.maximum(K - S, 0.0))
    return np.where(T > 0, price, intrinsic)


class OptionsMarket:
    """The options of a `Market` (module docstring). One per market: `OptionsMarket.of(market)`."""

    def __init__(self, market: Market):
        self.m = market
        self._bars_cache: dict[int, dict[str, np.ndarray]] = {}

    @classmethod
    def of(cls, market: Market) -> OptionsMarket:
        """The market's options (built once, shared by the endpoint families)."""
        om = getattr(market, "_options_market", None)
        if om is None:
            om = cls(market)
            market._options_market = om
        return om

    # ------------------------------------------------------------------ expiries and contracts
    def _session_on_or_after(self, day: np.datetime64) -> int:
        return int(np.searchsorted(self.m.session_days, day, "left"))

    @cached_property
    def expirations(self) -> list[tuple[dt.date, int]]:
        """(expiration date, expiry ordinal) of every monthly expiry that can be listed within the market."""
        from quantmini import calendar

        m = self.m
        out = []
        y, mo = m.start.year, m.start.month
        last_listable = m.end + dt.timedelta(days=LIST_DAYS + 31)
        while dt.date(y, mo, 1) <= last_listable:
            friday = third_friday(y, mo)
            days = calendar.sessions(friday - dt.timedelta(days=7), friday)
            if days and friday >= m.start:
                out.append((days[-1], y * 12 + mo - 1))
            y, mo = (y + 1, 1) if mo == 12 else (y, mo + 1)
        return out

    @cached_property
    def contracts(self) -> pl.DataFrame:
        """Every listed contract of every underlying, listed on or before the market's last session.

        Columns: ticker, underlying (root symbol), contract_type, strike, expiration, shares_per_contract,
        sec (security index), list_session, list_date, expiry_ord, stop_session (the session its bars
        end, split/delisting included; may lie beyond the market's last session).
        """
        frames = [self._contracts_of(j) for j in np.flatnonzero(self.m.visible)]
        frames = [f for f in frames if f.height]
        if not frames:
            return self._contracts_of(-1)
        return pl.concat(frames).sort("ticker")

    def _contracts_of(self, j: int) -> pl.DataFrame:
        m = self.m
        rows: dict[str, list] = {k: [] for k in ("ticker", "underlying", "contract_type", "strike", "expiration",
                                                 "sec", "list_session", "expiry_ord", "stop_session")}
        if j >= 0:
            first, last = int(m.first_idx[j]), int(m.last_idx[j])
            splits = m.spl.idx[m.spl.sec == j]
            for exp, ordinal in self.expirations:
                listed = max(self._session_on_or_after(np.datetime64(exp - dt.timedelta(days=LIST_DAYS), "D")),
                             first, 0)
                if listed > m.N - 1 or listed > last or m.sessions[listed] > exp:
                    continue
                exp_idx = self._session_on_or_after(np.datetime64(exp, "D"))  # may be N (beyond the market)
                stop = min(exp_idx, last)
                after = splits[(splits > listed) & (splits <= exp_idx)]
                if after.size:
                    stop = min(stop, int(after.min()) - 1)
                S = m.c[listed, j] / TICK
                step = float(strike_step(S))
                centre = np.round(S / step) * step
                strikes = centre + step * np.arange(-HALF_STRIKES, HALF_STRIKES + 1)
                strikes = np.round(strikes[strikes > 0], 3)
                root = m.symbol_at(j, listed)
                for kind in ("call", "put"):
                    for K in strikes.tolist():
                        rows["ticker"].append(occ_ticker(root, exp, kind, K))
                        rows["underlying"].append(root)
                        rows["contract_type"].append(kind)
                        rows["strike"].append(K)
                        rows["expiration"].append(exp)
                        rows["sec"].append(j)
                        rows["list_session"].append(listed)
                        rows["expiry_ord"].append(ordinal)
                        rows["stop_session"].append(stop)
        df = pl.DataFrame(rows, schema={"ticker": pl.Utf8, "underlying": pl.Utf8, "contract_type": pl.Utf8,
                                        "strike": pl.Float64, "expiration": pl.Date, "sec": pl.Int64,
                                        "list_session": pl.Int64, "expiry_ord": pl.Int64,
                                        "stop_session": pl.Int64})
        days = pl.Series(m.session_days).cast(pl.Date)
        return df.with_columns(
            pl.lit(SHARES_PER_CONTRACT, pl.Int64).alias("shares_per_contract"),
            (days.gather(df["list_session"]) if df.height else pl.lit(None, pl.Date)).alias("list_date"),
        )

    @cached_property
    def _by_ticker(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.contracts["ticker"].to_list())}

    # ------------------------------------------------------------------ market inputs
    def base_vol(self, j: int) -> np.ndarray:
        """Annual base vol of underlying j per session (an AR(1) factor around its own vol)."""
        z = _rng(self.m.config.seed, 101, j).standard_normal(self.m.N)
        x = lfilter([np.sqrt(1 - VOL_PHI**2)], [1.0, -VOL_PHI], z)
        return self.m.sigma[j] * np.sqrt(252.0) * np.exp(0.2 * x)

    def dividend_yield(self, j: int) -> np.ndarray:
        """q_t per session: trailing-365-day cash dividends (ex-date in (t-365d, t]) / raw close."""
        m = self.m
        sel = m.div.sec == j
        ex = m.session_days[m.div.idx[sel]]
        cash = np.concatenate([[0.0], np.cumsum(m.div_cash[sel])])
        days = m.session_days
        upto = np.searchsorted(ex, days, "right")
        before = np.searchsorted(ex, days - np.timedelta64(365, "D"), "right")
        close = np.where(m.c[:, j] > 0, m.c[:, j] / TICK, np.nan)
        return (cash[upto] - cash[before]) / close

    @staticmethod
    def smile(base: np.ndarray, strike: np.ndarray, spot: np.ndarray) -> np.ndarray:
        m = np.log(strike / spot)
        return base * np.clip(1.0 - 0.3 * m + 1.0 * m**2, 0.5, 3.0)

    # ------------------------------------------------------------------ prices
    def truth(self, j: int) -> dict[str, np.ndarray]:
        """Every (contract, session) of underlying j while it can trade, with its KNOWN inputs and bar.

        Arrays: contract (row of `contracts`), session, S, T, q, sigma, price (unrounded BSM close),
        traded (bool), and the served bar o, h, l, c, v, vw, n (meaningful where traded).
        """
        if j in self._bars_cache:
            return self._bars_cache[j]
        m, seed = self.m, self.m.config.seed
        con = self.contracts.with_row_index("_row").filter(pl.col("sec") == j)
        out = {k: [] for k in ("contract", "session", "S", "T", "q", "sigma", "price", "traded",
                               "o", "h", "l", "c", "v", "vw", "n")}
        base = self.base_vol(j)
        q_all = self.dividend_yield(j)
        for (ordinal,), group in con.group_by(["expiry_ord"], maintain_order=True):
            listed = int(group["list_session"][0])
            stop = min(int(group["stop_session"][0]), m.N - 1)
            exp = group["expiration"][0]
            width = group.height
            # draws per (calendar day since listing, contract of the group): independent of `end`
            list_day = m.sessions[listed]
            span = (exp - list_day).days + 1
            g = _rng(seed, 102, j, ordinal)
            u_trade = g.random((span, width))
            u_vol = g.standard_normal((span, width))
            u_size = g.random((span, width))
            if stop < listed:
                continue
            t = np.arange(listed, stop + 1)
            day_off = (m.session_days[t] - np.datetime64(list_day, "D")).astype(np.int64)
            d = (np.datetime64(exp, "D") - m.session_days[t]).astype(np.int64)
            T = (d / 365.0)[:, None]
            K = group["strike"].to_numpy()[None, :]
            is_call = (group["contract_type"] == "call").to_numpy()[None, :]
            px = {k: (a[t, j] / TICK)[:, None] for k, a in
                  (("o", m.o), ("h", m.h), ("l", m.l), ("c", m.c), ("vw", m.vw))}
            S = px["c"]
            q = q_all[t][:, None]
            sigma = self.smile(base[t][:, None], K, S)
            price = {k: bsm_price(px[k], K, T, RATE, q, sigma, is_call) for k in px}
            hi_src = np.where(is_call, price["h"], price["l"])
            lo_src = np.where(is_call, price["l"], price["h"])
            cents = {k: np.round(v, 2) for k, v in price.items()}
            hi_c, lo_c = np.round(hi_src, 2), np.round(lo_src, 2)
            o, c = cents["o"], cents["c"]
            h = np.maximum(np.maximum(hi_c, o), c)
            lo = np.maximum(np.minimum(np.minimum(lo_c, o), c), 0.01)
            o = np.maximum(o, 0.01)
            vw = np.clip(cents["vw"], lo, h)
            money = np.abs(np.log(K / S))
            p_trade = np.clip(0.97 - 2.5 * money, 0.25, 0.97)
            traded = (c >= 0.01) & (u_trade[day_off] < p_trade)
            vol = np.maximum(1.0, np.rint(np.exp(4.0 - 6.0 * money + 1.0 * u_vol[day_off])))
            n = np.maximum(1, np.minimum(vol, np.rint(vol * (0.2 + 0.6 * u_size[day_off]))))
            shape = (t.size, width)
            cols = {"contract": np.broadcast_to(group["_row"].to_numpy()[None, :], shape),
                    "session": np.broadcast_to(t[:, None], shape), "S": np.broadcast_to(S, shape),
                    "T": np.broadcast_to(T, shape), "q": np.broadcast_to(q, shape), "sigma": sigma,
                    "price": price["c"], "traded": traded, "o": o, "h": h, "l": lo, "c": c, "v": vol,
                    "vw": vw, "n": n}
            for k, v in cols.items():
                out[k].append(np.ascontiguousarray(v).T.ravel())  # contract-major, sessions ascending
        empty = {"contract": np.int64, "session": np.int64, "traded": bool, "n": np.float64}
        res = {k: (np.concatenate(v) if v else np.zeros(0, empty.get(k, np.float64))) for k, v in out.items()}
        res["contract"] = res["contract"].astype(np.int64)
        res["session"] = res["session"].astype(np.int64)
        res["n"] = res["n"].astype(np.int64)
        self._bars_cache[j] = res
        return res

    def daily_bars(self, option_ticker: str) -> dict[str, np.ndarray]:
        """The served daily bars of one contract: session (index into market.sessions), o, h, l, c, v, vw, n."""
        row = self._by_ticker.get(option_ticker)
        keys = ("session", "o", "h", "l", "c", "v", "vw", "n")
        if row is None:
            return {k: np.zeros(0, np.int64 if k in ("session", "n") else np.float64) for k in keys}
        tr = self.truth(int(self.contracts["sec"][row]))
        sel = (tr["contract"] == row) & tr["traded"]
        return {k: tr[k][sel] for k in keys}

    def truth_frame(self, underlyings: list[str] | None = None) -> pl.DataFrame:
        """Ground truth per contract-session (traded or not) for underlying root symbols (None = all):
        ticker, date, S, T, rate, q, sigma, price (unrounded), traded, and the served bar."""
        con = self.contracts.with_row_index("_row")
        if underlyings is not None:
            con = con.filter(pl.col("underlying").is_in(list(underlyings)))
        frames = []
        for j in con["sec"].unique().sort().to_list():
            tr = self.truth(int(j))
            f = pl.DataFrame({k: v for k, v in tr.items()})
            frames.append(f)
        if not frames:
            return pl.DataFrame()
        f = pl.concat(frames).join(con.select(pl.col("_row").cast(pl.Int64).alias("contract"), "ticker", "underlying",
                                              "contract_type", "strike", "expiration"), on="contract", how="inner")
        days = pl.Series(self.m.session_days).cast(pl.Date)
        f = f.with_columns(days.gather(f["session"]).alias("date"), pl.lit(RATE).alias("rate"))
        return f.sort("ticker", "date")

    # ------------------------------------------------------------------ listing (the reference endpoint)
    def listed_as_of(self, i: int) -> pl.DataFrame:
        """Contracts listed on or before session offset i."""
        return self.contracts.filter(pl.col("list_session") <= i)



def contract_row(row: dict) -> dict:
    """One contract as the vendor serves it (the OpenAPI example's keys)."""
    call = row["contract_type"] == "call"
    strike = row["strike"]
    return {
        "cfi": "OCASPS" if call else "OPASPS",
        "contract_type": row["contract_type"],
        "exercise_style": "american",
        "expiration_date": row["expiration"].isoformat(),
        "primary_exchange": "BATO",
        "shares_per_contract": SHARES_PER_CONTRACT,
        "strike_price": int(strike) if float(strike).is_integer() else strike,
        "ticker": row["ticker"],
        "underlying_ticker": row["underlying"],
    }



class OptionsEndpoints:
    """`/v3/reference/options/contracts` and the daily range bars of `O:` tickers (called by Aggregates)."""

    FILTERS = {"underlying_ticker": "str", "contract_type": "str", "expiration_date": "date",
               "strike_price": "number"}

    def __init__(self, market: Market):
        self.m = market
        self.om = OptionsMarket.of(market)

    def routes(self, router) -> None:
        router.add(r"/v3/reference/options/contracts", self.contracts)

    def contracts(self, req: Request) -> Response:
        effective_params(req)
        limit = req.get_int("limit", 10, 1, 1000)
        order = req.get_choice("order", "asc", ("asc", "desc"))
        sort = req.get_choice("sort", "ticker", ("ticker", "underlying_ticker", "expiration_date", "strike_price"))
        expired = req.get_bool("expired", False)
        as_of = req.get_date("as_of") or self.m.end
        i = int(np.searchsorted(self.m.session_days, np.datetime64(as_of, "D"), "right")) - 1
        rows = self.om.listed_as_of(i)
        rows = rows.filter(pl.col("expiration") < as_of) if expired else rows.filter(pl.col("expiration") >= as_of)
        rows = rows.rename({"underlying": "underlying_ticker", "expiration": "expiration_date",
                            "strike": "strike_price"})
        for name, kind in self.FILTERS.items():
            col = pl.col(name)
            for suffix, op in (("", "eq"), (".gte", "ge"), (".gt", "gt"), (".lte", "le"), (".lt", "lt")):
                raw = req.params.get(name + suffix)
                if raw:
                    value = _typed(req, name + suffix, raw, kind)
                    if kind == "date":
                        value = dt.date.fromisoformat(value)
                    rows = rows.filter(getattr(col, f"__{op}__")(value))
        rows = rows.sort([sort, "ticker"], descending=order == "desc")
        chunk, next_url = page(req, rows.rename({"underlying_ticker": "underlying", "expiration_date": "expiration",
                                                 "strike_price": "strike"}).to_dicts(), limit)
        payload = {"results": [contract_row(r) for r in chunk], "status": "OK", "request_id": req.request_id}
        if next_url:
            payload["next_url"] = next_url
        return json_response(payload)

    def range_day(self, req: Request, ticker: str, start: str, end: str, from_ms: int, to_ms: int,
                  midnight_ms: np.ndarray, adjusted: bool, order: str, limit: int) -> Response:
        """Daily bars of one contract (00:00 ET stamps; never split-adjusted), paged like stock bars."""
        b = self.om.daily_bars(ticker)
        payload: dict = {"ticker": ticker, "queryCount": 0, "resultsCount": 0, "adjusted": adjusted,
                         "status": "OK", "request_id": req.request_id}
        t = midnight_ms[b["session"]]
        sel = np.flatnonzero((t >= from_ms) & (t <= to_ms))
        if order == "desc":
            sel = sel[::-1]
        page_rows, rest = sel[:limit], sel[limit:]
        if page_rows.size:
            results = [{"c": c, "h": h, "l": lo, "n": n, "o": o, "t": ts, "v": v, "vw": vw}
                       for o, h, lo, c, v, vw, n, ts in zip(
                           b["o"][page_rows].tolist(), b["h"][page_rows].tolist(), b["l"][page_rows].tolist(),
                           b["c"][page_rows].tolist(), b["v"][page_rows].astype(np.int64).tolist(),
                           b["vw"][page_rows].tolist(), b["n"][page_rows].tolist(), t[page_rows].tolist())]
            payload.update(queryCount=len(results), resultsCount=len(results), results=results)
        if rest.size:
            cursor = encode_cursor({"adjusted": str(adjusted).lower(), "limit": str(limit), "sort": order})
            nxt = str(int(t[rest[0]]))
            new_from, new_to = (nxt, end) if order == "asc" else (start, nxt)
            payload["next_url"] = (f"{req.base_url}/v2/aggs/ticker/{ticker}/range/1/day/{new_from}/{new_to}"
                                   f"?cursor={cursor}")
        payload["count"] = payload["resultsCount"]
        return json_response(payload)


def export_truth(market: Market, out_dir) -> list:
    """Write the options ground truth as Parquet: options_contracts (every listed contract) and
    options_daily (every contract-session with its known sigma, q, r, unrounded price and served bar)."""
    from pathlib import Path

    from quantmini.atomic import atomic_path

    om = OptionsMarket.of(market)
    frames = {"options_contracts": om.contracts, "options_daily": om.truth_frame()}
    paths = []
    for name, frame in frames.items():
        path = Path(out_dir) / f"{name}.parquet"
        with atomic_path(path) as tmp:
            frame.write_parquet(tmp)
        paths.append(path)
    return paths
