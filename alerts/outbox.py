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
import os
import socket
import time
import zlib

import aiohttp
import faust
import msgspec

from alerts.config import Receiver
from alerts.deliver import Receipt, deliver
from alerts.dispatch import JOB_DECODER, JOB_ENCODER, Job, deadletter_channel, outbox_channel
from alerts.payloads import notice, render
from alerts.retry import CircuitBreaker, RetryPolicy
from streams import deadletter, metrics
from streams.app import RAW_TABLE, app, notify_config, settings
from streams.ticks import WATCHED_TOPICS
from streams.topics import deliveries_topic, outbox_topic

log = logging.getLogger(__name__)
raw = {"key_serializer": "raw", "value_serializer": "raw"}
receipts_channel = app.topic(deliveries_topic(settings), **raw)
RETRY = RetryPolicy(settings.retry_base_seconds, settings.retry_cap_seconds, settings.retry_attempts)
BREAKERS: dict[str, CircuitBreaker] = {}
NEVER_OPEN = CircuitBreaker(threshold=1_000_000)
"""Heartbeats: one try each, never held back (a missed beat is itself the signal)."""
WORKER = f"{socket.gethostname()}:{os.getpid()}"
_session: aiohttp.ClientSession | None = None


async def http() -> aiohttp.ClientSession:
    global _session
    if _session is None or _session.closed:
        _session = aiohttp.ClientSession()
    return _session


def breaker(name: str) -> CircuitBreaker:
    return BREAKERS.setdefault(name, CircuitBreaker(cooldown=settings.breaker_cooldown_seconds))


async def attempt(
    receiver: Receiver, job: Job, webhook_id: str, retry: RetryPolicy = RETRY
) -> tuple[bool, list[Receipt]]:
    def body(now: dt.datetime) -> tuple[bytes, dict[str, str]]:
        return render(receiver, webhook_id, job.alert, job.state, job.action, job.links, now)

    ok, receipts = await deliver(await http(), receiver, webhook_id, body, retry, breaker(receiver.name))
    futures = [await receipts_channel.send(key=webhook_id.encode(), value=msgspec.json.encode(r)) for r in receipts]
    for future in futures:
        await future
    for r in receipts:
        metrics.DELIVERIES.labels(receiver.name, r.verdict).inc()
    return ok, receipts


async def fail_over(receiver: Receiver, job: Job, receipts: list[Receipt]) -> None:
    metrics.DELIVERY_FAILURES.labels(receiver.name).inc()
    last = receipts[-1] if receipts else None
    why = f"{last.status or last.error} after {last.attempt} attempt(s)" if last else "no attempt"
    print(f"DELIVERY FAILED | receiver {receiver.name} | alert {job.alert.alert_id} | {why}", flush=True)
    fallback = notify_config.receivers.get(notify_config.fallback or "")
    if fallback is None or fallback.name == receiver.name:
        log.error(
            "delivery of %s to %s failed (%s) and there is no fallback receiver", job.webhook_id, receiver.name, why
        )
        return
    await attempt(fallback, job, f"{job.webhook_id}.fallback")
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

    await deliver(await http(), fallback, failure_id, render_notice, RETRY, breaker(fallback.name))


WATCHED_TOPICS.add(outbox_topic(settings))  # a dropped job would never reach ``pending``: the stall guard re-reads it
KEEP_TRYING = RetryPolicy(RETRY.base, RETRY.cap, attempts=1)


async def keep_trying(receiver: Receiver, job: Job, receipts: list[Receipt]) -> None:
    """A page is never dropped: past the retry budget (and the fallback), a delivery the
    receiver could still take is tried again every ``WATCHKEEPER_RETRY_CAP_SECONDS`` until it
    is delivered. Only a refusal (a 4xx other than 408 and 429) ends it: the receiver has
    said it will never take this body. The job stays pending meanwhile, so a restart
    resumes it; the lane behind it waits, keeping the receiver's deliveries in order."""
    failing = metrics.DELIVERIES_FAILING.labels(receiver.name)
    failing.inc()
    try:
        while receipts and receipts[-1].verdict == "retry":
            await asyncio.sleep(RETRY.cap)
            ok, receipts = await attempt(receiver, job, job.webhook_id, KEEP_TRYING)
            if ok:
                print(f"DELIVERED LATE | receiver {receiver.name} | alert {job.alert.alert_id}", flush=True)
                return
    finally:
        failing.dec()


