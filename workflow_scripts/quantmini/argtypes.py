"""argparse types shared by the `quantmini` CLI and the simulator's own CLI: one clear line on bad input."""

from __future__ import annotations

import argparse
import math


def number(kind: type, minimum: float, maximum: float | None = None):
    """An argparse type: a `kind` (int or float) from minimum to maximum, else one clear line (also
    the simulator's CLI's)."""
    what = "an integer" if kind is int else "a number"

    def parse(raw: str):
        try:
            value = kind(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{raw}' is not {what}") from None
        if not math.isfinite(value):  # nan passes every comparison below; inf is no setting either
            raise argparse.ArgumentTypeError(f"'{raw}' is not a finite number")
        if value < minimum:
            raise argparse.ArgumentTypeError(f"'{raw}' must be >= {minimum}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"'{raw}' must be <= {maximum}")
        return value

    return parse
