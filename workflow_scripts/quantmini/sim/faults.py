"""Fault injection: deterministic given a fault seed, and convergent.

Whether the k-th attempt of a request (method + path + query, key masked) is faulted is a hash of
(fault seed, request, k), so it does not depend on how concurrent requests interleave. The same request
is faulted at most `max_consecutive` times in a row, so a retrying client always gets through.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from dataclasses import dataclass, field

# faults that replace the answer to a request; the order fixes which one a uniform draw selects
# (`timeout` holds the answer longer than a client's timeout: set QUANTMINI_HTTP_TIMEOUT_S below
# FaultInjector.timeout_s; `slow` only delays it)
RESPONSE_FAULTS = ("429", "429ra", "500", "503", "reset", "slow", "truncate", "timeout")
# faults of a listing page or a path, decided once per request key / path (not per attempt):
#   repeat_cursor  next_url points back at the page just served (the vendor's looping cursor)
#   dup_page       a page also carries the first row of the next page (rows repeated across pages)
#   403            the path answers 403 NOT_AUTHORIZED, permanently (a plan without that endpoint)
PAGE_FAULTS = ("repeat_cursor", "dup_page", "403")
# not a rate: page_size=N caps every listing's `limit` at N, so small markets page too
OPTIONS = ("page_size",)
ALL_FAULTS = RESPONSE_FAULTS + PAGE_FAULTS + OPTIONS


def parse_fault_spec(spec: str | None) -> dict[str, float]:
    """'429=0.2,500=0.1,...' -> {'429': 0.2, '500': 0.1}; raises ValueError naming the bad part."""
    rates: dict[str, float] = {}
    for part in (spec or "").split(","):
        part = part.strip()
        if not part:
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in ALL_FAULTS:
            raise ValueError(f"bad fault '{part}': use NAME=RATE with NAME one of {', '.join(ALL_FAULTS)}")
        try:
            rate = float(value)
        except ValueError:
            raise ValueError(f"bad fault rate in '{part}': not a number") from None
        if name in OPTIONS:
            if rate < 1 or rate != int(rate):
                raise ValueError(f"bad fault option in '{part}': must be a whole number >= 1")
            rates[name] = int(rate)
            continue
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"bad fault rate in '{part}': must be within [0, 1]")
        rates[name] = rate
    total = sum(r for k, r in rates.items() if k in RESPONSE_FAULTS)
    if total > 1.0 + 1e-9:
        raise ValueError(f"fault rates sum to {total:.3f} > 1 ({', '.join(PAGE_FAULTS)} excluded)")
    return rates


def _uniform(*parts: object) -> float:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass
class FaultInjector:
    rates: dict[str, float]
    seed: int = 0
    max_consecutive: int = 2
    slow_s: float = 2.0
    timeout_s: float = 6.0
    retry_after_s: int = 1
    _attempts: Counter = field(default_factory=Counter)
    _streak: Counter = field(default_factory=Counter)
    _repeated: set = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def active(self) -> bool:
        return any(self.rates.values())

    @property
    def page_size(self) -> int | None:
        """The cap on a listing's `limit` (None: the endpoint's own)."""
        return self.rates.get("page_size") or None

    def forbidden(self, path: str) -> bool:
        """Whether `path` answers 403 (decided per path, the same on every attempt: permanent)."""
        rate = self.rates.get("403", 0.0)
        return bool(rate) and _uniform(self.seed, path, "403") < rate

    def dup_page(self, key: str) -> bool:
        """Whether this page repeats the next page's first row (the same on every attempt of `key`)."""
        rate = self.rates.get("dup_page", 0.0)
        return bool(rate) and _uniform(self.seed, key, "dup_page") < rate

    def decide(self, key: str) -> str | None:
        """The response fault for this attempt of request `key`, or None to answer normally."""
        if not self.active:
            return None
        with self._lock:
            attempt = self._attempts[key]
            self._attempts[key] += 1
            if self._streak[key] >= self.max_consecutive:
                self._streak[key] = 0
                return None
            u = _uniform(self.seed, key, attempt)
            acc = 0.0
            for name in RESPONSE_FAULTS:
                acc += self.rates.get(name, 0.0)
                if u < acc:
                    self._streak[key] += 1
                    return name
            self._streak[key] = 0
            return None

    def repeat_cursor(self, key: str) -> bool:
        """Whether this paged response's next_url should point back to an earlier cursor (once per key)."""
        rate = self.rates.get("repeat_cursor", 0.0)
        if not rate:
            return False
        with self._lock:
            if key in self._repeated or _uniform(self.seed, key, "repeat_cursor") >= rate:
                return False
            self._repeated.add(key)
            return True
