"""Vendor splits and dividends checked against the raw bars before they touch any price.

Vendor lists are sometimes wrong (polygon-rest.md): the same split twice, an absurd ratio (2,000,000:1),
a split the prices never show, a dividend as large as the share price, events of a ticker that has no
bars. One such event applied corrupts every adjusted price before it, so a doubtful event is quarantined
with a human-readable reason (and a stable `code`) and counted in the report, never applied.

The split test. With c = the raw close of the security's last bar before the execution date and p the
open or the close of its first bar on or after it, x = ln(p / c) is the jump the bars show and
ln(split_from / split_to) the jump the split predicts (a 2-for-1 split halves the price). The split is
confirmed when, for the better of open and close, x is within TOLERANCE of the prediction AND nearer to
it than to "no split" (x = 0). A day's own move rarely exceeds TOLERANCE; a real split's jump (at least
x1.5 for a 3-for-2) is always much larger than the distance to its prediction.

Checks, first failing one wins (codes): no_bars, bad_ratio / non_positive_amount, absurd_ratio,
duplicate (same security, date and ratio / amount: the first listed is kept, the later copies are
quarantined -- the copies are identical, so which id survives is the vendor's listing order),
unverifiable (no bar before, or none on or after, the event date), ratio_mismatch (the bars jump, but
not by the split's ratio: a price jump the split does not explain), not_in_bars / amount_ge_close.
"""

from __future__ import annotations

import math

import polars as pl

MAX_RATIO = 1000.0  # no real split moves the price by more than this factor either way
TOLERANCE = math.log(1.25)  # |ln(observed jump) - ln(predicted jump)| a confirmed split may show

QUARANTINE_SCHEMA = {
    "event": pl.Utf8, "id": pl.Utf8, "ticker": pl.Utf8, "security": pl.Utf8, "date": pl.Date,
    "split_from": pl.Float64, "split_to": pl.Float64, "cash_amount": pl.Float64, "code": pl.Utf8,
    "reason": pl.Utf8,
}


def _num(expr: pl.Expr) -> pl.Expr:
    """A number as people write it: 2 rather than 2.0, 2000000 rather than 2e6, else 4 decimals."""
    return (pl.when(expr.is_null()).then(pl.lit("?"))
            .when(expr == expr.round(0)).then(expr.cast(pl.Int64, strict=False).cast(pl.Utf8))
            .otherwise(expr.round(4).cast(pl.Utf8)))


def _ratio_text() -> pl.Expr:
    return pl.format("{}-for-{}", _num(pl.col("split_to")), _num(pl.col("split_from")))


def _with_security(events: pl.DataFrame, bars: pl.DataFrame, date_col: str) -> pl.DataFrame:
    """Add `security` (unless given): that of the ticker's bar nearest the event date; null if none."""
    if "security" in events.columns:
        return events
    keys = (bars.select("ticker", pl.col("date").alias("_bar_date"), "security").unique()
            .sort("_bar_date"))
    return (events.sort(date_col)
            .join_asof(keys, left_on=date_col, right_on="_bar_date", by="ticker", strategy="nearest",
                       check_sortedness=False)
            .drop("_bar_date").sort("_i"))


def _around(events: pl.DataFrame, bars: pl.DataFrame, date_col: str) -> pl.DataFrame:
    """Add the security's last bar before the event date (_prev_*) and first on or after it (_on_*)."""
    b = bars.select("security", "date", "open", "close").sort("date")
    before = b.select("security", pl.col("date").alias("_prev_date"), pl.col("close").alias("_prev_close"))
    after = b.select("security", pl.col("date").alias("_on_date"), pl.col("open").alias("_on_open"),
                     pl.col("close").alias("_on_close"))
    has_bars = bars.select(pl.col("security").unique(), pl.lit(True).alias("_has_bars"))
    return (events.sort(date_col)
            .join_asof(before, left_on=date_col, right_on="_prev_date", by="security", strategy="backward",
                       allow_exact_matches=False, check_sortedness=False)
            .join_asof(after, left_on=date_col, right_on="_on_date", by="security", strategy="forward",
                       check_sortedness=False)
            .join(has_bars, on="security", how="left")
            .with_columns(pl.col("_has_bars").fill_null(False))
            .sort("_i"))


