"""Token buckets per key (tenant, username, client address), thread-safe and bounded.

A noisy tenant spends its own bucket and gets 429 + Retry-After; the others keep theirs.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class TokenBuckets:
    def __init__(self, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self._max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()

    def take(self, key: str, rate: float, burst: float, cost: float = 1.0) -> int | None:
        """Spend ``cost`` tokens; None when allowed, else whole seconds until it would be."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.pop(key, (burst, now))
            tokens = min(burst, tokens + (now - at) * rate)
            if tokens >= cost:
                self._buckets[key] = (tokens - cost, now)
                allowed = True
            else:
                self._buckets[key] = (tokens, now)
                allowed = False
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        if allowed:
            return None
        return max(1, math.ceil((cost - tokens) / rate))

    def peek(self, key: str, rate: float, burst: float) -> float:
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key, (burst, now))
        return min(burst, tokens + (now - at) * rate)
