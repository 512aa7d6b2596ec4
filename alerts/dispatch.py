"""The dispatcher: the imperative shell around alerts/lifecycle.py.

It reads, as one stream, the alerts topic (the engine's messages), the alert-commands
topic (acknowledgements from the web endpoint) and its ticks topic, all keyed by alert id
and co-partitioned with the ``alert-records`` table. For each input it asks the lifecycle
core what changed, then:

1. sends each notification as one outbox job per receiver of the role (keyed by receiver);
2. sends each transition to the alert-transitions topic (the audit log);
3. waits for the broker to have both, and only then writes the record.

A crash between 1-2 and 3 repeats the jobs with the same webhook ids: receivers and the
outbox drop the copy. Nothing is lost.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import faust
import msgspec

from agents.due_index import DueIndex
from agents.stored_case import payload, with_header
from alerts import lifecycle
from alerts.config import NotifyConfig, Receiver
from alerts.console import format_line
from alerts.lifecycle import RECORD_DECODER, RECORD_ENCODER, AlertRecord, Changes
from agents.alert import ALERT_DECODER, ALERT_ID, Alert
from alerts.tokens import ack_token
from streams import deadletter, metrics, ticks
from streams.app import RAW_TABLE, app, notify_config, settings
from streams.topics import (
    alert_commands_topic,
    alert_ticks_topic,
    alert_transitions_topic,
    alerts_topic,
    deadletter_topic,
    outbox_topic,
)

log = logging.getLogger(__name__)


class Job(msgspec.Struct, frozen=True):
    """One delivery to make: the outbox message. ``webhook_id`` is stable across retries."""

    webhook_id: str
    receiver: str
    action: str
    state: str
    alert: Alert
    links: dict[str, str] = {}
    finished: bool = False
    """A marker the outbox sends itself when the delivery is over (see alerts/outbox.py)."""


class AckCommand(msgspec.Struct, frozen=True):
    alert_id: str
    by: str
    how: str
    at: dt.datetime


JOB_ENCODER = msgspec.json.Encoder()
JOB_DECODER = msgspec.json.Decoder(Job)
COMMAND_DECODER = msgspec.json.Decoder(AckCommand)

raw = {"key_serializer": "raw", "value_serializer": "raw"}
outbox_channel = app.topic(outbox_topic(settings), **raw)
transitions_channel = app.topic(alert_transitions_topic(settings), **raw)
commands_channel = app.topic(alert_commands_topic(settings), **raw)
ticks_channel = app.topic(alert_ticks_topic(settings), **raw)
deadletter_channel = app.topic(deadletter_topic(settings), **raw)
records = app.Table("alert-records", partitions=settings.partitions, **RAW_TABLE)
ALERTS, COMMANDS, TICKS = alerts_topic(settings), alert_commands_topic(settings), alert_ticks_topic(settings)


def links_for(config: NotifyConfig, alert: Alert, role: str, receiver: Receiver, link_id: str) -> dict[str, str]:
    """Every page links to the case in the console (sign-in required). Only pages to people's
    channels also carry a one-click ack link, naming the role and receiver it was sent to;
    a machine receiver's stored alerts can be read by whoever reaches its API."""
    links = {"console": f"{config.public_url}/console#case/{urllib.parse.quote(alert.case, safe='')}"}
    if config.ack_link_secret is not None and receiver.ack_links:
        token = ack_token(config.ack_link_secret, alert.alert_id, role, receiver.name, link_id)
        links["acknowledge"] = f"{config.public_url}/ack?token={token}"
    return links


def jobs_for(config: NotifyConfig, changes: Changes) -> Iterable[Job]:
    for note in changes.notifications:
        for receiver in config.receivers_for(note.role):
            webhook_id = f"{note.delivery_key}.{receiver.name}"
            links = links_for(config, note.alert, note.role, receiver, webhook_id) if note.action == "trigger" else {}
            yield Job(webhook_id, receiver.name, note.action, note.state, note.alert, links)


@dataclass
class Dispatcher:
    config: NotifyConfig
    index: DueIndex

    async def publish(self, changes: Changes, now: dt.datetime) -> None:
        futures = []
        for job in jobs_for(self.config, changes):
            futures.append(await outbox_channel.send(key=job.receiver.encode(), value=JOB_ENCODER.encode(job)))
        for change in changes.transitions:
            value = msgspec.json.encode(change)
            futures.append(await transitions_channel.send(key=change.alert_id.encode(), value=value))
            metrics.TRANSITIONS.labels(change.state).inc()
        for future in futures:
            await future

    def store(self, partition: int, key: bytes, record: AlertRecord) -> None:
        due = lifecycle.next_due(record)
        records[key] = with_header(partition, due, RECORD_ENCODER.encode(record))
        self.index.set(partition, key, due)

    def load(self, key: bytes) -> AlertRecord | None:
        stored = records.get(key)
        return RECORD_DECODER.decode(payload(stored)) if stored is not None else None

    async def on_alert(self, message: Any) -> None:
        alert = ALERT_DECODER.decode(message.value)
        key, now = alert.alert_id.encode(), dt.datetime.now(dt.UTC)
        before = self.load(key)
        if before is not None and alert.revision <= before.alert.revision:
            return  # a copy (at-least-once) or an older revision: already handled
        print(format_line(alert), flush=True)
        record, changes = lifecycle.on_alert(before, alert, self.config, now)
        if record is None:
            return  # closing an alert this layer never raised
        await self.publish(changes, now)
        self.store(message.partition, key, record)

    async def on_command(self, message: Any) -> None:
        command = COMMAND_DECODER.decode(message.value)
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
        metrics.ACK_LATENCY.observe(max(0.0, (command.at - record.raised_at).total_seconds()))
        await self.publish(changes, dt.datetime.now(dt.UTC))
        self.store(message.partition, key, record)

    async def on_tick(self, partition: int) -> None:
        if not self.index.is_built(partition):
            ticks.build_index(self.index, ALERTS, partition, records.items())
        now = dt.datetime.now(dt.UTC)
        for key in self.index.pop_due(partition, now):
            record = self.load(key)
            if record is None:
                continue
            changes = lifecycle.on_tick(record, now)
            await self.publish(changes, now)
            self.store(partition, key, record)


dispatcher = Dispatcher(notify_config, DueIndex())
ticks.register(ALERTS, ticks_channel, dispatcher.index, COMMANDS)


@app.agent(app.topic(ALERTS, COMMANDS, TICKS, **raw), name="dispatcher", concurrency=1)
async def dispatch(stream: faust.StreamT[bytes]) -> None:
    async for event in stream.events():
        message = event.message
        started = time.perf_counter()
        try:
            if message.topic == TICKS:
                await dispatcher.on_tick(message.partition)
            elif message.topic == COMMANDS:
                await dispatcher.on_command(message)
            else:
                await dispatcher.on_alert(message)
        except Exception as exc:  # the message fails, not the dispatcher; the text may quote input
            where = (message.topic, message.partition, message.offset)
            log.error("dispatcher: %s on %s:%s@%s", type(exc).__name__, *where)
            await deadletter.send(deadletter_channel, "dispatcher", message, deadletter.internal_error(exc, "dispatch"))
        metrics.DISPATCH_SECONDS.observe(time.perf_counter() - started)