pending = app.Table("outbox-pending", partitions=settings.partitions, **RAW_TABLE)
"""Jobs read and not yet finished, by webhook-id: what a restarted or new owner must resume."""


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

    def __init__(self, width: int) -> None:
        self.width = width
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
                receiver = notify_config.receivers.get(job.receiver)
                if receiver is None:
                    log.error("outbox job %s names unknown receiver %s: dropped", job.webhook_id, job.receiver)
                else:
                    ok, receipts = await attempt(receiver, job, job.webhook_id)
                    if not ok:
                        await fail_over(receiver, job, receipts)
                        await keep_trying(receiver, job, receipts)
                marker = msgspec.structs.replace(job, finished=True)
                fut = await outbox_channel.send(key=job.receiver.encode(), value=JOB_ENCODER.encode(marker))
                await fut
                self.finished[job.webhook_id] = time.monotonic()
            except Exception:  # the job stays pending and is resubmitted; the lane carries on
                log.exception("outbox delivery of %s failed unexpectedly", job.webhook_id)
            finally:
                self.in_flight.discard(job.webhook_id)


lanes = Lanes(settings.delivery_concurrency)


@app.agent(outbox_channel, name="outbox", concurrency=1)
async def outbox(stream: faust.StreamT[bytes]) -> None:
    async for event in stream.events():
        message = event.message
        try:
            take(message.value)
        except Exception as exc:  # a job nobody can read is dead-lettered, never a crash that skips it
            log.error("outbox: %s on %s:%s@%s", type(exc).__name__, message.topic, message.partition, message.offset)
            await deadletter.send(deadletter_channel, "outbox", message, deadletter.internal_error(exc, "the outbox"))


def take(value: bytes) -> None:
    """Record a job as pending and hand it to its lane, or close it on its ``finished`` marker."""
    job = JOB_DECODER.decode(value)
    key = job.webhook_id.encode()
    if job.finished:
        lanes.marker_read(job.webhook_id)
        if pending.get(key) is not None:
            del pending[key]
        return
    if pending.get(key) is None:
        pending[key] = value
        lanes.submit(job)


@app.timer(interval=5.0)
async def resume_pending() -> None:
    """Resubmit pending jobs no lane holds (reads the table only: timers cannot write it)."""
    if app.rebalancing:
        return
    for _, value in list(pending.items()):
        lanes.submit(JOB_DECODER.decode(value))


if notify_config.heartbeat_interval is not None and notify_config.heartbeat_receivers:

    @app.timer(interval=notify_config.heartbeat_interval.total_seconds())
    async def heartbeat() -> None:
        """Every worker says it is alive; a receiver that stops hearing one knows the monitor died."""
        now = dt.datetime.now(dt.UTC)
        for name in notify_config.heartbeat_receivers:
            receiver = notify_config.receivers[name]
            beat_id = f"heartbeat.{WORKER}.{int(now.timestamp())}.{name}"
            beat = {"type": "watchkeeper.heartbeat", "worker": WORKER, "at": now.isoformat()}

            def render_beat(
                at: dt.datetime, r: Receiver = receiver, i: str = beat_id, b: dict[str, str] = beat
            ) -> tuple[bytes, dict[str, str]]:
                return notice(r, i, b, at)

            ok, _ = await deliver(await http(), receiver, beat_id, render_beat, RetryPolicy(attempts=1), NEVER_OPEN)
            metrics.HEARTBEATS.labels(name, "delivered" if ok else "failed").inc()
