"""Token buckets per key (tenant, account, client address), thread-safe and bounded.

A noisy tenant spends its own bucket and gets 429 + Retry-After; the others keep theirs.
Keys are ``<kind>:<id>`` and every kind has its own least-recently-used map with its own
bound, so a flood of one kind (client addresses, unknown usernames: attacker-chosen)
can never evict the buckets of another (accounts, tenants) and so reset a lockout.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class TokenBuckets:
    def __init__(self, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        # kind -> key -> (tokens, at)
        self._kinds: dict[str, OrderedDict[str, tuple[float, float]]] = {}
        self._max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()

    def _buckets(self, key: str) -> OrderedDict[str, tuple[float, float]]:
        kind = key.partition(":")[0]
        return self._kinds.setdefault(kind, OrderedDict())

    def take(self, key: str, rate: float, burst: float, cost: float = 1.0) -> int | None:
        """Spend ``cost`` tokens; None when allowed, else whole seconds until it would be."""
        now = self._clock()
        with self._lock:
            buckets = self._buckets(key)
            tokens, at = buckets.pop(key, (burst, now))
            tokens = min(burst, tokens + (now - at) * rate)
            if tokens >= cost:
                buckets[key] = (tokens - cost, now)
                allowed = True
            else:
                buckets[key] = (tokens, now)
                allowed = False
            while len(buckets) > self._max_keys:
                buckets.popitem(last=False)
        if allowed:
            return None
        return max(1, math.ceil((cost - tokens) / rate))

    def give_back(self, key: str, rate: float, burst: float, amount: float = 1.0) -> None:
        """Return tokens taken up front for a request that turned out not to count (a
        login that succeeded), never above ``burst``."""
        now = self._clock()
        with self._lock:
            buckets = self._buckets(key)
            tokens, at = buckets.pop(key, (burst, now))
            buckets[key] = (min(burst, tokens + (now - at) * rate + amount), now)
            while len(buckets) > self._max_keys:
                buckets.popitem(last=False)

    def peek(self, key: str, rate: float, burst: float) -> float:
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets(key).get(key, (burst, now))
        return min(burst, tokens + (now - at) * rate)
