"""The imperative shell around the engine: one Faust agent per domain (custody, protection, incidents, investigations).

Design (answers the limits in ../shared/reference/faust-notes.md; see docs/design.md):

* Case state lives in a changelog-backed table, ``<app>-<domain>-cases``, co-partitioned with
  the domain's input topic (same partition count; Faust's assignor co-assigns them).
* Faust timers cannot write tables and ``@app.timer`` runs on every worker. So the timer
  only *sends*: each second, each worker sends one tick per input partition it actively owns
  to ``<prefix>.<domain>.ticks``, which has the same partition count (worker/ticks.py). The
  domain agent reads the input topic and the ticks topic as one stream, so a tick for
  partition p is processed by whichever worker owns p now, inside stream iteration, where
  table writes are legal.
* Deadlines are found through an in-memory due-time index (worker/due_index.py), rebuilt from
  the table on the first tick after any rebalance: by then Faust has recovered the table.
* Alerts are sent and acknowledged by the broker *before* the case state recording that they
  fired is written. A crash between the two re-fires the same alert id: a harmless
  duplicate, never a miss.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Final, Protocol

import msgspec
from faust.types import TP, AppT, StreamT

from agents.alert import ALERT_ENCODER, Alert
from agents.engine import CaseState, new_case, next_due, process_event, tick
from agents.engine.state import EPOCH
from agents.measures import measure
from agents.policy import Policy
from streams.contract import Domain
from streams.validation import InputLimits, Rejection, decode_record, fingerprint
from worker import faust_internals
from worker.channels import Produce
from worker.clock import utcnow
from worker.deadletter import DeadLetters, Message, internal_error
from worker.due_index import DueIndex
from worker.metrics import Metrics
from worker.records import decode_case, due_datetime, encode_case, index_owned, read_header
from worker.stall_guard import RecordsIn

log = logging.getLogger(__name__)
MARKER_TAIL: Final = 8
"""At most this many offsets after the last record read may be transaction markers alone."""


class Offsets(Protocol):
    """What a domain agent knows of its input partitions' offsets: how far the broker has
    written, how far the group has committed, and whether records (not markers) lie in a range."""

    def highwater(self, partition: int) -> int | None: ...

    def committed(self, partition: int) -> int | None: ...

    async def records_in(self, partition: int, first: int, end: int) -> int: ...


@dataclass
class ConsumerOffsets:
    """``Offsets`` from the worker's Faust consumer and a record probe outside the group."""

    app: AppT
    topic: str
    probe: RecordsIn

    def highwater(self, partition: int) -> int | None:
        try:
            return self.app.consumer.highwater(TP(self.topic, partition))
        except Exception:  # noqa: BLE001 - not known yet right after an assignment: do not hold timers back
            return None

    def committed(self, partition: int) -> int | None:
        return faust_internals.committed_offsets(self.app).get(TP(self.topic, partition))

    async def records_in(self, partition: int, first: int, end: int) -> int:
        return await self.probe(TP(self.topic, partition), first, end)


