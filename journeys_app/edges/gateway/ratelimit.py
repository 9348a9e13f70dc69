"""Per-key rate limiting with a reserve for VIP customers.

A token bucket per API key holds a minute's worth of requests and refills continuously. The last
`reserve` share of it is kept for requests about VIP customers, so when an MA system floods the
gateway, VIP complaints still get through first. Limits are per gateway process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class RateLimiter:
    per_minute: int
    reserve: float = 0.2  # share of the bucket only VIP requests may use
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def _bucket(self, key: str) -> _Bucket:
        now = self.clock()
        bucket = self._buckets.setdefault(key, _Bucket(float(self.per_minute), now))
        bucket.tokens = min(
            float(self.per_minute), bucket.tokens + (now - bucket.updated) * self.per_minute / 60
        )
        bucket.updated = now
        return bucket

    def needs_vip(self, key: str) -> bool:
        """True when only VIP requests would be let through now (the caller then checks the tier)."""
        return self._bucket(key).tokens < 1 + self.per_minute * self.reserve

    def take(self, key: str, *, vip: bool = False) -> float:
        """0 if the request may go; else the seconds to wait before retrying."""
        bucket = self._bucket(key)
        floor = 0.0 if vip else self.per_minute * self.reserve
        if bucket.tokens - 1 >= floor:
            bucket.tokens -= 1
            return 0.0
        return (floor + 1 - bucket.tokens) * 60 / self.per_minute
