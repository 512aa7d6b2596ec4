"""The dispatcher's and the outbox's shell logic, on an assembled worker's own parts with their
tables and hand-offs held in memory."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from collections.abc import Awaitable
from typing import Any

import msgspec
import pytest

from agents.alert import ALERT_ENCODER
from alerts.messages import COMMAND_ENCODER, JOB_ENCODER, AckCommand, Job
from tests.alerts.helpers import alert as make_alert
from tests.alerts.helpers import ladder_config
from tests.conftest import T0
from tests.worker.helpers import Broker, Message, assemble
from worker.deadletter import DeadLetters
from worker.dispatcher import Dispatcher
from worker.outbox import Outbox

ALERT_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"


def dispatcher(broker: Broker, tmp_path: Any, now: dt.datetime = T0) -> Dispatcher:
    worker = assemble(WATCHKEEPER_TOPIC_PREFIX="unit")
    return dataclasses.replace(
        worker.dispatcher,
        config=ladder_config(tmp_path),
        records={},
        produce_job=broker.producer("outbox"),
        produce_transition=broker.producer("transitions"),
        dead_letters=DeadLetters(broker.sender("deadletter"), worker.metrics),
        owned=lambda: [0],
        clock=lambda: now,
        say=lambda line: None,
    )


def alert_message(revision: int = 1, status: str = "firing") -> Message:
    a = make_alert(alert_id=ALERT_ID, revision=revision, status=status)  # type: ignore[arg-type]
    return Message("unit.alerts", ALERT_ENCODER.encode(a), ALERT_ID.encode())


def test_a_raised_alert_pages_the_first_tier_and_is_recorded_after_its_jobs_are_on_the_broker(tmp_path: Any) -> None:
    broker = Broker()
    shell = dispatcher(broker, tmp_path)
    recorded_when_sent: list[bool] = []
    produce = shell.produce_job

    async def watching(key: bytes, value: bytes) -> Awaitable[object]:
        recorded_when_sent.append(ALERT_ID.encode() in shell.records)
        return await produce(key, value)

    shell.produce_job = watching
    asyncio.run(shell.on_alert(alert_message()))
    assert [j["receiver"] for j in broker.on("outbox")] == ["sergeant-hook"]
    assert [t["state"] for t in broker.on("transitions")] == ["raised"]
    assert recorded_when_sent == [False] and ALERT_ID.encode() in shell.records
    asyncio.run(shell.on_alert(alert_message()))  # a copy: already handled, nothing more is said
    assert len(broker.on("outbox")) == 1


def test_the_next_tier_is_paged_on_the_tick_after_its_time(tmp_path: Any) -> None:
    broker = Broker()
    shell = dispatcher(broker, tmp_path)
    asyncio.run(shell.on_alert(alert_message()))
    shell.index.clear()
    shell.clock = lambda: T0 + dt.timedelta(minutes=16)
    asyncio.run(shell.on_tick(0))
    assert [j["receiver"] for j in broker.on("outbox")] == ["sergeant-hook", "inspector-hook"]


def test_an_acknowledgement_is_applied_once_and_a_bad_one_fails_only_its_own_message(tmp_path: Any) -> None:
    broker = Broker()
    shell = dispatcher(broker, tmp_path)
    asyncio.run(shell.on_alert(alert_message()))
    ack = AckCommand(ALERT_ID, "insp-1", "console", T0)
    command = Message("unit.alert-commands", COMMAND_ENCODER.encode(ack), ALERT_ID.encode())
    said: list[str] = []
    shell.say = said.append
    asyncio.run(shell.on_command(command))
    asyncio.run(shell.on_command(command))  # already acknowledged: not applied again
    assert [t["state"] for t in broker.on("transitions")] == ["raised", "acknowledged"]
    assert said == [
        "ACKNOWLEDGED | custody.appropriate_adult.arrival | case CR-1 | by insp-1 (console); the clock keeps running"
    ]
    bad = Message("unit.alert-commands", COMMAND_ENCODER.encode(AckCommand("../etc", "x", "y", T0)), b"x")
    with pytest.raises(ValueError, match="not an alert id"):  # consume dead-letters it; nothing else changes
        asyncio.run(shell.on_command(bad))
    assert [t["state"] for t in broker.on("transitions")] == ["raised", "acknowledged"]


def outbox(broker: Broker, tmp_path: Any) -> Outbox:
    worker = assemble(WATCHKEEPER_TOPIC_PREFIX="unit")
    return dataclasses.replace(
        worker.outbox,
        config=ladder_config(tmp_path),
        pending={},
        send_job=broker.sender("outbox"),
        produce_receipt=broker.producer("deliveries"),
        dead_letters=DeadLetters(broker.sender("deadletter"), worker.metrics),
    )


def test_a_job_is_pending_until_its_finished_marker_is_read_back(tmp_path: Any) -> None:
    broker = Broker()
    box = outbox(broker, tmp_path)
    delivered: list[str] = []

    async def deliver(job: Job) -> None:
        delivered.append(job.webhook_id)

    box.lanes.deliver = deliver
    job = Job("a1.r0t0.sergeant-hook", "sergeant-hook", "trigger", "raised", make_alert())

    async def scenario() -> None:
        box.take(JOB_ENCODER.encode(job))
        box.take(JOB_ENCODER.encode(job))  # read again (a re-delivery): one delivery only
        await asyncio.sleep(0.01)
        assert delivered == [job.webhook_id] and job.webhook_id.encode() in box.pending
        await box.resume_pending()  # finished here, marker not yet read back: not resubmitted
        await asyncio.sleep(0.01)
        assert delivered == [job.webhook_id]
        box.take(JOB_ENCODER.encode(msgspec.structs.replace(job, finished=True)))
        assert box.pending == {}

    asyncio.run(scenario())


def test_an_alert_from_history_is_recorded_and_counted_but_no_job_is_made(tmp_path: Any) -> None:
    broker = Broker()
    shell = dispatcher(broker, tmp_path, now=T0 + dt.timedelta(days=3))
    asyncio.run(shell.on_alert(alert_message()))
    assert broker.on("outbox") == []
    (raised,) = broker.on("transitions")
    assert raised["state"] == "raised" and "historical" in raised["reason"]
    counted = shell.metrics.registry.get_sample_value(
        "watchkeeper_historical_alerts_total", {"rule": "custody.appropriate_adult.arrival"}
    )
    assert counted == 1 and ALERT_ID.encode() in shell.records
