"""Which vendor symbols the lake accepts: decided once, at bronze, so no later layer meets a name it cannot use.

A ticker becomes a directory under gold/qlib/features (lower-cased, as pyqlib looks it up) and a value in
every table. Real symbols carry dots (BRK.B), lower-case letters (Polygon's preferred shares: AHLpC) and
dashes; a hostile or broken feed can send '../x', 'a/b', '' or 200 characters. One unusable symbol used to
pass bronze and stop the gold publish of the whole lake; now its rows are quarantined with a reason, and
the rest of the lake publishes.
"""

from __future__ import annotations

import polars as pl

# letters, digits, then letters, digits, '.', '-' (no '/', '\\', whitespace, NUL, no leading '.'), at most 16
SAFE_SYMBOL = r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,15}$"
UNSAFE = "ticker is not a safe symbol (letters, digits, '.', '-'; at most 16)"
COLLIDES = "ticker collides case-insensitively with another ticker"


def is_safe(symbol: str | None) -> bool:
    import re

    return symbol is not None and re.fullmatch(SAFE_SYMBOL, symbol) is not None


def safe_expr(column: str = "ticker") -> pl.Expr:
    """True where the column is a safe symbol (null: False)."""
    return pl.col(column).str.contains(SAFE_SYMBOL).fill_null(False)


def first_of_its_case_expr(column: str = "ticker") -> pl.Expr:
    """True where no other symbol of the frame has the same lower-case form and sorts before it (AHLPC
    keeps its place, AHLpC beside it does not): pyqlib keeps one directory per lower-cased name."""
    return (pl.col(column) == pl.col(column).min().over(pl.col(column).str.to_lowercase())).fill_null(True)
