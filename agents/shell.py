"""The imperative shell around the engine: one Faust agent per domain, plus the tick timer.

Design (answers the limits in ../shared/reference/faust-notes.md; see docs/design.md):

* Case state lives in a changelog-backed table, ``<app>-<domain>-cases``, co-partitioned with
  the domain's input topic (same partition count; Faust's assignor co-assigns them).
* Faust timers cannot write tables and ``@app.timer`` runs on every worker. So the timer
  only *sends*: each second, each worker sends one tick per input partition it actively owns
  to ``<prefix>.<domain>.ticks``, which has the same partition count. The domain agent reads
  the input topic and the ticks topic as one stream, so a tick for partition p is processed
  by whichever worker owns p now, inside stream iteration, where table writes are legal.
* Deadlines are found through an in-memory due-time index (agents.due_index), rebuilt from
  the table on the first tick after any rebalance: by then Faust has recovered the table.
* Alerts are sent and acknowledged by the broker *before* the case state recording that they
  fired is written. A crash between the two re-fires the same alert id: a harmless
  duplicate, never a miss.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import faust
import msgspec
from faust.types import TP

from agents.alert import ALERT_ENCODER, Alert
from agents.due_index import DueIndex
from agents.engine import new_case, next_due, process_event, tick
from agents.measures import measure
from agents.stored_case import decode_case, encode_case
from streams import deadletter, metrics, ticks
from streams.app import RAW_TABLE, app, limits, policy, record_probe, settings
from streams.contract import Domain
from streams.stall_guard import StallGuard
from streams.ticks import WATCHED_TOPICS
from streams.topics import alerts_topic, deadletter_topic, input_topic, ticks_topic
from streams.validation import Rejection, decode_event, fingerprint

log = logging.getLogger(__name__)
UTC = dt.UTC
MARKER_TAIL = 8
"""At most this many offsets after the last record read may be transaction markers alone."""

alerts_channel = app.topic(alerts_topic(settings), key_serializer="raw", value_serializer="raw")
deadletter_channel = app.topic(deadletter_topic(settings), key_serializer="raw", value_serializer="raw")


def utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


async def emit_alerts(alerts: Iterable[Alert]) -> None:
    """Send alerts and wait until the broker has them."""
    for alert in alerts:
        fut = await alerts_channel.send(key=alert.alert_id.encode(), value=ALERT_ENCODER.encode(alert))
        await fut
        metrics.ALERTS.labels(
            alert.rule_id, alert.stage, alert.status, metrics.bounded_area(alert.area), alert.severity
        ).inc()
        if alert.status == "firing":
            metrics.ALERT_LAG.observe(max(0.0, (alert.raised_at - alert.stage_at).total_seconds()))


@dataclass
class DomainAgent:
    """Everything one domain needs at run time: its topics, its table, its due index."""

    domain: Domain
    events: faust.TopicT
    ticks: faust.TopicT
    cases: faust.Table
    index: DueIndex
    watermark: dict[int, dt.datetime] = field(default_factory=dict)
    """Per input partition: the latest recordedtime processed. While the partition has a
    backlog, ticks decide cases only this far (see ``decide_until``)."""
    processed_offset: dict[int, int] = field(default_factory=dict)

    @property
    def ticks_name(self) -> str:
        return ticks_topic(settings, self.domain)

    # ------------------------------------------------------------------ input
    async def on_input(self, message: Any) -> None:
        """Every input ends as applied, a counted duplicate, or a dead letter with a reason."""
        try:
            refused = await self._apply(message)
        except Exception as exc:  # the message, not the worker, fails; its exception text may quote input
            log.error("%s agent: %s on %s:%s@%s", self.domain, type(exc).__name__, *_position(message))
            refused = deadletter.internal_error(exc, f"the {self.domain} agent")
        self.processed_offset[message.partition] = message.offset
        if refused is None:
            return
        metrics.event_counter(self.domain, "dead_letter").inc()
        metrics.type_counter(refused.event_type or "invalid", "dead_letter").inc()
        await deadletter.send(deadletter_channel, self.domain, message, refused)

    async def _apply(self, message: Any) -> Rejection | None:
        now = utcnow()
        result = decode_event(message.value or b"", now=now, topic_domain=self.domain, key=message.key, limits=limits)
        if isinstance(result, Rejection):
            return result
        key = result.subject.encode()
        raw = self.cases.get(key)
        state = decode_case(raw) if raw is not None else new_case(result.subject, self.domain)
        state.partition = message.partition
        # Decide as of when the record was entered: records behind it in a backlog may stop a
        # clock, and firing before reading them would raise an alert only to retract it.
        outcome = process_event(state, result, policy, now, as_of=result.recordedtime)
        if outcome.duplicate:
            metrics.event_counter(self.domain, "duplicate").inc()
            return None
        if outcome.conflict:
            return Rejection(
                "id_conflict",
                "another event in this case already has this source and id",
                result.type,
                fingerprint(result.id),
                fingerprint(result.subject),
            )
        mark = self.watermark.get(message.partition)
        self.watermark[message.partition] = result.recordedtime if mark is None else max(mark, result.recordedtime)
        await emit_alerts(outcome.alerts)
        for target in outcome.forward_to:  # e.g. a missing episode, re-keyed by the child
            forwarded = msgspec.structs.replace(result, subject=target).to_cloudevent()
            fut = await self.events.send(key=target.encode(), value=msgspec.json.encode(forwarded))
            await fut
            metrics.event_counter(self.domain, "forwarded").inc()
        self.cases[key] = encode_case(state)
        for observation in measure(state, result.id, result.type):
            metrics.observe(observation)
        metrics.type_counter(result.type, "accepted").inc()
        if outcome.late_entry:
            metrics.event_counter(self.domain, "late_entry").inc()
        if outcome.rebuilt:
            metrics.event_counter(self.domain, "out_of_order").inc()
        self.index.set(message.partition, key, next_due(state))
        metrics.event_counter(self.domain, "accepted").inc()
        return None

    # ------------------------------------------------------------------ time
    async def _fire(self, partition: int, key: bytes, now: dt.datetime, as_of: dt.datetime | None) -> None:
        raw = self.cases.get(key)
        if raw is None:
            return
        state = decode_case(raw)
        alerts = tick(state, policy, now, as_of=as_of)
        if alerts:
            await emit_alerts(alerts)
            self.cases[key] = encode_case(state)
        self.index.set(partition, key, next_due(state))

    def _rebuild(self, partition: int) -> None:
        """Index every partition of this domain that the worker actively owns and has not
        indexed yet, in one pass over the table, reading only each stored case's header."""
        started = time.perf_counter()
        counts = ticks.build_index(self.index, input_topic(settings, self.domain), partition, self.cases.items())
        metrics.OPEN_DEADLINES.labels(self.domain).set(len(self.index))
        log.info(
            "%s partitions %s: %d open deadlines indexed in %.3fs",
            self.domain,
            ",".join(map(str, sorted(counts))),
            sum(counts.values()),
            time.perf_counter() - started,
        )

    async def decide_until(self, partition: int) -> dt.datetime | None:
        """None (the wall clock) once the partition's input is read to the end; while a backlog
        remains, the latest record processed (``watermark``), or the epoch if none yet. Timers
        of silent cases therefore fire on wall-clock time whenever the worker is caught up."""
        tp = TP(input_topic(settings, self.domain), partition)
        try:
            highwater = app.consumer.highwater(tp)
        except Exception:  # not known yet right after an assignment: do not hold timers back
            return None
        if highwater is None:
            return None
        done = self.processed_offset.get(partition, -1) + 1
        committed = app.consumer._committed_offset.get(tp)  # next offset after the last commit
        read_to = max(done, committed or 0)
        if read_to >= highwater:
            return None
        # Offsets are not records: a transactional producer's last commit marker is never read.
        # Only a short tail can be markers alone, so only then is the broker asked (a backlog
        # being worked through would otherwise cost a fetch per tick).
        if highwater - read_to <= MARKER_TAIL:
            try:
                if await record_probe(tp, read_to, highwater) == 0:
                    return None
            except Exception:  # cannot tell yet: hold timers at the watermark a little longer
                pass
        return self.watermark.get(partition, dt.datetime(1970, 1, 1, tzinfo=UTC))

    async def on_tick(self, partition: int) -> None:
        if not self.index.is_built(partition):
            self._rebuild(partition)
        now = utcnow()
        as_of = await self.decide_until(partition)
        for key in self.index.pop_due(partition, now if as_of is None else min(now, as_of)):
            try:
                await self._fire(partition, key, now, as_of)
            except Exception as exc:  # one case's failure must not hold back every other deadline
                log.error("%s agent: %s firing a deadline on partition %s", self.domain, type(exc).__name__, partition)
                metrics.event_counter(self.domain, "tick_error").inc()
        metrics.OPEN_DEADLINES.labels(self.domain).set(len(self.index))


