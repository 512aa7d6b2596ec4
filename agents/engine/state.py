"""A case's state: its events, the clocks derived from them, and the ledger of what was said.

**Derived** fields (``DERIVED``) are a pure function of the case's events, kept sorted by
event time: facts, clocks, ended clocks still worth keeping, immediate breaches. A rebuild
recomputes them. The **ledger** is history, what was last said about each alert id, and is
never recomputed: that is what lets a rebuild raise what was missed and retract what a late
record disproves without saying anything twice.

Encoded as msgpack, every struct as an array: a field may only be added at the end, with a
default, so that stored cases still decode. ``store`` says how the worker's tables hold it
(compressed with a shared dictionary) and reads every format stored before.

Alert ids are not stored: a stage is named by its *key* (rule, clock instance, stage), from
which its alert id follows (``alert_id_of``). Working a uuid5 out for every stage of every
clock up front was most of the engine's time, and its 36 characters most of a case's size.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final, Literal, NamedTuple

import msgspec

from agents.alert import alert_id
from agents.vocabulary import AlertStatus, StageKind

ClockStatus = Literal["running", "paused", "met", "cancelled", "not_applicable"]
LedgerStatus = AlertStatus
"""What the ledger says was last said of an alert id. ``superseded`` at revision 0 was never
sent: a later stage of the same deadline was raised at the same moment (``said`` tells them apart)."""

MAX_EVENTS: Final = 1000
RESOLUTION: Final = dt.timedelta(microseconds=1)
"""The smallest step of event time. "Not later than" makes the deadline instant itself
compliant, so a stage fires at the first instant *after* its time: an action recorded at
the stage's exact time is always applied first."""
EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


class StoredEvent(msgspec.Struct, array_like=True):
    id: str
    type: str
    time: dt.datetime
    recordedtime: dt.datetime
    data: dict[str, Any]
    late: bool = False
    """Recorded longer than the policy's allowed lateness after it happened."""


class Stage(msgspec.Struct, array_like=True):
    name: str
    offset: float
    """Seconds of counted (unpaused) clock time from the anchor: fixed when the cycle starts."""
    at: dt.datetime
    fired: bool = False
    """Its time has passed on a running clock that applies: an alert for it is justified."""


class Cycle(msgspec.Struct, array_like=True):
    number: int
    due: dt.datetime
    due_offset: float
    stages: list[Stage]
    ended_by: str | None = None
    """The id of the event that ended this cycle's turn as the live one (an action, a stop,
    an extension)."""
    extended: bool = False
    """Ended because a recorded authorisation moved the deadline later: a next cycle follows."""


class Clock(msgspec.Struct, array_like=True):
    rule_id: str
    rule_version: int
    instance: str
    """Id of the event that started (or last reset) this clock, for the alert's explanation."""
    ordinal: int
    """The rule's nth clock in this case. With rule, case, cycle and stage it names an alert, so
    an earlier start event that arrives late does not rename a deadline already announced."""
    anchor: dt.datetime
    cycles: list[Cycle]
    status: ClockStatus = "running"
    paused_since: dt.datetime | None = None
    paused_total: float = 0.0
    ended_at: dt.datetime | None = None
    ended_by: str | None = None
    settled: bool = False
    """Ended, and everything it justifies has been said: emission passes it by, and its cycles
    are dropped (most of a case's clocks end early, met). Only a rebuild, which makes new
    clocks from the events, can change what an ended clock justifies."""
    fired_until: dt.datetime = EPOCH
    """A settled clock's latest fired stage time: what it decided, once its cycles are gone."""

    @property
    def current(self) -> Cycle:
        return self.cycles[-1]

    @property
    def live(self) -> bool:
        """Running or paused: its current deadline still matters."""
        return self.status in ("running", "paused")


class Immediate(msgspec.Struct, array_like=True):
    rule_id: str
    rule_version: int
    event_id: str
    at: dt.datetime
    grounds: str = ""
    """The trigger's conditions that held, in words: why this record breaks the rule."""


class LedgerEntry(msgspec.Struct, array_like=True):
    """What was last said about one alert id. Kept apart from the clocks, which are rebuilt
    from the events, so a rebuild never forgets what people were told."""

    status: LedgerStatus
    revision: int
    rule_id: str
    rule_version: int
    stage_name: str
    deadline: dt.datetime
    stage_at: dt.datetime
    clock_started_at: dt.datetime


