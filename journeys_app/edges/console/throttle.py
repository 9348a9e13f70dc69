"""Sign-in throttling: after a few wrong passwords for a name or from an address, wait.

Per console process, like the gateway's rate limits. Each failure past the free ones doubles the
wait (from 30 s up to 15 min); a successful sign-in clears the name's count.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

FREE_FAILURES = 5
FIRST_WAIT_S = 30.0
MAX_WAIT_S = 900.0
FORGET_AFTER_S = 3600.0  # a count with no failure for this long starts again


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0


@dataclass
class SignInThrottle:
    clock: Callable[[], float] = time.monotonic
    _seen: dict[str, _Failures] = field(default_factory=dict)

    def _get(self, key: str) -> _Failures:
        entry = self._seen.get(key)
        if entry is None or self.clock() - entry.last > FORGET_AFTER_S:
            entry = self._seen[key] = _Failures()
        return entry

    def wait(self, *keys: str) -> float:
        """Seconds until a sign-in for these keys (name, address) may be tried; 0 = now."""
        waits = [0.0]
        for key in keys:
            entry = self._get(key)
            if entry.count >= FREE_FAILURES:
                delay = min(MAX_WAIT_S, FIRST_WAIT_S * 2 ** (entry.count - FREE_FAILURES))
                waits.append(entry.last + delay - self.clock())
        return max(waits)

    def failed(self, *keys: str) -> None:
        for key in keys:
            entry = self._get(key)
            entry.count += 1
            entry.last = self.clock()

    def succeeded(self, key: str) -> None:
        self._seen.pop(key, None)
