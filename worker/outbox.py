"""The outbox agent: makes each delivery the dispatcher put on the outbox topic, and the heartbeat.

The outbox is a Kafka topic keyed by receiver. Each receiver gets its own lane (``Lanes``),
so one that is down holds up only its own deliveries while they are retried. A job's
offset is committed only after its delivery finished (delivered, refused, or failed over),
so a worker that crashes mid-delivery leaves the job to be read again; receivers drop a
repeat by its ``webhook-id``.

After the last attempt fails, the page goes to the fallback receiver, and a delivery-failure
notice goes there too, to the console, and to ``watchkeeper_delivery_failures_total``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field

import aiohttp
import msgspec
from faust.types import StreamT

from alerts.config import NotifyConfig, Receiver
from alerts.messages import JOB_DECODER, JOB_ENCODER, Job, Receipt
from alerts.payloads import notice, render
from alerts.retry import CircuitBreaker, RetryPolicy
from worker.channels import Produce, Send
from worker.deadletter import DeadLetters, internal_error
from worker.delivery import deliver
from worker.metrics import Metrics

log = logging.getLogger(__name__)
NEVER_OPEN = CircuitBreaker(threshold=1_000_000)
"""Heartbeats: one try each, never held back (a missed beat is itself the signal)."""


class Lanes:
    """Per receiver, ``WATCHKEEPER_DELIVERY_CONCURRENCY`` lanes, each a queue and a task; a
    job's lane is chosen by its case. So a receiver gets that many deliveries in flight at
    once, while each case's deliveries stay in order (PagerDuty sees trigger, acknowledge,
    resolve in turn), and a receiver that is down holds up only its own deliveries.

    Durability does not depend on Faust's offset commits: the agent records each job in the
    ``outbox-pending`` table (changelog-backed) before handing it to a lane, and a lane that
    finishes sends a ``finished`` marker to the outbox under the same key, which the agent
    reads on the same partition and uses to delete the entry. Every few seconds each worker
    resubmits the pending jobs of the partitions it owns that no lane is working on and that
    have not finished here: after a crash, a rebalance, or a record Faust dropped. A receiver
    may then see a repeat, with the same webhook-id."""

    def __init__(self, width: int, deliver: Callable[[Job], Awaitable[None]]) -> None:
        self.width = width
        self.deliver = deliver
        self.queues: dict[tuple[str, int], asyncio.Queue[Job]] = {}
        self.tasks: dict[tuple[str, int], asyncio.Task[None]] = {}
        self.in_flight: set[str] = set()
        self.finished: dict[str, float] = {}
        """Delivered here, its ``finished`` marker sent but not yet read back: not to resubmit."""

    def submit(self, job: Job) -> None:
        if job.webhook_id in self.in_flight or job.webhook_id in self.finished:
            return
        self.in_flight.add(job.webhook_id)
        lane = (job.receiver, zlib.crc32(job.alert.case.encode()) % self.width)
        queue = self.queues.get(lane)
        if queue is None:
            queue = self.queues[lane] = asyncio.Queue()
            self.tasks[lane] = asyncio.ensure_future(self._run(queue))
        queue.put_nowait(job)

    def marker_read(self, webhook_id: str) -> None:
        self.finished.pop(webhook_id, None)
        if len(self.finished) > 10_000:  # markers read by another worker after a rebalance
            horizon = time.monotonic() - 600
            self.finished = {k: t for k, t in self.finished.items() if t > horizon}

    async def _run(self, queue: asyncio.Queue[Job]) -> None:
        while True:
            job = await queue.get()
            try:
                await self.deliver(job)
                self.finished[job.webhook_id] = time.monotonic()
            except Exception:
                log.exception("outbox delivery of %s failed unexpectedly", job.webhook_id)
            finally:
                self.in_flight.discard(job.webhook_id)


@dataclass
class Outbox:
    config: NotifyConfig
    retry: RetryPolicy
    breaker_cooldown: float
    pending: MutableMapping[bytes, bytes]
    """The ``outbox-pending`` table: jobs read and not yet finished, by webhook-id, for a
    restarted or new owner to resume."""
    send_job: Send
    """The outbox topic, for the ``finished`` markers."""
    produce_receipt: Produce
    dead_letters: DeadLetters
    metrics: Metrics
    width: int
    rebalancing: Callable[[], bool]
    worker: str
    """This worker, as heartbeats name it (host:pid)."""
    breakers: dict[str, CircuitBreaker] = field(default_factory=dict)
    lanes: Lanes = field(init=False)
    _session: aiohttp.ClientSession | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.lanes = Lanes(self.width, self.deliver)

    async def http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        return self._session

    def breaker(self, name: str) -> CircuitBreaker:
        return self.breakers.setdefault(name, CircuitBreaker(cooldown=self.breaker_cooldown))

    # ------------------------------------------------------------------ the agent
    async def consume(self, stream: StreamT[bytes]) -> None:
        async for event in stream.events():
            message = event.message
            try:
                self.take(message.value or b"")
            except Exception as exc:  # noqa: BLE001 - a job nobody can read is dead-lettered, never a crash that skips it
                log.error(
                    "outbox: %s on %s:%s@%s", type(exc).__name__, message.topic, message.partition, message.offset
                )
                await self.dead_letters.send("outbox", message, internal_error(exc, "the outbox"))

    def take(self, value: bytes) -> None:
        """Record a job as pending and hand it to its lane, or close it on its ``finished`` marker."""
        job = JOB_DECODER.decode(value)
        key = job.webhook_id.encode()
        if job.finished:
            self.lanes.marker_read(job.webhook_id)
            if self.pending.get(key) is not None:
                del self.pending[key]
            return
        if self.pending.get(key) is None:
            self.pending[key] = value
            self.lanes.submit(job)

    async def resume_pending(self) -> None:
        """Resubmit pending jobs no lane holds (reads the table only: timers cannot write it)."""
        if self.rebalancing():
            return
        for _, value in list(self.pending.items()):
            self.lanes.submit(JOB_DECODER.decode(value))

    # ------------------------------------------------------------------ one delivery
    async def deliver(self, job: Job) -> None:
        """Deliver ``job`` (failing over, then retrying, if it must), then mark it finished."""
        receiver = self.config.receivers.get(job.receiver)
        if receiver is None:
            log.error("outbox job %s names unknown receiver %s: dropped", job.webhook_id, job.receiver)
        else:
            ok, receipts = await self.attempt(receiver, job, job.webhook_id)
            if not ok:
                await self.fail_over(receiver, job, receipts)
                await self.keep_trying(receiver, job, receipts)
        marker = msgspec.structs.replace(job, finished=True)
        await self.send_job(job.receiver.encode(), JOB_ENCODER.encode(marker))

    async def attempt(
        self, receiver: Receiver, job: Job, webhook_id: str, retry: RetryPolicy | None = None
    ) -> tuple[bool, list[Receipt]]:
        def body(now: dt.datetime) -> tuple[bytes, dict[str, str]]:
            return render(receiver, webhook_id, job.alert, job.state, job.action, job.links, now)

        ok, receipts = await deliver(
            await self.http(),
            receiver,
            webhook_id,
            body,
            retry or self.retry,
            self.breaker(receiver.name),
            round_trips=self.metrics.delivery_seconds,
        )
        pending = [await self.produce_receipt(webhook_id.encode(), msgspec.json.encode(r)) for r in receipts]
        for acknowledged in pending:
            await acknowledged
        for r in receipts:
            self.metrics.deliveries.labels(receiver.name, r.verdict).inc()
        return ok, receipts

    async def fail_over(self, receiver: Receiver, job: Job, receipts: list[Receipt]) -> None:
        self.metrics.delivery_failures.labels(receiver.name).inc()
        last = receipts[-1] if receipts else None
        why = f"{last.status or last.error} after {last.attempt} attempt(s)" if last else "no attempt"
        print(f"DELIVERY FAILED | receiver {receiver.name} | alert {job.alert.alert_id} | {why}", flush=True)
        fallback = self.config.receivers.get(self.config.fallback or "")
        if fallback is None or fallback.name == receiver.name:
            log.error(
                "delivery of %s to %s failed (%s) and there is no fallback receiver", job.webhook_id, receiver.name, why
            )
            return
        await self.attempt(fallback, job, f"{job.webhook_id}.fallback")
        message = {
            "type": "watchkeeper.delivery_failure",
            "receiver": receiver.name,
            "alert_id": job.alert.alert_id,
            "rule_id": job.alert.rule_id,
            "case": job.alert.case,
            "area": job.alert.area,
            "why": why,
        }
        failure_id = f"{job.webhook_id}.failure"

        def render_notice(now: dt.datetime) -> tuple[bytes, dict[str, str]]:
            return notice(fallback, failure_id, message, now)

        await deliver(
            await self.http(),
            fallback,
            failure_id,
            render_notice,
            self.retry,
            self.breaker(fallback.name),
            round_trips=self.metrics.delivery_seconds,
        )

    async def keep_trying(self, receiver: Receiver, job: Job, receipts: list[Receipt]) -> None:
        """A page is never dropped: past the retry budget (and the fallback), a delivery the
        receiver could still take is tried again every ``WATCHKEEPER_RETRY_CAP_SECONDS`` until it
        is delivered. Only a refusal (a 4xx other than 408 and 429) ends it: the receiver has
        said it will never take this body. The job stays pending meanwhile, so a restart
        resumes it; the lane behind it waits, keeping the receiver's deliveries in order."""
        once = RetryPolicy(self.retry.base, self.retry.cap, attempts=1)
        failing = self.metrics.deliveries_failing.labels(receiver.name)
        failing.inc()
        try:
            while receipts and receipts[-1].verdict == "retry":
                await asyncio.sleep(self.retry.cap)
                ok, receipts = await self.attempt(receiver, job, job.webhook_id, once)
                if ok:
                    print(f"DELIVERED LATE | receiver {receiver.name} | alert {job.alert.alert_id}", flush=True)
                    return
        finally:
            failing.dec()

    # ------------------------------------------------------------------ heartbeat
    async def heartbeat(self) -> None:
        """Every worker says it is alive; a receiver that stops hearing one knows the monitor died."""
        now = dt.datetime.now(dt.UTC)
        for name in self.config.heartbeat_receivers:
            receiver = self.config.receivers[name]
            beat_id = f"heartbeat.{self.worker}.{int(now.timestamp())}.{name}"
            beat = {"type": "watchkeeper.heartbeat", "worker": self.worker, "at": now.isoformat()}

            def render_beat(
                at: dt.datetime, r: Receiver = receiver, i: str = beat_id, b: dict[str, str] = beat
            ) -> tuple[bytes, dict[str, str]]:
                return notice(r, i, b, at)

            once, trips = RetryPolicy(attempts=1), self.metrics.delivery_seconds
            ok, _ = await deliver(
                await self.http(), receiver, beat_id, render_beat, once, NEVER_OPEN, round_trips=trips
            )
            self.metrics.heartbeats.labels(name, "delivered" if ok else "failed").inc()
