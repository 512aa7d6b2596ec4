"""Cases stored in the first format: read once, upgraded to the compact one.

Until the compact format, a case was a msgpack map, clocks were maps too, and every stage
and immediate breach carried its alert id, by which the ledger was keyed. A worker that
starts on a table written by an older version still finds its cases here: the structs below
read that layout, and ``upgrade`` re-keys the ledger by stage key. A ledger entry whose
stage is no longer part of any clock keeps its alert id as its key (``alert_id_of`` reads
it back), so what was said of it is never lost.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import msgspec

from agents.engine import state as current
from agents.engine.state import EPOCH, ClockStatus, Cycle, LedgerEntry, StoredEvent, cycle_instance, stage_key


class Stage(msgspec.Struct, array_like=True):
    name: str
    offset: float
    at: dt.datetime
    alert_id: str
    fired: bool = False


class OldCycle(msgspec.Struct, array_like=True):
    number: int
    due: dt.datetime
    due_offset: float
    stages: list[Stage]
    ended_by: str | None = None
    extended: bool = False


class Clock(msgspec.Struct):
    rule_id: str
    rule_version: int
    instance: str
    ordinal: int
    anchor: dt.datetime
    cycles: list[OldCycle]
    status: ClockStatus = "running"
    paused_since: dt.datetime | None = None
    paused_total: float = 0.0
    ended_at: dt.datetime | None = None
    ended_by: str | None = None


class Immediate(msgspec.Struct, array_like=True):
    rule_id: str
    rule_version: int
    event_id: str
    at: dt.datetime
    alert_id: str
    grounds: str = ""


class CaseState(msgspec.Struct):
    case: str
    domain: str
    partition: int = -1
    events: list[StoredEvent] = []
    facts: dict[str, Any] = {}
    seen: dict[str, str] = {}
    clocks: dict[str, Clock] = {}
    history: list[Clock] = []
    started: dict[str, int] = {}
    immediates: list[Immediate] = []
    ledger: dict[str, LedgerEntry] = {}
    decided_until: dt.datetime = EPOCH


DECODER: Final = msgspec.msgpack.Decoder(CaseState)


def upgrade(raw: bytes | memoryview) -> current.CaseState:
    old = DECODER.decode(raw)
    keys: dict[str, str] = {}

    def clock(c: Clock) -> current.Clock:
        new = current.Clock(
            c.rule_id, c.rule_version, c.instance, c.ordinal, c.anchor, [], c.status,
            c.paused_since, c.paused_total, c.ended_at, c.ended_by,
        )  # fmt: skip
        for cycle in c.cycles:
            stages = [current.Stage(s.name, s.offset, s.at, s.fired) for s in cycle.stages]
            new.cycles.append(Cycle(cycle.number, cycle.due, cycle.due_offset, stages, cycle.ended_by, cycle.extended))
            instance = cycle_instance(new, new.cycles[-1])
            keys.update({s.alert_id: stage_key(c.rule_id, instance, s.name) for s in cycle.stages})
        return new

    clocks = {rule_id: clock(c) for rule_id, c in old.clocks.items()}
    history = [clock(c) for c in old.history]
    immediates = []
    for record in old.immediates:
        keys[record.alert_id] = stage_key(record.rule_id, record.event_id, "breach")
        immediates.append(
            current.Immediate(record.rule_id, record.rule_version, record.event_id, record.at, record.grounds)
        )
    return current.CaseState(
        old.case, old.domain, old.partition, old.events, old.facts, old.seen, clocks, history, immediates,
        {keys.get(aid, aid): entry for aid, entry in old.ledger.items()}, old.decided_until,
    )  # fmt: skip
