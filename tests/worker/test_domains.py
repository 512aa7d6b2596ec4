"""The domain agent's shell logic, on an assembled worker's own agent with its table and hand-offs
held in memory: the order of hand-offs, every input's one outcome, and how far a tick decides."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
from collections.abc import Awaitable
from typing import Any

import msgspec
import pytest

from agents.engine.state import EPOCH
from tests.conftest import AA_ARRIVAL, T0, cloudevent, detention
from tests.worker.helpers import Broker, Message, assemble
from worker.deadletter import DeadLetters
from worker.domains import MARKER_TAIL, DomainAgent
from worker.records import decode_case

H = dt.timedelta(hours=1)


@dataclasses.dataclass
class Offsets:
    """A partition's offsets as the consumer and the broker would report them."""

    high: int | None = None
    commit: int | None = None
    records: int | Exception = 0

    def highwater(self, partition: int) -> int | None:
        return self.high

    def committed(self, partition: int) -> int | None:
        return self.commit

    async def records_in(self, partition: int, first: int, end: int) -> int:
        if isinstance(self.records, Exception):
            raise self.records
        return self.records


def custody(broker: Broker, now: dt.datetime = T0, offsets: Offsets | None = None) -> DomainAgent:
    worker = assemble(WATCHKEEPER_TOPIC_PREFIX="unit")
    agent = worker.domains["custody"]
    return dataclasses.replace(
        agent,
        cases={},
        send_alert=broker.producer("alerts"),
        forward=broker.producer("custody.events"),
        dead_letters=DeadLetters(broker.sender("deadletter"), worker.metrics),
        offsets=offsets or Offsets(),
        owned=lambda: [0],
        clock=lambda: now,
    )


def message(event: dict[str, Any] | bytes, offset: int = 0, key: bytes | None = None) -> Message:
    value = event if isinstance(event, bytes) else json.dumps(event).encode()
    subject = key if key is not None or isinstance(event, bytes) else event["subject"].encode()
    return Message("unit.custody.events", value, subject, offset=offset)


def run(awaitable: Awaitable[Any]) -> Any:
    return asyncio.run(awaitable)  # type: ignore[arg-type]


def test_an_alert_is_acknowledged_by_the_broker_before_the_case_recording_it_is_written() -> None:
    broker = Broker()
    agent = custody(broker, now=T0 + dt.timedelta(minutes=5))
    stored_when_acknowledged: list[int] = []
    produce = agent.send_alert

    async def watching(key: bytes, value: bytes) -> Awaitable[None]:
        ack = await produce(key, value)

        async def acknowledged() -> None:
            await ack
            raw = agent.cases.get(b"CR-1")
            stored_when_acknowledged.append(len(decode_case(raw).events) if raw else 0)

        return acknowledged()

    agent.send_alert = watching
    run(agent.on_input(message(detention("CR-1"))))
    interview = {"appropriate_adult_present": False}
    run(agent.on_input(message(cloudevent("CR-1", "custody.interview.started", interview, at=T0 + H / 12), 1)))
    (breach,) = [a for a in broker.on("alerts") if a["rule_id"] == "custody.interview.without_appropriate_adult"]
    assert breach["status"] == "firing"
    assert stored_when_acknowledged, "the alert's acknowledgement was awaited"
    assert stored_when_acknowledged[-1] == 1, "case written with the interview only once the broker had the alert"
    assert len(decode_case(agent.cases[b"CR-1"]).events) == 2


