"""News endpoint (`GET /v2/reference/news`): deterministic articles about the market's securities.

Articles are drawn per New York calendar day from the stream (seed, 301, day ordinal), so a day's
articles depend only on the seed, the market's start and the securities alive that day, never on
`end` (prefix-stable). They are published at any second of the day, weekends and holidays included
(fewer then), a few exactly at the session's close or one second after it (the session-assignment
edge cases). An article names 1-4 tickers (the symbol in use at the next session on or after the
day); each named ticker has an `insight` {ticker, sentiment, sentiment_reasoning} with probability
0.85 (so sentiment can be missing).

Vendor quirks served on purpose (the ground truth has each article once):
- about 3% of the articles are listed twice in a row (a re-syndicated story: same id, same body);
- a third of the page boundaries repeat the previous page's last article at the top of the next page.
A client must de-duplicate by `id`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import lru_cache

import numpy as np
import polars as pl

from quantmini import calendar
from quantmini.sim.asgi import Request, Response, bad_request, json_response
from quantmini.sim.market import Market, _rng
from quantmini.sim.paging import effective_params, encode_cursor

NEWS_STREAM = 301  # RNG keys 300-349 belong to news and the security types (300)
PATH = "/v2/reference/news"
RATE_SESSION, RATE_OTHER = 0.30, 0.10  # articles per alive security per session day / other day
SENTIMENTS = ("positive", "neutral", "negative")
SENTIMENT_P = (0.45, 0.30, 0.25)
INSIGHT_P = 0.85
TWICE_P = 0.03
DAYS_BEFORE_START = 7  # news exists for a week before the market's first session
_PUBLISHERS = [
    ("Benzinga", "https://www.benzinga.com/"), ("The Motley Fool", "https://www.fool.com/"),
    ("Investing.com", "https://www.investing.com/"), ("GlobeNewswire Inc.", "https://www.globenewswire.com/"),
]
_HEADLINES = ["{name} shares move after analyst update", "{name} announces quarterly results",
              "What to watch at {name} this week", "{name} and peers: sector roundup",
              "{name} files regulatory update", "Is {name} a buy after the latest news?"]
_REASONS = {"positive": "The article reports favourable developments for {t}.",
            "neutral": "The article mentions {t} without a clear positive or negative view.",
            "negative": "The article reports unfavourable developments for {t}."}
_KEYWORDS = ["earnings", "analyst ratings", "guidance", "dividends", "mergers", "markets", "technology"]


def _stamp(ts: dt.datetime) -> str:
    return ts.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(req: Request, name: str, raw: str) -> dt.datetime:
    """A `published_utc` bound: RFC 3339 date-time (Z or offset) or a date (its 00:00 UTC)."""
    try:
        if len(raw) == 10:
            day = dt.date.fromisoformat(raw)
            return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
        ts = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        return ts if ts.tzinfo else ts.replace(tzinfo=dt.UTC)
    except ValueError:
        raise bad_request(req, f"Could not parse the '{name}' parameter: '{raw}'") from None


class News:
    """The news feed of a market; `day_articles` is the truth, `news` serves it with the quirks."""

    def __init__(self, market: Market):
        self.m = market
        self._day = lru_cache(maxsize=4096)(self._draw_day)
        self._listing = lru_cache(maxsize=32)(self._build_listing)

    def routes(self, router) -> None:
        router.add(PATH, self.news)

    # ------------------------------------------------------------------ the articles of a day
    def days(self) -> list[dt.date]:
        """The New York days with news: a week before the market's first session through its last."""
        first = self.m.sessions[0] - dt.timedelta(days=DAYS_BEFORE_START)
        return [first + dt.timedelta(days=k) for k in range((self.m.sessions[-1] - first).days + 1)]

    def _alive(self, day: dt.date) -> tuple[np.ndarray, int, bool]:
        """(alive security indices, session offset whose symbol they use, is day a session).

        Alive: listed by the last session on or before `day` (before the market's start: listed
        before it) and still trading at the next session on or after `day`.
        """
        m = self.m
        d64 = np.datetime64(day, "D")
        i_next = int(np.searchsorted(m.session_days, d64, "left"))
        is_session = i_next < m.N and m.session_days[i_next] == d64
        i_prev = i_next if is_session else i_next - 1
        if i_prev < 0:
            listed = m.visible & (m.list_off < 0)
        else:
            listed = m.visible & (m.first_idx <= i_prev)
        alive = listed & (i_next <= m.delist_off) & (i_next <= m.N - 1)
        return np.flatnonzero(alive), min(i_next, m.N - 1), is_session

    def _draw_day(self, day: dt.date) -> tuple[dict, ...]:
        """The day's articles as served (sorted by time, id), each with `_twice` (listed twice)."""
        m = self.m
        js, i_sym, is_session = self._alive(day)
        g = _rng(m.config.seed, NEWS_STREAM, day.toordinal())
        count = int(g.poisson((RATE_SESSION if is_session else RATE_OTHER) * js.size)) if js.size else 0
        midnight = dt.datetime(day.year, day.month, day.day, tzinfo=calendar.NY).astimezone(dt.UTC)
        close = calendar.session_bounds_utc(day)[1] if is_session else None
        out = []
        for k in range(count):
            n_t = min(int(g.geometric(0.55)), 4, js.size)
            picked = g.choice(js, n_t, replace=False)
            second = int(g.integers(0, 86_400))
            edge = g.random()
            has_insight = g.random(n_t) < INSIGHT_P
            sentiment = g.choice(3, n_t, p=SENTIMENT_P)
            twice = bool(g.random() < TWICE_P)
            extra = g.integers(0, 1 << 30, 4)
            published = midnight + dt.timedelta(seconds=second)
            if close is not None and edge < 0.03:
                published = close + dt.timedelta(seconds=int(edge < 0.015))  # at the close, or 1 s after
            tickers = [m.symbol_at(int(j), i_sym) for j in picked]
            if m.config.plant_signal or m.config.plant_leak:
                from quantmini.sim import planted

                sentiment = planted.tilt(m, day, k, published, picked, sentiment)
            aid = hashlib.sha256(f"{m.config.seed}|news|{day.isoformat()}|{k}".encode()).hexdigest()
            pub_name, pub_home = _PUBLISHERS[int(extra[0]) % len(_PUBLISHERS)]
            slug = pub_name.split()[0].lower().replace(".", "")
            lead = m.names[int(picked[0])]
            article = {
                "id": aid,
                "publisher": {"name": pub_name, "homepage_url": pub_home,
                              "logo_url": f"https://s3.massive.com/public/assets/news/logos/{slug}.png",
                              "favicon_url": f"https://s3.massive.com/public/assets/news/favicons/{slug}.ico"},
                "title": _HEADLINES[int(extra[1]) % len(_HEADLINES)].format(name=lead),
                "author": ("Staff", "Newsroom", "Market Desk")[int(extra[2]) % 3],
                "published_utc": _stamp(published),
                "article_url": f"{pub_home}news/{aid[:16]}",
                "tickers": tickers,
                "image_url": f"{pub_home}images/{aid[:12]}.jpg",
                "description": f"{pub_name} reports on {', '.join(tickers)}",
                "keywords": [_KEYWORDS[int(extra[3] >> s) % len(_KEYWORDS)] for s in (0, 8)][: 1 + int(extra[3]) % 2],
            }
            if int(extra[0]) % 2:
                article["amp_url"] = f"{pub_home}amp/news/{aid[:16]}"
            insights = [{"ticker": t, "sentiment": SENTIMENTS[int(s)],
                         "sentiment_reasoning": _REASONS[SENTIMENTS[int(s)]].format(t=t)}
                        for t, s, h in zip(tickers, sentiment, has_insight, strict=True) if h]
            if insights:
                article["insights"] = insights
            article["_twice"] = twice
            out.append(article)
        out.sort(key=lambda a: (a["published_utc"], a["id"]))
        return tuple(out)

    def articles(self, lo: dt.datetime | None = None, hi: dt.datetime | None = None) -> list[dict]:
        """Every article published in [lo, hi) (UTC; None = unbounded), once each, sorted by (time, id)."""
        days = self.days()
        if lo is not None:
            days = [d for d in days if d >= (lo.astimezone(calendar.NY).date() - dt.timedelta(days=1))]
        if hi is not None:
            days = [d for d in days if d <= (hi.astimezone(calendar.NY).date() + dt.timedelta(days=1))]
        lo_s = _stamp(lo) if lo is not None else ""
        hi_s = _stamp(hi) if hi is not None else "~"
        rows = [a for d in days for a in self._day(d) if lo_s <= a["published_utc"] < hi_s]
        return sorted(rows, key=lambda a: (a["published_utc"], a["id"]))

    # ------------------------------------------------------------------ ground truth frames
    def truth(self, lo: dt.datetime | None = None, hi: dt.datetime | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
        """(articles, article x ticker) published in [lo, hi): each article once; every named ticker,
        with its insight's sentiment and reasoning (null when the article has no insight for it)."""
        rows = self.articles(lo, hi)
        utc = pl.Datetime("us", "UTC")
        articles = pl.DataFrame(
            {"id": [a["id"] for a in rows],
             "published_utc": [a["published_utc"] for a in rows],
             "title": [a["title"] for a in rows],
             "publisher_name": [a["publisher"]["name"] for a in rows],
             "tickers": [a["tickers"] for a in rows]},
            schema={"id": pl.Utf8, "published_utc": pl.Utf8, "title": pl.Utf8, "publisher_name": pl.Utf8,
                    "tickers": pl.List(pl.Utf8)},
        ).with_columns(pl.col("published_utc").str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC").cast(utc))
        pairs = []
        for a in rows:
            insight = {i["ticker"]: i for i in a.get("insights", [])}
            for t in a["tickers"]:
                i = insight.get(t, {})
                pairs.append((a["id"], t, i.get("sentiment"), i.get("sentiment_reasoning"), a["published_utc"]))
        article_tickers = pl.DataFrame(
            pairs, orient="row",
            schema={"article_id": pl.Utf8, "ticker": pl.Utf8, "sentiment": pl.Utf8,
                    "sentiment_reasoning": pl.Utf8, "published_utc": pl.Utf8},
        ).with_columns(pl.col("published_utc").str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC").cast(utc))
        return articles, article_tickers

    # ------------------------------------------------------------------ GET /v2/reference/news
    def news(self, req: Request) -> Response:
        params = effective_params(req)
        limit = req.get_int("limit", 10, 1, 1000)
        order = req.get_choice("order", "desc", ("asc", "desc"))
        req.get_choice("sort", "published_utc", ("published_utc",))
        bounds = {}
        for op in ("gte", "gt", "lte", "lt"):
            raw = params.get(f"published_utc.{op}")
            if raw:
                bounds[op] = _stamp(parse_time(req, f"published_utc.{op}", raw))
        exact = params.get("published_utc")
        if exact:
            bounds["eq"] = _stamp(parse_time(req, "published_utc", exact))
        ticker = params.get("ticker") or None
        rows = self._listing(tuple(sorted(bounds.items())), ticker, order)
        try:
            offset = int(params.get("offset", "0"))
        except ValueError:
            raise bad_request(req, "Could not parse the 'cursor' parameter") from None
        chunk = [{k: v for k, v in a.items() if k != "_twice"} for a in rows[offset: offset + limit]]
        payload = {"results": chunk, "status": "OK", "request_id": req.request_id, "count": len(chunk)}
        if offset + limit < len(rows):
            # the vendor quirk: some boundaries start the next page with this page's last article again
            step = limit - 1 if limit > 1 and int(rows[offset + limit - 1]["id"][:2], 16) % 3 == 0 else limit
            nxt = {k: v for k, v in params.items() if k != "offset"}
            nxt["offset"] = str(offset + step)
            payload["next_url"] = f"{req.base_url}{req.path}?cursor={encode_cursor(nxt)}"
        return json_response(payload)

    def _build_listing(self, bounds: tuple, ticker: str | None, order: str) -> list[dict]:
        """Every served row for the filters (articles listed twice appear twice), sorted; cached per query."""
        b = dict(bounds)
        lo = b.get("gte") or b.get("eq")
        hi = b.get("lte") or b.get("eq")
        lo_t = dt.datetime.fromisoformat(lo.replace("Z", "+00:00")) if lo else None
        if b.get("gt") and (lo_t is None or b["gt"] >= lo):
            lo_t = dt.datetime.fromisoformat(b["gt"].replace("Z", "+00:00"))
        hi_s = hi or b.get("lt")
        hi_t = dt.datetime.fromisoformat(hi_s.replace("Z", "+00:00")) if hi_s else None
        candidates = self.articles(lo_t, None if hi_t is None else hi_t + dt.timedelta(seconds=1))
        checks = {"gte": lambda s, v: s >= v, "gt": lambda s, v: s > v, "lte": lambda s, v: s <= v,
                  "lt": lambda s, v: s < v, "eq": lambda s, v: s == v}
        rows = []
        for a in candidates:
            s = a["published_utc"]
            if all(checks[op](s, v) for op, v in b.items()) and (ticker is None or ticker in a["tickers"]):
                rows.extend([a, a] if a["_twice"] else [a])
        if order == "desc":
            rows.reverse()
        return rows


def export_truth(market: Market, out_dir) -> list:
    """Write the news ground truth (news_articles, news_article_tickers: every article once) as Parquet."""
    from pathlib import Path

    from quantmini.atomic import atomic_path

    articles, pairs = News(market).truth()
    paths = []
    for name, frame in (("news_articles", articles), ("news_article_tickers", pairs)):
        path = Path(out_dir) / f"{name}.parquet"
        with atomic_path(path) as tmp:
            frame.write_parquet(tmp)
        paths.append(path)
    return paths