def _first_failure(checks: list[tuple[str, pl.Expr, pl.Expr]]) -> list[pl.Expr]:
    """(code, failed?, reason) in priority order -> the `code` and `reason` columns of the first failure."""
    code, reason = pl.lit(None, pl.Utf8), pl.lit(None, pl.Utf8)
    for name, failed, text in reversed(checks):
        code = pl.when(failed.fill_null(False)).then(pl.lit(name)).otherwise(code)
        reason = pl.when(failed.fill_null(False)).then(text).otherwise(reason)
    return [code.alias("code"), reason.alias("reason")]


def _duplicate(keys: list[str], eligible: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(is a later copy among eligible rows with equal keys, id of the first one listed)."""
    part = [*keys, eligible.alias("_eligible")]
    first_id = pl.col("id").sort_by("_i").first().over(part)
    later = eligible & (pl.col("_i").rank("ordinal").over(part) > 1)
    return later, first_id


def check_splits(bars: pl.DataFrame, splits: pl.DataFrame) -> pl.DataFrame:
    """The splits with `security`, the bars around each, and `code`/`reason` (null when confirmed)."""
    ev = _around(_with_security(splits.with_row_index("_i"), bars, "execution_date"), bars, "execution_date")
    sf, st = pl.col("split_from"), pl.col("split_to")
    move = sf / st  # the price multiplier the split predicts
    bad_ratio = sf.is_null() | st.is_null() | (sf <= 0) | (st <= 0) | ~move.is_finite()
    absurd = (move > MAX_RATIO) | (move < 1.0 / MAX_RATIO)
    date_text = pl.col("execution_date").cast(pl.Utf8)
    later, first_id = _duplicate(["security", "execution_date", "_move"],
                                 pl.col("_has_bars") & ~bad_ratio.fill_null(True) & ~absurd.fill_null(True))
    lm = move.log()
    x_open = (pl.col("_on_open") / pl.col("_prev_close")).log()
    x_close = (pl.col("_on_close") / pl.col("_prev_close")).log()
    err_split = pl.min_horizontal((x_open - lm).abs(), (x_close - lm).abs())
    err_none = pl.min_horizontal(x_open.abs(), x_close.abs())
    not_shown = ~((err_split <= TOLERANCE) & (err_split < err_none))
    checks = [
        ("no_bars", ~pl.col("_has_bars"), pl.format("no bars for ticker {}", pl.col("ticker"))),
        ("bad_ratio", bad_ratio, pl.format("split ratio {} on {} is not a positive number",
                                           _ratio_text(), date_text)),
        ("absurd_ratio", absurd, pl.format("absurd ratio: a {} split on {} would {} (limit: {}x either way)",
                                           _ratio_text(), date_text,
                                           pl.when(move < 1).then(pl.format("divide the price by {}", _num(1 / move)))
                                           .otherwise(pl.format("multiply the price by {}", _num(move))),
                                           pl.lit(f"{MAX_RATIO:g}"))),
        ("duplicate", later, pl.format("duplicate of split {} ({} on {})", pl.col("_first_id"), _ratio_text(),
                                       date_text)),
        ("unverifiable", pl.col("_prev_close").is_null() | pl.col("_on_close").is_null(),
         pl.format("no bar {} {} to check the {} split against",
                   pl.when(pl.col("_prev_close").is_null()).then(pl.lit("before")).otherwise(pl.lit("on or after")),
                   date_text, _ratio_text())),
        ("ratio_mismatch", not_shown & (err_none > TOLERANCE),
         pl.format("the price jump on {} is not explained by a {} split: close {} on {}, then open {} / "
                   "close {} on {} (x{}), the split predicts x{}", date_text, _ratio_text(),
                   _num(pl.col("_prev_close")), pl.col("_prev_date").cast(pl.Utf8), _num(pl.col("_on_open")),
                   _num(pl.col("_on_close")), pl.col("_on_date").cast(pl.Utf8),
                   _num((pl.col("_on_open") / pl.col("_prev_close")).round(4)), _num(move.round(4)))),
        ("not_in_bars", not_shown,
         pl.format("the bars do not show a {} split on {}: close {} on {}, then open {} / close {} on {} "
                   "(x{}), a split predicts x{}", _ratio_text(), date_text, _num(pl.col("_prev_close")),
                   pl.col("_prev_date").cast(pl.Utf8), _num(pl.col("_on_open")), _num(pl.col("_on_close")),
                   pl.col("_on_date").cast(pl.Utf8), _num((pl.col("_on_open") / pl.col("_prev_close")).round(4)),
                   _num(move.round(4)))),
    ]
    return (ev.with_columns((move.round(9)).alias("_move"))
            .with_columns(first_id.alias("_first_id"))
            .with_columns(*_first_failure(checks)))


def check_dividends(bars: pl.DataFrame, dividends: pl.DataFrame) -> pl.DataFrame:
    """The dividends with `security`, the close before each ex-date, and `code`/`reason`."""
    ev = _around(_with_security(dividends.with_row_index("_i"), bars, "ex_dividend_date"), bars,
                 "ex_dividend_date")
    amount = pl.col("cash_amount")
    date_text = pl.col("ex_dividend_date").cast(pl.Utf8)
    non_positive = amount.is_null() | ~(amount > 0) | ~amount.is_finite()
    later, first_id = _duplicate(["security", "ex_dividend_date", "cash_amount"],
                                 pl.col("_has_bars") & ~non_positive.fill_null(True))
    checks = [
        ("no_bars", ~pl.col("_has_bars"), pl.format("no bars for ticker {}", pl.col("ticker"))),
        ("non_positive_amount", non_positive,
         pl.format("cash amount {} (ex-date {}) is not positive", _num(amount), date_text)),
        ("duplicate", later, pl.format("duplicate of dividend {} ({} on {})", pl.col("_first_id"), _num(amount),
                                       date_text)),
        ("unverifiable", pl.col("_prev_close").is_null(),
         pl.format("no close before the ex-date {} to check the amount {} against", date_text, _num(amount))),
        ("amount_ge_close", amount >= pl.col("_prev_close"),
         pl.format("cash amount {} (ex-date {}) is not below the previous close {} on {}", _num(amount),
                   date_text, _num(pl.col("_prev_close")), pl.col("_prev_date").cast(pl.Utf8))),
    ]
    return ev.with_columns(first_id.alias("_first_id")).with_columns(*_first_failure(checks))


def _quarantine_rows(checked: pl.DataFrame, event: str, date_col: str) -> pl.DataFrame:
    bad = checked.filter(pl.col("code").is_not_null())
    cols = {"event": pl.lit(event), "date": pl.col(date_col)}
    return bad.select(*[cols[c].alias(c) if c in cols else
                        (pl.col(c) if c in bad.columns else pl.lit(None)).cast(t).alias(c)
                        for c, t in QUARANTINE_SCHEMA.items()])


def validate_events(
    bars: pl.DataFrame, splits: pl.DataFrame, dividends: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, dict]:
    """(splits_ok, dividends_ok, quarantine, report): the events safe to apply, and the doubtful ones.

    bars: raw bronze stocks_daily bars with `security` (adjust.assign_security) -- ticker, date, open,
    close at least. splits (id, ticker, execution_date, split_from, split_to) and dividends (id, ticker,
    ex_dividend_date, cash_amount) may carry `security`; else it is the one of the ticker's bar nearest
    the event date. The kept events are returned in their input order with their columns plus `security`.
    """
    s = check_splits(bars, splits)
    d = check_dividends(bars, dividends)
    keep_s = [*splits.columns, *(["security"] if "security" not in splits.columns else [])]
    keep_d = [*dividends.columns, *(["security"] if "security" not in dividends.columns else [])]
    splits_ok = s.filter(pl.col("code").is_null()).sort("_i").select(keep_s)
    dividends_ok = d.filter(pl.col("code").is_null()).sort("_i").select(keep_d)
    quarantine = pl.concat([_quarantine_rows(s, "split", "execution_date"),
                            _quarantine_rows(d, "dividend", "ex_dividend_date")])
    quarantine = quarantine.sort("date", "event", "ticker", "id", nulls_last=True)
    by_reason = (quarantine.group_by(pl.format("{}:{}", "event", "code").alias("k")).len().sort("k")
                 .iter_rows())
    report = {
        "splits_in": splits.height, "splits_kept": splits_ok.height,
        "splits_quarantined": splits.height - splits_ok.height,
        "dividends_in": dividends.height, "dividends_kept": dividends_ok.height,
        "dividends_quarantined": dividends.height - dividends_ok.height,
        "quarantined_by_reason": dict(by_reason),
    }
    return splits_ok, dividends_ok, quarantine, report