def test_every_input_is_applied_a_counted_duplicate_or_dead_lettered_with_its_reason() -> None:
    broker = Broker()
    agent = custody(broker)
    first = detention("CR-1", event_id="e-1")
    run(agent.on_input(message(first)))
    run(agent.on_input(message(first, 1)))  # the same record again: a true duplicate
    reused = {**cloudevent("CR-1", "custody.released"), "id": "e-1"}
    run(agent.on_input(message(reused, 2)))  # the same id, other content
    run(agent.on_input(message(b"{not json", 3, key=b"CR-2")))
    run(agent.on_input(message(detention("CR-3"), 4, key=b"CR-4")))
    samples = agent.metrics.registry.get_sample_value
    assert samples("watchkeeper_events_total", {"domain": "custody", "outcome": "accepted"}) == 1
    assert samples("watchkeeper_events_total", {"domain": "custody", "outcome": "duplicate"}) == 1
    reasons = [d["reason"] for d in broker.on("deadletter")]
    assert reasons == ["id_conflict", "malformed_json", "key_mismatch"]
    assert all("CR-" not in json.dumps(d) for d in broker.on("deadletter")), "a dead letter echoes no input"
    assert agent.processed_offset == {0: 4}


def test_an_exception_on_one_message_dead_letters_it_by_class_and_the_agent_carries_on() -> None:
    broker = Broker()
    agent = custody(broker)

    class Unreadable(dict[bytes, bytes]):
        def get(self, key: bytes, default: Any = None) -> Any:
            raise RuntimeError("a stored case that cannot be read: CR-1 Jane Example")

    agent.cases = Unreadable()
    run(agent.on_input(message(detention("CR-1"))))
    (dead,) = broker.on("deadletter")
    assert dead["reason"] == "internal_error" and dead["detail"] == "RuntimeError in the custody agent"
    assert "Jane" not in json.dumps(broker.records[0][2].decode())


def test_a_tick_fires_a_silent_case_s_deadline_when_its_time_has_passed() -> None:
    broker = Broker()
    later = T0 + 3 * H
    agent = custody(broker, offsets=Offsets(high=2))
    run(agent.on_input(message(detention("CR-1"))))
    run(agent.on_input(message(cloudevent("CR-1", "custody.appropriate_adult.requested"), 1)))
    assert not [a for a in broker.on("alerts") if a["rule_id"] == AA_ARRIVAL]
    agent.clock = lambda: later
    agent.index.clear()  # as after a rebalance: the first tick rebuilds the index from the table
    run(agent.on_tick(0))
    fired = [(a["stage_name"], a["status"]) for a in broker.on("alerts") if a["rule_id"] == AA_ARRIVAL]
    assert fired == [
        ("warning-1", "firing"),
        ("warning-2", "firing"),
        ("warning-1", "superseded"),
        ("breach", "firing"),
        ("warning-2", "superseded"),
    ]
    assert agent.index.is_built(0)


def waiting_children(agent: DomainAgent, cases: list[str]) -> None:
    for n, case in enumerate(cases):
        run(agent.on_input(message(detention(case), 2 * n)))
        run(agent.on_input(message(cloudevent(case, "custody.appropriate_adult.requested"), 2 * n + 1)))


def test_cases_due_at_one_instant_are_each_written_only_once_their_own_alerts_are_acknowledged() -> None:
    broker = Broker()
    agent = custody(broker, offsets=Offsets(high=6))
    waiting_children(agent, ["CR-1", "CR-2", "CR-3"])
    produce = agent.send_alert
    in_flight: list[bytes] = []
    written_when_acknowledged: list[int] = []
    sent_when_acknowledged: list[int] = []

    async def watching(key: bytes, value: bytes) -> Awaitable[None]:
        ack = await produce(key, value)
        in_flight.append(key)

        async def acknowledged() -> None:
            await ack
            sent_when_acknowledged.append(len(in_flight))
            written = [decode_case(agent.cases[c]).decided_until > EPOCH for c in (b"CR-1", b"CR-2", b"CR-3")]
            written_when_acknowledged.append(sum(written))

        return acknowledged()

    agent.send_alert = watching
    agent.clock = lambda: T0 + 3 * H
    run(agent.on_tick(0))
    assert len({json.loads(v)["case"] for v in [r[2] for r in broker.records if r[0] == "alerts"]}) == 3
    assert written_when_acknowledged and set(written_when_acknowledged) == {0}, "no case written before its acks"
    assert all(decode_case(agent.cases[c]).decided_until > EPOCH for c in (b"CR-1", b"CR-2", b"CR-3"))
    assert set(sent_when_acknowledged) == {len(in_flight)}, "every case's alerts sent before any was awaited"


