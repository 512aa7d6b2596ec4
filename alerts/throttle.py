"""Throttling failed sign-ins and acknowledgements, per client and per user.

Pure: time is a parameter. Each key (a client address, a user) may fail ``limit`` times in
``window``; after that it is refused until its oldest failure leaves the window. A success
does not reset the count, so an attacker cannot interleave a valid token to keep guessing.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class Throttle:
    limit: int = 10
    window: float = 60.0
    max_keys: int = 10_000
    """Bounds memory under a flood of distinct addresses: the oldest keys are forgotten first."""
    failures: dict[str, deque[float]] = field(default_factory=dict)

    def retry_after(self, keys: tuple[str, ...], now: float) -> float | None:
        """Seconds until any of ``keys`` may try again, or None if all may try now."""
        waits = []
        for key in keys:
            times = self._recent(key, now)
            if times is not None and len(times) >= self.limit:
                waits.append(times[0] + self.window - now)
        return max(waits) if waits else None

    def failed(self, keys: tuple[str, ...], now: float) -> None:
        for key in keys:
            times = self._recent(key, now)
            if times is None:
                if len(self.failures) >= self.max_keys:
                    del self.failures[next(iter(self.failures))]
                times = self.failures[key] = deque()
            times.append(now)

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self.failures.get(key)
        if times is not None:
            while times and times[0] <= now - self.window:
                times.popleft()
        return times
