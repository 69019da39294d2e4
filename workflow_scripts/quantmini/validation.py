"""Validation of bronze tables with pandera: every rejected row goes to quarantine with its reason.

Nothing is dropped silently: a partition's report counts rows in, rows kept, rows quarantined per
reason, exact duplicates collapsed, and sessions without any bar.

The bronze models of every table build on the shared pieces below: `BronzeModel` (the common Config),
`BarBronze` (a bar's columns) and the check factories (`row_check`, `unique`, `ordered`, `in_window`,
`all_parsed`), each check named once, by its quarantine reason.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator

import pandera.polars as pa
import polars as pl

# ------------------------------------------------------------------ pieces shared by the bronze models
TICKER_LENGTH = {"min_value": 1, "max_value": 16}  # str_length of a stock ticker


class BronzeModel(pa.DataFrameModel):
    """Base of the bronze models: other columns (helpers `_...`, fields not checked) are allowed, nothing is
    coerced."""

    class Config:
        strict = False
        coerce = False


def row_check(name: str, passes: pl.Expr) -> classmethod:
    """A dataframe check named `name` (the quarantine reason): a row passes where `passes` is true, and also
    where it is null unless the expression fills nulls itself (`.fill_null(False)`: a null fails)."""

    def check(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(passes)

    # The name rides on the function, never on `name=`: pandera pops `name=` from a check's kwargs when the
    # first model using it builds its schema, so a model inheriting the check would report its method name
    # instead, depending on which schema was built first (quarantine reasons once changed with test order).
    check.__name__ = check.__qualname__ = name
    return pa.dataframe_check(check)


def unique(*columns: str, name: str | None = None) -> classmethod:
    """`unique(a,b)`: no two rows share the key; every row of a repeated key fails."""
    key = pl.col(columns[0]) if len(columns) == 1 else pl.struct(*columns)
    return row_check(name or f"unique({','.join(columns)})", ~key.is_duplicated())


def ordered(*columns: str, nulls_fail: bool) -> classmethod:
    """`a<=b<=c`: each column at most the next. A null comparison passes unless `nulls_fail`."""
    passes = functools.reduce(operator.and_, [pl.col(a) <= pl.col(b) for a, b in zip(columns, columns[1:])])
    return row_check("<=".join(columns), passes.fill_null(False) if nulls_fail else passes)


def in_window(column: str, closed: str = "both") -> classmethod:
    """`<column> inside the partition's window`: between the helper columns `_lo` and `_hi` (`closed` as in
    polars' is_between); a null fails."""
    passes = pl.col(column).is_between(pl.col("_lo"), pl.col("_hi"), closed=closed).fill_null(False)
    return row_check(f"{column} inside the partition's window", passes)


def all_parsed(name: str) -> classmethod:
    """Every date/time text of the row parsed: the helper column `_unparsed` (the fields whose text did not
    parse) is null or empty."""
    return row_check(name, pl.col("_unparsed").fill_null("") == "")


class BarBronze(BronzeModel):
    """The columns of an unadjusted bar (ticker, date, OHLC, volume, vwap, transactions); the bar models
    add their checks and may narrow a column (redeclared, it keeps its place; new columns come after)."""

    ticker: str = pa.Field(nullable=False, str_length=TICKER_LENGTH)
    date: dt.date = pa.Field(nullable=False)
    open: float = pa.Field(gt=0, nullable=False)
    high: float = pa.Field(gt=0, nullable=False)
    low: float = pa.Field(gt=0, nullable=False)
    close: float = pa.Field(gt=0, nullable=False)
    volume: float = pa.Field(ge=0, nullable=False)
    vwap: float = pa.Field(gt=0, nullable=True)
    transactions: int = pa.Field(ge=0, nullable=True)


def check_reasons(df: pl.DataFrame, schema: type[pa.DataFrameModel]) -> pl.DataFrame:
    """Row index -> '; '-joined names of the checks it fails (empty frame when all pass)."""
    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors as exc:
        fc = exc.failure_cases.filter(pl.col("index").is_not_null())
        reason = pl.when(pl.col("schema_context") == "Column").then(
            pl.col("column") + ":" + pl.col("check")
        ).otherwise(pl.col("check"))
        return (
            fc.select(pl.col("index").cast(pl.UInt32).alias("_row"), reason.alias("reason"))
            .unique()
            .sort("_row", "reason")
            .group_by("_row", maintain_order=True)
            .agg(pl.col("reason").str.join("; "))
        )
    return pl.DataFrame(schema={"_row": pl.UInt32, "reason": pl.Utf8})


def validate_rows(
    rows: pl.DataFrame, schema: type[pa.DataFrameModel], *, sort_by: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame, dict]:
    """Split any bronze table into (clean, quarantined with `reason`, report) by a pandera model.

    The generic form of stocks_daily's `validate_partition` for tables without sessions (corporate actions,
    reference data). Exact duplicate rows are collapsed and counted; columns starting with `_` (helpers the
    schema's checks read, e.g. a partition's date window) are dropped from both outputs. Row order is
    kept among equal `sort_by` keys (the vendor's order).
    """
    rows_in = rows.height
    deduped = rows.unique(maintain_order=True)
    indexed = deduped.with_row_index("_row")
    reasons = check_reasons(deduped, schema)
    good = indexed.join(reasons, on="_row", how="anti").sort("_row")
    bad = indexed.join(reasons, on="_row", how="inner").sort("_row")
    schema.validate(good.drop("_row"))  # must now pass
    private = [c for c in indexed.columns if c.startswith("_")]
    clean = good.drop(private).sort(sort_by, maintain_order=True, nulls_last=True)
    quarantine = bad.drop(private).sort(sort_by, maintain_order=True, nulls_last=True)
    report = {
        "rows_in": rows_in,
        "rows_valid": clean.height,
        "rows_quarantined": quarantine.height,
        "exact_duplicates_collapsed": rows_in - deduped.height,
        "quarantined_by_reason": dict(
            quarantine.group_by("reason").len().sort("reason").iter_rows()
        ) if quarantine.height else {},
    }
    report["ok"] = report["rows_quarantined"] == 0
    return clean, quarantine, report