class CaseState(msgspec.Struct, array_like=True):
    case: str
    domain: str
    partition: int = -1
    events: list[StoredEvent] = []
    facts: dict[str, Any] = {}
    seen: dict[str, str] = {}
    """Event identity (CloudEvents ``source`` and ``id``) -> digest of its content: a repeat with
    the same digest is a true duplicate; one with another digest is an id conflict."""
    clocks: dict[str, Clock] = {}
    """The current clock of each rule."""
    history: list[Clock] = []
    """Ended clocks replaced by a newer one (a restart or a reset) whose alerts still matter."""
    immediates: list[Immediate] = []
    ledger: dict[str, LedgerEntry] = {}
    """Keyed by stage key (``stage_key``)."""
    decided_until: dt.datetime = EPOCH
    """The latest stage or immediate time that has fired: an event at or before it must rebuild
    (an action at a stage's exact instant means the stage should not have fired)."""


DERIVED: Final = ("facts", "clocks", "history", "immediates", "decided_until")
"""CaseState fields that are a function of its events: what a rebuild replaces."""

CASE_ENCODER: Final = msgspec.msgpack.Encoder()
CASE_DECODER: Final = msgspec.msgpack.Decoder(CaseState)
"""A case's own msgpack, as the engine keeps it; ``store`` compresses it for the tables."""


SEPARATOR: Final = "\x1f"


def stage_key(rule_id: str, instance: str, stage_name: str) -> str:
    """What names an alert within its case: the rule, the clock instance (``ordinal#cycle``,
    or an immediate rule's event id) and the stage."""
    return f"{rule_id}{SEPARATOR}{instance}{SEPARATOR}{stage_name}"


def cycle_instance(clock: Clock, cycle: Cycle) -> str:
    """A clock's ordinal and cycle: an earlier start arriving late does not rename a deadline."""
    return f"{clock.ordinal}#{cycle.number}"


def alert_id_of(case: str, key: str) -> str:
    """The alert id of a stage key in a case (a key from the first format is the id itself)."""
    parts = key.split(SEPARATOR)
    return alert_id(parts[0], case, parts[1], parts[2]) if len(parts) == 3 else key


def new_case(case: str, domain: str, partition: int = -1) -> CaseState:
    return CaseState(case=case, domain=domain, partition=partition)


def stage_kind(stage_name: str) -> StageKind:
    """A stage named ``breach`` is the breach; every other stage of a deadline is a warning."""
    return "breach" if stage_name == "breach" else "warning"


def all_clocks(state: CaseState) -> list[Clock]:
    """Ended clocks still worth keeping, then the current clock of each rule."""
    return [*state.history, *state.clocks.values()]


def find_event(state: CaseState, event_id: str | None) -> StoredEvent | None:
    return next((e for e in state.events if e.id == event_id), None) if event_id is not None else None


# ----------------------------------------------------------------------------- reading a case
class RunningClock(NamedTuple):
    """A clock that still runs (or is paused), as a person reads it: what is due next, when."""

    rule_id: str
    status: ClockStatus
    started_at: dt.datetime
    deadline: dt.datetime
    next_stage: str | None
    next_stage_at: dt.datetime | None


def running_clocks(state: CaseState) -> list[RunningClock]:
    out = []
    for clock in state.clocks.values():
        if not clock.live:
            continue
        pending = [s for s in clock.current.stages if not s.fired]
        upcoming = pending[0] if pending else None
        out.append(
            RunningClock(
                clock.rule_id,
                clock.status,
                clock.anchor,
                clock.current.due,
                upcoming.name if upcoming else None,
                upcoming.at if upcoming else None,
            )
        )
    return out


def area_of(facts: dict[str, Any]) -> str | None:
    """The custody suite, or else the area, that the case's records name."""
    for key in ("custody_suite", "area"):
        if isinstance(facts.get(key), str):
            return str(facts[key])
    return None


def child_of(state: CaseState) -> str:
    """Whom the case is about: the child's pseudonymous ref where the records give one (a missing
    child across episodes), else the case reference itself."""
    child = state.facts.get("child_ref")
    return str(child) if child else state.case