@dataclass
class DomainAgent:
    """Everything one domain needs at run time: its table, its due index and its hand-offs."""

    domain: Domain
    policy: Policy
    limits: InputLimits
    cases: MutableMapping[bytes, bytes]
    """The Faust table (a dict in unit tests): case key -> stored case (worker/records.py)."""
    index: DueIndex
    offsets: Offsets
    owned: Callable[[], Iterable[int]]
    """The input partitions this worker actively owns now."""
    send_alert: Produce
    forward: Produce
    """Re-publish an event on the domain's input topic under another case key."""
    dead_letters: DeadLetters
    metrics: Metrics
    ticks_topic: str
    clock: Callable[[], dt.datetime] = utcnow
    watermark: dict[int, dt.datetime] = field(default_factory=dict)
    """Per input partition: the latest recordedtime processed. While the partition has a
    backlog, ticks decide cases only this far (see ``decide_until``)."""
    processed_offset: dict[int, int] = field(default_factory=dict)

    async def consume(self, stream: StreamT[bytes]) -> None:
        # A coroutine, not an async generator: Faust formats a debug line for every value an
        # agent yields (about 4% of a worker's time), and nothing reads our agents' output.
        async for event in stream.events():
            message = event.message
            if message.topic == self.ticks_topic:
                await self.on_tick(message.partition)
            else:
                await self.on_input(message)

    # ------------------------------------------------------------------ input
    async def on_input(self, message: Message) -> None:
        """Every input ends as applied, a counted duplicate, or a dead letter with a reason."""
        try:
            refused = await self._apply(message)
        except Exception as exc:  # noqa: BLE001 - the message fails, not the worker; its text may quote input
            log.error("%s agent: %s on %s:%s@%s", self.domain, type(exc).__name__, *_position(message))
            refused = internal_error(exc, f"the {self.domain} agent")
        self.processed_offset[message.partition] = message.offset
        if refused is None:
            return
        self.metrics.event_counter(self.domain, "dead_letter").inc()
        self.metrics.type_counter(refused.event_type or "invalid", "dead_letter").inc()
        await self.dead_letters.send(self.domain, message, refused)

    async def _apply(self, message: Message) -> Rejection | None:
        now = self.clock()
        result = decode_record(
            message.value or b"",
            record_headers(message),
            now=now,
            topic_domain=self.domain,
            key=message.key,
            limits=self.limits,
        )
        if isinstance(result, Rejection):
            return result
        key = result.subject.encode()
        raw = self.cases.get(key)
        state = decode_case(raw) if raw is not None else new_case(result.subject, self.domain)
        state.partition = message.partition
        # Decide as of when the record was entered: records behind it in a backlog may stop a
        # clock, and firing before reading them would raise an alert only to retract it.
        outcome = process_event(state, result, self.policy, now, as_of=result.recordedtime)
        if outcome.duplicate:
            self.metrics.event_counter(self.domain, "duplicate").inc()
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
        acks = await self.emit_alerts(outcome.alerts)
        for target in outcome.forward_to:  # e.g. a missing episode, re-keyed by the child
            forwarded = msgspec.structs.replace(result, subject=target).to_cloudevent()
            acks.append(await self.forward(target.encode(), msgspec.json.encode(forwarded)))
            self.metrics.event_counter(self.domain, "forwarded").inc()
        await asyncio.gather(*acks)  # all on the broker before the case that records them is written
        self.cases[key] = encode_case(state)
        for observation in measure(state, result.id, result.type):
            self.metrics.observe(observation)
        self._count(result.type, late_entry=outcome.late_entry, rebuilt=outcome.rebuilt)
        self.index.set(message.partition, key, next_due(state))
        return None

    def _count(self, event_type: str, *, late_entry: bool, rebuilt: bool) -> None:
        self.metrics.type_counter(event_type, "accepted").inc()
        if late_entry:
            self.metrics.event_counter(self.domain, "late_entry").inc()
        if rebuilt:
            self.metrics.event_counter(self.domain, "out_of_order").inc()
        self.metrics.event_counter(self.domain, "accepted").inc()

    async def emit_alerts(self, alerts: Iterable[Alert]) -> list[Awaitable[object]]:
        """Send alerts, all in flight at once: the caller awaits the broker's acknowledgements
        before it writes the case that records them (one round trip per record, not per alert)."""
        acks = []
        for alert in alerts:
            acks.append(await self.send_alert(alert.alert_id.encode(), ALERT_ENCODER.encode(alert)))
            area = self.metrics.bounded_area(alert.area)
            self.metrics.alerts.labels(alert.rule_id, alert.stage, alert.status, area, alert.severity).inc()
            if alert.status == "firing":
                self.metrics.alert_lag.observe(max(0.0, (alert.raised_at - alert.stage_at).total_seconds()))
        return acks

    # ------------------------------------------------------------------ time
    async def _fire(
        self, partition: int, key: bytes, now: dt.datetime, as_of: dt.datetime | None
    ) -> tuple[CaseState, Awaitable[object]] | None:
        """Decide one due case and send what it says; the caller awaits the acknowledgement and
        then writes the case. None when the case said nothing (its index entry is set here)."""
        raw = self.cases.get(key)
        if raw is None:
            return None
        state = decode_case(raw)
        alerts = tick(state, self.policy, now, as_of=as_of)
        if not alerts:
            self.index.set(partition, key, next_due(state))
            return None
        return state, asyncio.gather(*await self.emit_alerts(alerts))

    def _rebuild(self, partition: int) -> None:
        """Index every partition of this domain that the worker actively owns and has not
        indexed yet, in one pass over the table, reading only each stored case's header."""
        started = time.perf_counter()
        counts = index_owned(self.index, partition, self.owned(), self.cases.items())
        self.metrics.open_deadlines.labels(self.domain).set(len(self.index))
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
        highwater = self.offsets.highwater(partition)
        if highwater is None:
            return None
        done = self.processed_offset.get(partition, -1) + 1
        read_to = max(done, self.offsets.committed(partition) or 0)
        if read_to >= highwater:
            return None
        # Offsets are not records: a transactional producer's last commit marker is never read.
        # Only a short tail can be markers alone, so only then is the broker asked (a backlog
        # being worked through would otherwise cost a fetch per tick).
        if highwater - read_to <= MARKER_TAIL:
            try:
                if await self.offsets.records_in(partition, read_to, highwater) == 0:
                    return None
            except Exception:  # noqa: BLE001 - cannot tell yet: hold timers at the watermark a little longer
                pass
        return self.watermark.get(partition, EPOCH)

    async def on_tick(self, partition: int) -> None:
        """Fire every case due on the partition. Their alerts are all in flight at once and each
        case is written once its own alerts are acknowledged: a burst of deadlines falling at one
        instant costs one round trip to the broker, not one per case."""
        if not self.index.is_built(partition):
            self._rebuild(partition)
        now = self.clock()
        as_of = await self.decide_until(partition)
        fired: list[tuple[bytes, CaseState]] = []
        acks: list[Awaitable[object]] = []
        for key in self.index.pop_due(partition, now if as_of is None else min(now, as_of)):
            try:
                firing = await self._fire(partition, key, now, as_of)
            except Exception as exc:  # noqa: BLE001 - one case's failure must not hold back every other deadline
                self._tick_failed(partition, key, exc)
                continue
            if firing is not None:
                fired.append((key, firing[0]))
                acks.append(firing[1])
        for (key, state), acked in zip(fired, await asyncio.gather(*acks, return_exceptions=True), strict=True):
            if isinstance(acked, BaseException):
                self._tick_failed(partition, key, acked)
                continue
            self.cases[key] = encode_case(state)
            self.index.set(partition, key, next_due(state))
        self.metrics.open_deadlines.labels(self.domain).set(len(self.index))

    def _tick_failed(self, partition: int, key: bytes, exc: BaseException) -> None:
        """The case stays as stored and due: the next tick tries it again."""
        log.error("%s agent: %s firing a deadline on partition %s", self.domain, type(exc).__name__, partition)
        self.metrics.event_counter(self.domain, "tick_error").inc()
        raw = self.cases.get(key)
        if raw is not None:
            self.index.set(partition, key, due_datetime(read_header(raw)[1]))


def _position(message: Message) -> tuple[str, int, int]:
    return message.topic, message.partition, message.offset


def record_headers(message: Message) -> dict[str, bytes]:
    """A record's headers as one mapping (Faust hands on aiokafka's list of pairs, or a dict);
    a header repeated keeps its last value, as the CloudEvents Kafka binding reads it."""
    headers = getattr(message, "headers", None) or ()
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return {str(name): bytes(value) for name, value in pairs if value is not None}