def test_a_case_whose_alert_the_broker_refuses_stays_due_and_fires_on_the_next_tick() -> None:
    broker = Broker()
    agent = custody(broker, offsets=Offsets(high=4))
    waiting_children(agent, ["CR-1", "CR-2"])
    produce = agent.send_alert
    away = {"CR-1"}

    async def refusing(key: bytes, value: bytes) -> Awaitable[None]:
        if json.loads(value)["case"] in away:

            async def refused() -> None:
                raise ConnectionError("broker away")

            return refused()
        return await produce(key, value)  # type: ignore[no-any-return]

    agent.send_alert = refusing
    agent.clock = lambda: T0 + 3 * H
    before = len(broker.on("alerts"))
    run(agent.on_tick(0))
    assert decode_case(agent.cases[b"CR-1"]).decided_until == EPOCH, "not written: its alert was not acknowledged"
    assert decode_case(agent.cases[b"CR-2"]).decided_until > EPOCH
    assert {a["case"] for a in broker.on("alerts")[before:]} == {"CR-2"}
    away.clear()
    run(agent.on_tick(0))
    assert decode_case(agent.cases[b"CR-1"]).decided_until > EPOCH
    breaches = [a["case"] for a in broker.on("alerts") if a["rule_id"] == AA_ARRIVAL and a["stage_name"] == "breach"]
    assert sorted(breaches) == ["CR-1", "CR-2"]


@pytest.mark.parametrize(
    ("offsets", "processed", "expected"),
    [
        (Offsets(high=None), None, None),  # not known yet after an assignment: the wall clock
        (Offsets(high=10), 9, None),  # read to the end: the wall clock
        (Offsets(high=10, commit=10), None, None),  # committed to the end by an earlier owner
        (Offsets(high=100), 9, "watermark"),  # a backlog: only as far as the records read
        (Offsets(high=10 + MARKER_TAIL, records=0), 9, None),  # a short tail of transaction markers
        (Offsets(high=10 + MARKER_TAIL, records=2), 9, "watermark"),  # a short tail with records in it
        (Offsets(high=12, records=RuntimeError("broker away")), 9, "watermark"),  # cannot tell yet: hold
    ],
)
def test_a_tick_decides_a_partition_only_as_far_as_its_records_are_read(
    offsets: Offsets, processed: int | None, expected: str | None
) -> None:
    agent = custody(Broker(), offsets=offsets)
    if processed is not None:
        agent.processed_offset[0] = processed
    agent.watermark[0] = T0
    assert run(agent.decide_until(0)) == (T0 if expected == "watermark" else None)


def test_before_any_record_is_read_a_backlog_holds_every_timer_at_the_epoch() -> None:
    agent = custody(Broker(), offsets=Offsets(high=500))
    assert run(agent.decide_until(0)) == EPOCH


def test_a_missing_episode_event_is_forwarded_under_the_child_s_key() -> None:
    broker = Broker()
    worker = assemble(WATCHKEEPER_TOPIC_PREFIX="unit")
    agent = dataclasses.replace(
        worker.domains["incidents"],
        cases={},
        send_alert=broker.producer("alerts"),
        forward=broker.producer("incidents.events"),
        dead_letters=DeadLetters(broker.sender("deadletter"), worker.metrics),
        clock=lambda: T0,
    )
    report = {"child_ref": "CH-7", "looked_after": True, "risk_level": "medium", "next_review_at": (T0 + H).isoformat()}
    event = cloudevent("MP-1", "missing.child.reported", report)
    run(agent.on_input(Message("unit.incidents.events", json.dumps(event).encode(), b"MP-1")))
    ((_, key, value),) = [r for r in broker.records if r[0] == "incidents.events"]
    assert key == b"CH-7" and msgspec.json.decode(value)["subject"] == "CH-7"
