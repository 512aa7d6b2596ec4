"""The dispatcher: the imperative shell around alerts/lifecycle.py.

It reads, as one stream, the alerts topic (the engine's messages), the alert-commands
topic (acknowledgements from the web endpoints) and its ticks topic, all keyed by alert id
and co-partitioned with the ``alert-records`` table. For each input it asks the lifecycle
core what changed, then:

1. sends each notification as one outbox job per receiver of the role (keyed by receiver);
2. sends each transition to the alert-transitions topic (the audit log);
3. waits for the broker to have both, and only then writes the record.

A crash between 1-2 and 3 repeats the jobs with the same webhook ids: receivers and the
outbox drop the copy. Nothing is lost.

Silences (alerts/silence.py) come from the silence log every worker keeps
(worker/silences.py). The dispatcher decides nothing until that log has been read to its end,
and when it changes, every open alert of the partitions it owns is looked at again on the next
tick, so a silence ended early releases what it held at once, even just after a restart, and a
new one holds what it matches before its next page.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass, field

import msgspec
from faust.types import StreamT

from agents.alert import ALERT_DECODER, ALERT_ID
from alerts import lifecycle
from alerts.config import NotifyConfig
from alerts.lifecycle import AlertRecord, Changes
from alerts.messages import COMMAND_DECODER, JOB_ENCODER, jobs_for
from alerts.silence import Silences
from alerts.text import format_line
from worker.channels import Produce
from worker.clock import utcnow
from worker.deadletter import DeadLetters, Message, internal_error
from worker.due_index import DueIndex
from worker.metrics import Metrics
from worker.records import decode_alert_record, encode_alert_record, index_owned

log = logging.getLogger(__name__)


def print_line(line: str) -> None:
    """The alert as one readable line on stdout: the demo's and a terminal's view of the stream."""
    print(line, flush=True)


@dataclass
class Dispatcher:
    config: NotifyConfig
    records: MutableMapping[bytes, bytes]
    """The ``alert-records`` table (a dict in unit tests): alert id -> stored record."""
    index: DueIndex
    owned: Callable[[], Iterable[int]]
    """The alerts topic's partitions this worker actively owns now."""
    produce_job: Produce
    produce_transition: Produce
    dead_letters: DeadLetters
    metrics: Metrics
    commands_topic: str
    ticks_topic: str
    silences: Silences = field(default_factory=Silences)
    """Every silence, kept by the silence log (the same object)."""
    silences_loaded: asyncio.Event = field(default_factory=asyncio.Event)
    clock: Callable[[], dt.datetime] = utcnow
    say: Callable[[str], None] = print_line

    async def consume(self, stream: StreamT[bytes]) -> None:
        await self.silences_loaded.wait()  # never page through a silence not read yet
        async for event in stream.events():
            message = event.message
            started = time.perf_counter()
            try:
                if message.topic == self.ticks_topic:
                    await self.on_tick(message.partition)
                elif message.topic == self.commands_topic:
                    await self.on_command(message)
                else:
                    await self.on_alert(message)
            except Exception as exc:  # noqa: BLE001 - the message fails, not the dispatcher; the text may quote input
                where = (message.topic, message.partition, message.offset)
                log.error("dispatcher: %s on %s:%s@%s", type(exc).__name__, *where)
                await self.dead_letters.send("dispatcher", message, internal_error(exc, "dispatch"))
            self.metrics.dispatch_seconds.observe(time.perf_counter() - started)

    async def publish(self, changes: Changes) -> None:
        """Put the jobs and transitions on their topics; return once the broker has them all."""
        pending = []
        for job in jobs_for(self.config, changes):
            pending.append(await self.produce_job(job.receiver.encode(), JOB_ENCODER.encode(job)))
        for change in changes.transitions:
            pending.append(await self.produce_transition(change.alert_id.encode(), msgspec.json.encode(change)))
            if change.notifications is None:
                self.metrics.transitions.labels(change.state).inc()
            else:
                self.metrics.silence_holds.labels(change.notifications).inc()
        for acknowledged in pending:
            await acknowledged

    def store(self, partition: int, key: bytes, record: AlertRecord, *, write: bool = True) -> None:
        if write:
            self.records[key] = encode_alert_record(partition, record)
        self.index.set(partition, key, lifecycle.next_due(record))

    def silences_changed(self) -> None:
        """A silence was set or ended: every open alert indexed here is looked at on the next tick.
        (Silences change a few times a day; a look that changes nothing writes nothing.)"""
        self.index.bring_forward(self.clock())

    def load(self, key: bytes) -> AlertRecord | None:
        stored = self.records.get(key)
        return decode_alert_record(stored) if stored is not None else None

    async def on_alert(self, message: Message) -> None:
        alert = ALERT_DECODER.decode(message.value or b"")
        key, now = alert.alert_id.encode(), self.clock()
        before = self.load(key)
        if before is not None and alert.revision <= before.alert.revision:
            return  # a copy (at-least-once) or an older revision: already handled
        self.say(format_line(alert))
        record, changes = lifecycle.on_alert(before, alert, self.config, now, self.silences)
        if record is None:
            return  # closing an alert this layer never raised
        if before is None and record.historical:
            self.metrics.historical.labels(alert.rule_id).inc()
        await self.publish(changes)
        self.store(message.partition, key, record)

    async def on_command(self, message: Message) -> None:
        command = COMMAND_DECODER.decode(message.value or b"")
        if not ALERT_ID.fullmatch(command.alert_id):
            raise ValueError("not an alert id")
        key = command.alert_id.encode()
        record = self.load(key)
        if record is None:
            log.warning("ack for unknown alert %s ignored", command.alert_id)
            return
        accepted, why, changes = lifecycle.on_ack(record, command.by, command.at, command.how)
        if not accepted:
            log.info("ack of %s by %s not applied: %s", command.alert_id, command.by, why)
            return
        self.metrics.ack_latency.observe(max(0.0, (command.at - record.raised_at).total_seconds()))
        await self.publish(changes)
        self.store(message.partition, key, record)
        way = command.how.split(":", 1)[0]  # never the note: it is a person's free text
        alert = record.alert
        self.say(
            f"ACKNOWLEDGED | {alert.rule_id} | case {alert.case} | by {command.by} ({way}); the clock keeps running"
        )

    async def on_tick(self, partition: int) -> None:
        if not self.index.is_built(partition):
            index_owned(self.index, partition, self.owned(), self.records.items())
        now = self.clock()
        for key in self.index.pop_due(partition, now):
            record = self.load(key)
            if record is None:
                continue
            changes = lifecycle.on_tick(record, now, self.silences)
            await self.publish(changes)
            self.store(partition, key, record, write=changes.write)
