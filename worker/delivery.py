"""One delivery to one receiver over HTTP: retries, backoff, Retry-After, the circuit breaker,
and a receipt for every attempt. No Kafka here; the outbox agent (worker/outbox.py) calls it.

The body is rendered again for each attempt, so the Standard Webhooks timestamp and
signature are fresh; the ``webhook-id`` never changes, so a receiver that got an earlier
attempt (or a copy after a crash) can drop the repeat.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import time
from collections.abc import Awaitable, Callable

import aiohttp
from prometheus_client import Histogram

from alerts.config import Receiver
from alerts.messages import Receipt
from alerts.retry import CircuitBreaker, RetryPolicy, classify, retry_after

log = logging.getLogger(__name__)
Render = Callable[[dt.datetime], tuple[bytes, dict[str, str]]]


async def deliver(
    session: aiohttp.ClientSession,
    receiver: Receiver,
    webhook_id: str,
    render: Render,
    retry: RetryPolicy,
    breaker: CircuitBreaker,
    *,
    round_trips: Histogram | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rand: Callable[[], float] = random.random,
    timeout: float = 5.0,
) -> tuple[bool, list[Receipt]]:
    """Try until delivered, refused, or out of attempts. Never raises for a receiver's fault."""
    receipts: list[Receipt] = []
    for attempt in range(1, retry.attempts + 1):
        if (blocked := breaker.wait(time.monotonic())) > 0:
            await sleep(blocked)
        now = dt.datetime.now(dt.UTC)
        body, headers = render(now)
        status: int | None = None
        asked: float | None = None
        error = None
        started = time.monotonic()
        try:
            async with session.post(
                receiver.url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout)
            ) as reply:
                status = reply.status
                asked = retry_after(reply.headers.get("Retry-After"), now)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            error = type(exc).__name__
        verdict = classify(status)
        if round_trips is not None:
            round_trips.labels(receiver.name).observe(time.monotonic() - started)
        breaker.record(verdict == "delivered", time.monotonic())
        last = verdict != "retry" or attempt == retry.attempts
        wait = None if last else retry.delay(attempt, asked, rand)
        receipts.append(Receipt(webhook_id, receiver.name, attempt, now, status, verdict, error, wait))
        if verdict == "delivered":
            return True, receipts
        if verdict == "refused":
            log.error("receiver %s refused %s with %s: not retried", receiver.name, webhook_id, status)
            return False, receipts
        if wait is not None:
            log.warning(
                "receiver %s: attempt %d for %s failed (%s); next in %.1fs",
                receiver.name,
                attempt,
                webhook_id,
                status or error,
                wait,
            )
            await sleep(wait)
    return False, receipts
