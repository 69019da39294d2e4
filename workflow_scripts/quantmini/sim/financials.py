"""Fundamentals endpoints: company financials (`/vX/reference/financials`), FINRA short interest
(`/stocks/v1/short-interest`) and daily short volume (`/stocks/v1/short-volume`).

Everything is a pure function of the market: per-security constants come from `_rng(seed, 350)`, each
calendar quarter's draws from `_rng(seed, 352, quarter)`, each settlement session's from
`_rng(seed, 360, session offset)`, short volume from session-major (session x security) draws of
`_rng(seed, 370)` and `_rng(seed, 371)`. Quarters are counted from eight quarters before the market's
start, so history is prefix-stable: extending `end` only appends filings and sessions.

Financials (common stocks only; ETFs file no 10-Q): calendar quarters, labelled by each company's fiscal
year end (December, March, June or September). A quarter is filed 25-60 days after its end, accepted by
EDGAR between 06:00 and 22:00 New York time (about a third after the 16:00 close); acceptances after
17:30 get the next business day's `filing_date`, like EDGAR. `acceptance_datetime` is served as the spec
says: YYYYMMDDHHMMSS in New York time. The fiscal Q4 filing (the 10-K) yields two results: the quarter
(timeframe quarterly, Q4) and the year (annual, FY: flows summed over its four quarters). Companies file
for the quarters ending after their listing, until they are delisted.

Consistency with the market: `basic_average_shares` is the share count as of the filing date (what
`/v3/reference/tickers/{ticker}?date=` reports as share_class_shares_outstanding then: splits up to the
filing included, as SEC rules restate), EPS = net income / those shares; balance sheets balance
(assets = liabilities + equity); equity accumulates net income. Short interest settles twice a month
(the last session on or before the 15th, and the month's last session); avg_daily_volume is the mean raw
volume of the 20 sessions up to settlement; short volume's total_volume is the day's raw volume.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import cached_property

import numpy as np
import polars as pl

from quantmini import calendar
from quantmini.calendar import NY
from quantmini.sim.asgi import Request, Response, bad_request, json_response
from quantmini.sim.corporate_actions import filter_rows
from quantmini.sim.market import NEVER, Market, _rng
from quantmini.sim.paging import effective_params, page

FIN_LIMIT = 100  # the vendor's maximum `limit` of /vX/reference/financials
STOCKS_V1_LIMIT = 50_000
HISTORY_QUARTERS = 8  # quarters generated before the market's start
LATE_ACCEPTANCE = dt.time(17, 30)  # EDGAR: accepted after 17:30 -> filed the next business day

# Each statement's fields with their `order`, as in the vendor's example. A field's label is its name in
# title case ("Income/Loss", "Expense/Benefit" paired with a slash); its unit is USD unless listed in UNITS.
STATEMENTS = {
    "balance_sheet": {
        "assets": 100, "current_assets": 200, "noncurrent_assets": 300, "liabilities": 600,
        "current_liabilities": 700, "noncurrent_liabilities": 800, "equity": 1400,
        "equity_attributable_to_noncontrolling_interest": 1500, "equity_attributable_to_parent": 1600,
        "liabilities_and_equity": 1900},
    "income_statement": {
        "revenues": 100, "cost_of_revenue": 300, "gross_profit": 800, "operating_expenses": 1000,
        "operating_income_loss": 1100, "income_tax_expense_benefit": 2200, "net_income_loss": 3200,
        "net_income_loss_attributable_to_parent": 3500, "basic_earnings_per_share": 4200,
        "diluted_earnings_per_share": 4300, "basic_average_shares": 4400, "diluted_average_shares": 4500},
    "cash_flow_statement": {
        "net_cash_flow_from_operating_activities": 100, "net_cash_flow_from_investing_activities": 400,
        "net_cash_flow_from_financing_activities": 700, "net_cash_flow": 1100},
    "comprehensive_income": {"comprehensive_income_loss": 100, "other_comprehensive_income_loss": 400},
}
UNITS = {"basic_earnings_per_share": "USD / shares", "diluted_earnings_per_share": "USD / shares",
         "basic_average_shares": "shares", "diluted_average_shares": "shares"}


def _label(field: str) -> str:
    words = " ".join(w.capitalize() for w in field.split("_"))
    return words.replace("Income Loss", "Income/Loss").replace("Expense Benefit", "Expense/Benefit")


# (statement, field, label, order, unit), in the order served
FIELDS = [(statement, field, _label(field), order, UNITS.get(field, "USD"))
          for statement, fields in STATEMENTS.items() for field, order in fields.items()]
FLOWS = {f for s, f, *_ in FIELDS if s != "balance_sheet"} - set(UNITS)  # summed over a fiscal year's quarters


def _quarter_end(qa: int) -> dt.date:
    year, q = divmod(qa, 4)
    return dt.date(year + (q == 3), (3 * (q + 1)) % 12 + 1, 1) - dt.timedelta(days=1)


def _quarter_start(qa: int) -> dt.date:
    year, q = divmod(qa, 4)
    return dt.date(year, 3 * q + 1, 1)


def _quarter_of(day: dt.date) -> int:
    return day.year * 4 + (day.month - 1) // 3


class Fundamentals:
    """Endpoint family; the data are built on first use (other tests never pay for them)."""

    def __init__(self, market: Market):
        self.m = market

    def routes(self, router) -> None:
        router.add(r"/vX/reference/financials", self.financials)
        router.add(r"/stocks/v1/short-interest", self.short_interest)
        router.add(r"/stocks/v1/short-volume", self.short_volume)

    # ------------------------------------------------------------------ model
    @cached_property
    def _constants(self) -> dict[str, np.ndarray]:
        m = self.m
        g = _rng(m.config.seed, 350)
        n = m.n
        cap0 = m.shares_base * m.p0
        return {
            "fye": g.choice(np.array([12, 12, 12, 3, 6, 9]), n),
            "rev0": cap0 * g.uniform(0.02, 0.12, n),
            "drift": g.normal(0.012, 0.01, n),
            "margin": g.normal(0.08, 0.06, n),
            "opex": g.uniform(0.10, 0.30, n),
            "equity0": cap0 * g.uniform(0.15, 1.2, n),
            "lev": g.uniform(0.3, 2.0, n),
            "current": g.uniform(0.2, 0.6, n),
            "dilution": g.uniform(0.0, 0.03, n),
            "si_ratio": g.uniform(0.01, 0.12, n),
            "sv_ratio": g.uniform(0.25, 0.55, n),
            "nyse_share": g.uniform(0.05, 0.5, n),
        }

    @cached_property
    def _calendar(self) -> tuple[np.ndarray, int]:
        """Sessions from the first history quarter to a year after the market's end, and the offset of
        the market's first session in it (so offsets before `start` are negative)."""
        first = _quarter_start(_quarter_of(self.m.start) - HISTORY_QUARTERS)
        days = calendar.sessions(first, self.m.end + dt.timedelta(days=400))
        arr = np.array(days, dtype="datetime64[D]")
        return arr, int(np.searchsorted(arr, np.datetime64(self.m.start, "D")))

    def _shares(self, j: int, i: int) -> float:
        """Shares outstanding of security j as of session offset i (splits up to i; none before start)."""
        return self.m.shares_outstanding(j, i) if i >= 0 else float(self.m.shares_base[j])

    @cached_property
    def filings(self) -> list[dict]:
        """Every result the endpoint can serve, as served, plus private `_` keys used to filter/sort."""
        m, k = self.m, self._constants
        days, off0 = self._calendar
        q0 = _quarter_of(m.start) - HISTORY_QUARTERS
        q1 = _quarter_of(m.end)
        rev_log = np.log(k["rev0"])
        equity = k["equity0"].copy()
        quarters: dict[int, list[dict | None]] = {}  # security -> its quarterly values, by quarter
        out = []
        end_np = np.datetime64(m.end, "D")
        for qa in range(q0, q1 + 1):
            g = _rng(m.config.seed, 352, qa)
            z = g.standard_normal((6, m.n))
            lag = g.integers(25, 61, m.n)
            minute = np.where(g.random(m.n) < 0.35, g.integers(16 * 60, 22 * 60, m.n),
                              g.integers(6 * 60, 16 * 60, m.n))
            second = g.integers(0, 60, m.n)
            rev_log = rev_log + k["drift"] + 0.05 * z[0]
            revenue = np.round(np.exp(rev_log), -3)
            margin = np.clip(k["margin"] + 0.03 * z[1], -0.3, 0.35)
            ni = np.round(revenue * margin, -3)
            equity = equity + ni
            q_end = _quarter_end(qa)
            for j in range(m.n):
                vals = self._quarter_values(j, revenue[j], ni[j], equity[j], z[2:, j], k)
                quarters.setdefault(j, []).append(None)
                if m.sec_type[j] != "CS" or not m.visible[j] or np.datetime64(q_end, "D") < m.list_date[j]:
                    continue
                acc_day = np.datetime64(q_end + dt.timedelta(days=int(lag[j])), "D")
                pos = int(np.searchsorted(days, acc_day))  # the first session on or after
                acc_time = dt.time(int(minute[j]) // 60, int(minute[j]) % 60, int(second[j]))
                fpos = pos + (acc_time > LATE_ACCEPTANCE)
                i_acc = pos - off0
                if i_acc > m.last_idx[j] or (m.delist_off[j] < NEVER and i_acc > m.delist_off[j]):
                    continue  # delisted: files no more
                if days[fpos] > end_np:
                    continue  # not filed yet
                acc_date = days[pos].astype(dt.date)
                shares = self._shares(j, min(fpos - off0, m.N - 1))
                vals.update(self._per_share(vals["net_income_loss"], shares, k["dilution"][j]))
                quarters[j][-1] = vals
                accepted = dt.datetime.combine(acc_date, acc_time, tzinfo=NY)
                meta = {
                    "j": j, "shares": shares, "accepted": accepted, "filing_date": days[fpos].astype(dt.date),
                    "ticker": m.symbol_at(j, int(np.clip(i_acc, 0, m.N - 1))),
                }
                fq = ((q_end.month - int(k["fye"][j])) % 12) // 3  # 0 = fiscal Q4
                fy = q_end.year + (q_end.month > int(k["fye"][j]))
                out.append(self._result(meta, vals, "quarterly", f"Q{fq or 4}", fy, _quarter_start(qa), q_end))
                if fq == 0 and len(quarters[j]) >= 4 and all(quarters[j][-4:]):
                    year_vals = {f: (sum(q[f] for q in quarters[j][-4:]) if f in FLOWS else vals[f])
                                 for f in vals}
                    year_vals.update(self._per_share(year_vals["net_income_loss"], shares, k["dilution"][j]))
                    out.append(self._result(meta, year_vals, "annual", "FY", fy, _quarter_start(qa - 3), q_end))
        return out

    @staticmethod
    def _per_share(ni: float, shares: float, dilution: float) -> dict:
        diluted = float(np.round(shares * (1.0 + dilution)))
        return {"basic_average_shares": shares, "diluted_average_shares": diluted,
                "basic_earnings_per_share": round(ni / shares, 2), "diluted_earnings_per_share": round(ni / diluted, 2)}

    @staticmethod
    def _quarter_values(j: int, revenue: float, ni: float, equity: float, z: np.ndarray, k: dict) -> dict:
        r3 = lambda x: float(np.round(x, -3))
        tax = r3(max(ni, 0.0) * 0.266)
        opex = r3(revenue * k["opex"][j])
        operating = ni + tax
        gross = operating + opex
        eq = r3(equity)
        liabilities = r3(max(abs(eq), 0.2 * k["equity0"][j]) * k["lev"][j])
        assets = eq + liabilities
        current_assets = r3(assets * k["current"][j])
        current_liabilities = r3(liabilities * 0.4)
        cfo = r3(ni * (1.1 + 0.2 * z[0]))
        cfi = r3(-revenue * 0.05 * abs(z[1]))
        cff = r3(-(cfo + cfi) * 0.5 * (1.0 + 0.3 * z[2]))
        oci = r3(revenue * 0.002 * z[3])
        return {
            "assets": assets, "current_assets": current_assets, "noncurrent_assets": assets - current_assets,
            "liabilities": liabilities, "current_liabilities": current_liabilities,
            "noncurrent_liabilities": liabilities - current_liabilities, "equity": eq,
            "equity_attributable_to_noncontrolling_interest": 0.0, "equity_attributable_to_parent": eq,
            "liabilities_and_equity": assets,
            "revenues": float(revenue), "cost_of_revenue": float(revenue) - gross, "gross_profit": gross,
            "operating_expenses": opex, "operating_income_loss": operating, "income_tax_expense_benefit": tax,
            "net_income_loss": float(ni), "net_income_loss_attributable_to_parent": float(ni),
            "net_cash_flow_from_operating_activities": cfo, "net_cash_flow_from_investing_activities": cfi,
            "net_cash_flow_from_financing_activities": cff, "net_cash_flow": cfo + cfi + cff,
            "comprehensive_income_loss": float(ni) + oci, "other_comprehensive_income_loss": oci,
        }

    def _result(self, meta: dict, vals: dict, timeframe: str, period: str, fy: int, start: dt.date,
                end: dt.date) -> dict:
        m, j = self.m, meta["j"]
        fin: dict[str, dict] = {}
        for stmt, name, label, order, unit in FIELDS:
            v = vals[name]
            value = v if unit == "USD / shares" else int(v)
            fin.setdefault(stmt, {})[name] = {"label": label, "order": order, "unit": unit, "value": value}
        digest = hashlib.sha256(f"{m.config.seed}|{m.security_id[j]}|{end}|{timeframe}".encode()).hexdigest()
        accession = f"{m.cik[j]}-{str(fy)[2:]}-{int(digest[:8], 16) % 10**6:06d}"
        return {
            "acceptance_datetime": meta["accepted"].strftime("%Y%m%d%H%M%S"),
            "cik": m.cik[j], "company_name": m.names[j], "end_date": end.isoformat(),
            "filing_date": meta["filing_date"].isoformat(), "financials": fin, "fiscal_period": period,
            "fiscal_year": str(fy),
            "source_filing_url": f"https://api.massive.com/v1/reference/sec/filings/{accession}",
            "start_date": start.isoformat(), "tickers": [meta["ticker"]], "timeframe": timeframe,
            "_ticker": meta["ticker"], "_accepted_utc": meta["accepted"].astimezone(dt.UTC),
            "_security_id": int(m.security_id[j]), "_shares": meta["shares"],
        }

    # ------------------------------------------------------------------ /vX/reference/financials
    def financials(self, req: Request) -> Response:
        effective_params(req)
        limit = req.get_int("limit", 10, 1, FIN_LIMIT)
        order = req.get_choice("order", "asc", ("asc", "desc"))
        sort = req.get_choice("sort", "period_of_report_date", ("filing_date", "period_of_report_date"))
        timeframe = req.params.get("timeframe")
        if timeframe and timeframe not in ("annual", "quarterly", "ttm"):
            raise bad_request(req, "The parameter 'timeframe' must be one of annual, quarterly, ttm, "
                                   f"got '{timeframe}'")
        rows = [dict(r, period_of_report_date=r["end_date"], ticker=r["_ticker"]) for r in self.filings]
        rows = filter_rows(req, rows, {"ticker": "str", "cik": "str", "filing_date": "date",
                                       "period_of_report_date": "date", "timeframe": "str"})
        key = "end_date" if sort == "period_of_report_date" else "filing_date"
        rows.sort(key=lambda r: (r[key], r["cik"], r["timeframe"], r["acceptance_datetime"]), reverse=order == "desc")
        chunk, next_url = page(req, rows, limit)
        hidden = ("period_of_report_date", "ticker")  # filter keys, not served
        results = [{k: v for k, v in r.items() if not k.startswith("_") and k not in hidden} for r in chunk]
        payload = {"count": len(results), "request_id": req.request_id, "results": results, "status": "OK"}
        if next_url:
            payload["next_url"] = next_url
        return json_response(payload)

    # ------------------------------------------------------------------ short interest
    @cached_property
    def settlement_offsets(self) -> np.ndarray:
        """Session offsets of the settlement dates: the last session on or before the 15th, the month's last."""
        days = self.m.sessions
        after = calendar.sessions(days[-1] + dt.timedelta(days=1), days[-1] + dt.timedelta(days=15))[:1]
        out = [i for i, (a, b) in enumerate(zip(days, days[1:] + after))
               if b.month != a.month or a.day <= 15 < b.day]  # the next session from the calendar, not `end`
        return np.array(out, dtype=np.int64)

    @cached_property
    def short_interest_rows(self) -> list[dict]:
        m, k = self.m, self._constants
        cum = np.vstack([np.zeros((1, m.n)), np.cumsum(m.v.astype(np.float64), axis=0)])
        rows = []
        for i in map(int, self.settlement_offsets):
            z = _rng(m.config.seed, 360, i).standard_normal(m.n)
            js = m.traded_at(i)
            lo = np.maximum(m.first_idx[js], i - 19)
            adv = np.rint((cum[i + 1, js] - cum[lo, js]) / (i + 1 - lo)).astype(np.int64)
            si = [int(round(self._shares(int(j), i) * k["si_ratio"][j] * np.exp(0.15 * z[j]))) for j in js]
            rows += [{"avg_daily_volume": int(a), "days_to_cover": round(s / max(int(a), 1), 2),
                      "settlement_date": m.sessions[i].isoformat(), "short_interest": s,
                      "ticker": m.symbol_at(int(j), i)} for j, a, s in zip(js, adv, si)]
        return rows

    def short_interest(self, req: Request) -> Response:
        return self._stocks_v1(req, self.short_interest_rows, "settlement_date")

    # ------------------------------------------------------------------ short volume
    @cached_property
    def short_volume_rows(self) -> pl.DataFrame:
        m, k = self.m, self._constants
        # session-major, one stream per array: a session's draws never depend on `end`
        z = _rng(m.config.seed, 370).standard_normal((m.N, m.n))
        u = _rng(m.config.seed, 371).random((m.N, m.n))
        tt, jj = np.nonzero((np.arange(m.N)[:, None] >= m.first_idx) & (np.arange(m.N)[:, None] <= m.last_idx))
        total = m.v[tt, jj].astype(np.int64)
        ratio = np.clip(k["sv_ratio"][jj] + 0.08 * z[tt, jj], 0.05, 0.95)
        short = np.rint(total * ratio).astype(np.int64)
        exempt = np.rint(short * 0.02 * u[tt, jj]).astype(np.int64)
        non_exempt = short - exempt
        nyse = np.rint(non_exempt * k["nyse_share"][jj]).astype(np.int64)
        chicago = np.rint(non_exempt * 0.01).astype(np.int64)
        adf = np.rint(non_exempt * 0.005).astype(np.int64)
        nyse_ex = np.rint(exempt * k["nyse_share"][jj]).astype(np.int64)
        return pl.DataFrame({
            "adf_short_volume": adf, "adf_short_volume_exempt": np.zeros_like(adf),
            "date": pl.Series(m.session_days[tt]).cast(pl.Date).dt.to_string("%Y-%m-%d"),
            "exempt_volume": exempt,
            "nasdaq_carteret_short_volume": non_exempt - nyse - chicago - adf,
            "nasdaq_carteret_short_volume_exempt": exempt - nyse_ex,
            "nasdaq_chicago_short_volume": chicago, "nasdaq_chicago_short_volume_exempt": np.zeros_like(adf),
            "non_exempt_volume": non_exempt, "nyse_short_volume": nyse, "nyse_short_volume_exempt": nyse_ex,
            "short_volume": short, "short_volume_ratio": np.round(short / total * 100.0, 2),
            "ticker": m._bars_ticker(tt, jj), "total_volume": total,
        })

    def short_volume(self, req: Request) -> Response:
        df = self.short_volume_rows
        effective_params(req)
        for name in ("ticker", "date"):
            df = _filter_frame(req, df, name)
        return self._stocks_v1(req, df.to_dicts(), "date", prefiltered=True)

    # ------------------------------------------------------------------ stocks/v1 listing
    def _stocks_v1(self, req: Request, rows: list[dict], date_field: str, prefiltered: bool = False) -> Response:
        if not prefiltered:
            effective_params(req)
            rows = filter_rows(req, rows, {"ticker": "str", date_field: "date"})
        for name in ("ticker", date_field):
            raw = req.params.get(f"{name}.any_of")
            if raw:
                allowed = set(raw.split(","))
                rows = [r for r in rows if r[name] in allowed]
        limit = req.get_int("limit", 10, 1, STOCKS_V1_LIMIT)
        sort = req.params.get("sort") or "ticker.asc"
        keys, allowed = [], set(rows[0]) if rows else {"ticker", date_field}
        for part in sort.split(","):
            col, _, direction = part.partition(".")
            if col not in allowed or direction not in ("asc", "desc", ""):
                raise bad_request(req, f"Could not parse the 'sort' parameter: '{sort}'")
            keys.append((col, direction == "desc"))
        for col, desc in reversed(keys + [("ticker", False), (date_field, False)]):
            rows = sorted(rows, key=lambda r, c=col: r[c], reverse=desc)
        chunk, next_url = page(req, rows, limit)
        payload = {"request_id": req.request_id, "results": chunk, "status": "OK"}
        if next_url:
            payload["next_url"] = next_url
        return json_response(payload)


def _filter_frame(req: Request, df: pl.DataFrame, name: str) -> pl.DataFrame:
    """`name=`, `name.gte/gt/lte/lt=` on a string column (dates compare as ISO text), vectorised."""
    ops = {"": "__eq__", "gte": "__ge__", "gt": "__gt__", "lte": "__le__", "lt": "__lt__"}
    for op, method in ops.items():
        key = f"{name}.{op}" if op else name
        raw = req.params.get(key)
        if raw:
            if name == "date":
                try:
                    raw = dt.date.fromisoformat(raw).isoformat()
                except ValueError:
                    raise bad_request(req, f"Could not parse the '{key}' parameter: '{raw}'. Use YYYY-MM-DD") from None
            df = df.filter(getattr(pl.col(name), method)(raw))
    return df


def truth_frames(market: Market) -> dict[str, pl.DataFrame]:
    """Ground truth: the filings (one row per result, with the security and the shares behind it), the
    short interest and the short volume, as served."""
    fam = Fundamentals(market)
    filings = pl.DataFrame([
        {"security_id": r["_security_id"], "ticker": r["_ticker"], "cik": r["cik"], "timeframe": r["timeframe"],
         "fiscal_period": r["fiscal_period"], "fiscal_year": r["fiscal_year"],
         "start_date": dt.date.fromisoformat(r["start_date"]), "end_date": dt.date.fromisoformat(r["end_date"]),
         "filing_date": dt.date.fromisoformat(r["filing_date"]), "acceptance_datetime": r["_accepted_utc"],
         "shares": r["_shares"],
         **{f: r["financials"][s][f]["value"] for s, f, *_ in FIELDS}}
        for r in fam.filings])
    si = pl.DataFrame(fam.short_interest_rows).with_columns(pl.col("settlement_date").str.to_date())
    sv = fam.short_volume_rows.with_columns(pl.col("date").str.to_date())
    return {"financials": filings, "short_interest": si, "short_volume": sv}


def export_truth(market: Market, out_dir) -> list:
    """Write the fundamentals ground truth (financials, short_interest, short_volume) as Parquet into out_dir."""
    from pathlib import Path

    from quantmini.atomic import atomic_path

    paths = []
    for name, frame in truth_frames(market).items():
        path = Path(out_dir) / f"{name}.parquet"
        with atomic_path(path) as tmp:
            frame.write_parquet(tmp)
        paths.append(path)
    return paths
