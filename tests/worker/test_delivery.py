"""HTTP delivery against real receivers on loopback: retries, Retry-After, 4xx, outages, the breaker."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading

import aiohttp

from alerts.config import Receiver as ReceiverConfig
from alerts.messages import Receipt
from alerts.payloads import render
from alerts.retry import CircuitBreaker, RetryPolicy
from tests.alerts.helpers import alert
from tests.conftest import Receiver
from worker.delivery import deliver


def run(receiver: Receiver, policy: RetryPolicy, breaker: CircuitBreaker | None = None) -> tuple[bool, list[Receipt]]:
    config = ReceiverConfig("hook", receiver.url, "generic")

    async def go() -> tuple[bool, list[Receipt]]:
        async with aiohttp.ClientSession() as session:
            return await deliver(
                session,
                config,
                "a1.r0t0.hook",
                lambda now: render(config, "a1.r0t0.hook", alert(), "raised", "trigger", {}, now),
                policy,
                breaker or CircuitBreaker(),
                rand=lambda: 1.0,
                timeout=2.0,
            )

    return asyncio.run(go())


def test_retries_back_off_and_honour_retry_after(receiver: Receiver) -> None:
    receiver.script += [(503, {}), (429, {"Retry-After": "1"}), (204, {})]
    ok, receipts = run(receiver, RetryPolicy(base=0.05, cap=1.0, attempts=5))
    assert ok and [r.verdict for r in receipts] == ["retry", "retry", "delivered"]
    assert [r.wait_before_next for r in receipts] == [0.05, 1.0, None]
    gaps = [b - a for a, b in zip(receiver.arrivals, receiver.arrivals[1:], strict=False)]
    assert 0.04 <= gaps[0] < 0.9 and gaps[1] >= 0.95  # the receiver asked for a second: it got one
    assert len(receiver.received) == 1


def test_a_4xx_is_not_retried(receiver: Receiver) -> None:
    receiver.script.append((400, {}))
    ok, receipts = run(receiver, RetryPolicy(base=0.01, attempts=5))
    assert not ok and [r.verdict for r in receipts] == ["refused"] and len(receiver.arrivals) == 1


def test_a_receiver_down_for_a_while_gets_the_page_once_when_it_returns(receiver: Receiver) -> None:
    receiver.down()
    threading.Timer(1.0, receiver.up).start()
    ok, receipts = run(receiver, RetryPolicy(base=0.1, cap=0.3, attempts=20), CircuitBreaker(threshold=3, cooldown=0.5))
    assert ok and receipts[0].error is not None and receipts[-1].verdict == "delivered"
    assert [h["webhook-id"] for h, _ in receiver.received] == ["a1.r0t0.hook"]


def test_the_breaker_holds_requests_back_while_open(receiver: Receiver) -> None:
    receiver.script += [(500, {}), (500, {}), (204, {})]
    started = dt.datetime.now(dt.UTC)
    ok, receipts = run(
        receiver, RetryPolicy(base=0.01, cap=0.01, attempts=5), CircuitBreaker(threshold=2, cooldown=0.6)
    )
    assert ok and len(receipts) == 3
    assert receiver.arrivals[2] - receiver.arrivals[1] >= 0.55
    assert receipts[-1].at - started >= dt.timedelta(seconds=0.55)


def test_out_of_attempts_is_a_failure_with_a_receipt_per_attempt(receiver: Receiver) -> None:
    receiver.script += [(502, {})] * 3
    ok, receipts = run(receiver, RetryPolicy(base=0.01, attempts=3))
    assert not ok and [r.attempt for r in receipts] == [1, 2, 3] and receipts[-1].wait_before_next is None
