"""Bars as the vendor prints them in JSON, shared by the aggregates and the minute endpoints."""

from __future__ import annotations

import numpy as np


def volumes_json(v: np.ndarray) -> list:
    """Whole volumes as JSON integers (as the vendor prints them), fractional adjusted ones as floats."""
    whole = v == np.floor(v)
    if whole.all():
        return v.astype(np.int64).tolist()
    return [int(x) if w else x for x, w in zip(v.tolist(), whole.tolist())]


def bar_dicts(b: dict[str, np.ndarray], t_ms: list[int], symbols: list[str] | None = None) -> list[dict]:
    cols = [b["o"].tolist(), b["h"].tolist(), b["l"].tolist(), b["c"].tolist(), volumes_json(b["v"]),
            b["vw"].tolist(), b["n"].tolist(), t_ms]
    if symbols is None:
        return [{"o": o, "h": h, "l": l, "c": c, "v": v, "vw": vw, "n": n, "t": t}
                for o, h, l, c, v, vw, n, t in zip(*cols)]
    return [{"T": s, "o": o, "h": h, "l": l, "c": c, "v": v, "vw": vw, "n": n, "t": t}
            for s, o, h, l, c, v, vw, n, t in zip(symbols, *cols)]