def _position(message: Any) -> tuple[str, int, int]:
    return message.topic, message.partition, message.offset


DOMAIN_AGENTS: dict[Domain, DomainAgent] = {}


def domain_agent(domain: Domain) -> DomainAgent:
    """Register the agent, topics and table for one domain on the app (once per domain)."""
    if domain in DOMAIN_AGENTS:
        return DOMAIN_AGENTS[domain]
    events_name, ticks_name = input_topic(settings, domain), ticks_topic(settings, domain)
    stream_topics = app.topic(events_name, ticks_name, key_serializer="raw", value_serializer="raw")
    handle = DomainAgent(
        domain=domain,
        events=app.topic(events_name, key_serializer="raw", value_serializer="raw"),
        ticks=app.topic(ticks_name, key_serializer="raw", value_serializer="raw"),
        cases=app.Table(f"{domain}-cases", partitions=settings.partitions, **RAW_TABLE),
        index=DueIndex(),
    )

    async def process(stream: faust.StreamT[bytes]) -> None:
        # A coroutine, not an async generator: Faust formats a debug line for every value an
        # agent yields (about 4% of a worker's time), and nothing reads our agents' output.
        async for event in stream.events():
            message = event.message
            if message.topic == ticks_name:
                await handle.on_tick(message.partition)
            else:
                await handle.on_input(message)

    process.__name__ = process.__qualname__ = f"{domain}_agent"
    app.agent(stream_topics, name=f"{domain}-agent", concurrency=1)(process)
    ticks.register(events_name, handle.ticks, handle.index, alerts_topic(settings))
    DOMAIN_AGENTS[domain] = handle
    return handle


stall_guard = StallGuard(WATCHED_TOPICS, record_probe)


@app.timer(interval=5.0)
async def guard_against_stalled_partitions() -> None:
    """See streams/stall_guard.py: re-reads records Faust fetched but never delivered."""
    await stall_guard.check(app)
