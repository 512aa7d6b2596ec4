"""When to try a delivery again, and when to stop trying a receiver for a while. Pure.

- A 2xx is delivered. A 4xx is the receiver refusing this message, so it is not retried,
  except 408 (timeout) and 429 (rate limited). 5xx and network errors are retried.
- Backoff is exponential with full jitter (AWS's "full jitter"), capped, and a
  ``Retry-After`` from the receiver is honoured when it asks for longer.
- Each receiver has a circuit breaker: after ``threshold`` failures in a row it opens for
  ``cooldown`` seconds, during which no request is made; then one trial request decides.
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Verdict = Literal["delivered", "retry", "refused"]


def classify(status: int | None) -> Verdict:
    """``None`` is a network error or a timeout."""
    if status is not None and 200 <= status < 300:
        return "delivered"
    if status is not None and 400 <= status < 500 and status not in (408, 429):
        return "refused"
    return "retry"


def retry_after(header: str | None, now: dt.datetime) -> float | None:
    """Seconds a ``Retry-After`` header asks for: delta-seconds or an HTTP date."""
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return float(header)
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    base: float = 1.0
    cap: float = 60.0
    attempts: int = 8
    """Attempts in all, the first included, before the delivery goes to the fallback receiver."""

    def delay(self, attempt: int, asked: float | None, rand: Callable[[], float]) -> float:
        """Wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        jittered = float(rand() * min(self.cap, self.base * 2.0 ** (attempt - 1)))
        return max(jittered, asked) if asked is not None else jittered


@dataclass
class CircuitBreaker:
    threshold: int = 5
    cooldown: float = 30.0
    failures: int = 0
    open_until: float = 0.0

    def wait(self, now: float) -> float:
        """Seconds before a request may be made (0 when closed or half-open)."""
        return max(0.0, self.open_until - now)

    def record(self, ok: bool, now: float) -> None:
        if ok:
            self.failures, self.open_until = 0, 0.0
            return
        self.failures += 1
        if self.failures >= self.threshold:
            self.open_until = now + self.cooldown
