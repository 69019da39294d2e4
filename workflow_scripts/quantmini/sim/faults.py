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
RESPONSE_FAULTS = ("429", "429ra", "500", "503", "reset", "slow", "truncate")
ALL_FAULTS = RESPONSE_FAULTS + ("repeat_cursor",)


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
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"bad fault rate in '{part}': must be within [0, 1]")
        rates[name] = rate
    total = sum(r for k, r in rates.items() if k in RESPONSE_FAULTS)
    if total > 1.0 + 1e-9:
        raise ValueError(f"fault rates sum to {total:.3f} > 1 (repeat_cursor excluded)")
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
    retry_after_s: int = 1
    _attempts: Counter = field(default_factory=Counter)
    _streak: Counter = field(default_factory=Counter)
    _repeated: set = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def active(self) -> bool:
        return any(self.rates.values())

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
