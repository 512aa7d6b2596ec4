"""The deadline engine: pure functions from a case's state, an event or the time, to alerts.

No Faust, no Kafka, no clock reads: ``now`` always comes in as a parameter, so the same code
serves the live worker and replay, and tests can move time at will.

A case holds its facts (merged from event data), its timeline, the event ids it has seen,
and one clock per rule. A clock's stage times are fixed when it starts, from the rule in
force then. Elapsed-time arithmetic is done in UTC: 2 h means two real hours whatever the
wall clock in London does.

The engine mutates the ``CaseState`` it is given and returns what the caller must emit; it
never emits anything itself.
"""

from __future__ import annotations

import bisect
import datetime as dt
from typing import Any, Final, Literal

import msgspec

from agents.durations import format_duration
from agents.policy import Policy, Rule
from alerts.model import Alert, TimelineEntry, alert_id
from streams.contract import Event

ClockStatus = Literal["running", "met", "cancelled", "not_applicable"]
MAX_TIMELINE: Final = 200
HINDSIGHT_GRACE: Final = dt.timedelta(minutes=1)
"""A stage noticed more than this after it passed was missed live: the alert says so."""


class StageTime(msgspec.Struct):
    name: str
    at: dt.datetime
    fired: bool = False
    alert_id: str | None = None
    retracted: bool = False


class Clock(msgspec.Struct):
    rule_id: str
    rule_version: int
    instance: str
    """Id of the event that started this clock; with the rule and case it names the deadline."""
    started_at: dt.datetime
    due_at: dt.datetime
    stages: list[StageTime]
    status: ClockStatus = "running"
    ended_at: dt.datetime | None = None
    ended_by: str | None = None


class CaseState(msgspec.Struct):
    case: str
    domain: str
    partition: int = -1
    facts: dict[str, Any] = {}
    timeline: list[TimelineEntry] = []
    seen: set[str] = set()
    clocks: dict[str, Clock] = {}


class Outcome(msgspec.Struct):
    duplicate: bool = False
    alerts: list[Alert] = []


CASE_ENCODER: Final = msgspec.msgpack.Encoder()
CASE_DECODER: Final = msgspec.msgpack.Decoder(CaseState)


def new_case(case: str, domain: str, partition: int = -1) -> CaseState:
    return CaseState(case=case, domain=domain, partition=partition)


# ----------------------------------------------------------------------------- events
def apply_event(state: CaseState, event: Event, policy: Policy, now: dt.datetime) -> Outcome:
    """Apply one validated event at its event time, then fire whatever is due at ``now``."""
    if event.id in state.seen:
        return Outcome(duplicate=True)
    state.seen.add(event.id)
    late = event.recordedtime - event.time > policy.late_entry_threshold
    entry = TimelineEntry(event.id, event.type, event.time, event.recordedtime, late)
    bisect.insort(state.timeline, entry, key=lambda e: e.time)
    if len(state.timeline) > MAX_TIMELINE:
        del state.timeline[0]
    state.facts.update(msgspec.to_builtins(event.data))

    alerts: list[Alert] = []
    for rule in policy.rules_for(event.type):
        clock = state.clocks.get(rule.id)
        if event.type in rule.start and (clock is None or clock.status != "running"):
            if clock is None or event.time > (clock.ended_at or clock.started_at):
                _start_clock(state, rule, event)
        elif clock is not None and clock.status == "running" and event.time >= clock.started_at:
            if event.type in rule.stop:
                alerts += _end_clock(state, clock, rule, event, "met", now)
            elif event.type in rule.cancel:
                alerts += _end_clock(state, clock, rule, event, "cancelled", now)
    alerts += fire_due(state, policy, now)
    return Outcome(alerts=alerts)


def _start_clock(state: CaseState, rule: Rule, event: Event) -> None:
    if not rule.applies(state.facts):
        return
    stages = [StageTime(name, event.time + offset) for name, offset in rule.stage_offsets()]
    clock = Clock(rule.id, rule.version, event.id, event.time, event.time + rule.target, stages)
    state.clocks[rule.id] = clock
    # Records arrive out of order: a stop or cancel already in the timeline ends the clock.
    for entry in state.timeline:
        ends = entry.type in rule.stop or entry.type in rule.cancel
        if ends and entry.time >= event.time and entry.event_id != event.id:
            clock.status = "met" if entry.type in rule.stop else "cancelled"
            clock.ended_at, clock.ended_by = entry.time, entry.event_id
            break


def _end_clock(
    state: CaseState, clock: Clock, rule: Rule, event: Event, status: ClockStatus, now: dt.datetime
) -> list[Alert]:
    """Stop the clock at the event's time. Stages already fired that fall after that time
    were raised on incomplete records: retract them, saying why."""
    clock.status, clock.ended_at, clock.ended_by = status, event.time, event.id
    retractions = []
    for stage in clock.stages:
        if stage.fired and not stage.retracted and stage.alert_id and stage.at > event.time:
            stage.retracted = True
            verb = "was recorded" if status == "met" else "ended the clock"
            reason = (
                f"Retracted: {event.type} at {event.time.isoformat()} {verb} before this "
                f"{_stage_kind(stage.name)} point ({stage.at.isoformat()}); the record arrived "
                f"{format_duration(event.recordedtime - event.time)} after the event."
            )
            retractions.append(_alert(state, clock, rule, stage, now, "retracted", reason))
    return retractions


# ----------------------------------------------------------------------------- time
def fire_due(state: CaseState, policy: Policy, now: dt.datetime) -> list[Alert]:
    """Raise the stages that are due at ``now`` on running clocks.

    If several stages of one clock are due at once (a late record, a worker that was down),
    only the latest is raised: a warning after its own deadline is noise. The skipped ones
    are marked so they are never raised later either.
    """
    alerts = []
    for clock in state.clocks.values():
        if clock.status != "running":
            continue
        due = [s for s in clock.stages if not s.fired and s.at <= now]
        if not due:
            continue
        rule = policy.rule(clock.rule_id)
        if rule is None:
            continue
        if not rule.applies(state.facts):
            clock.status, clock.ended_at = "not_applicable", now
            continue
        for stage in due:
            stage.fired = True
        latest = due[-1]
        reason = _reason(state, clock, rule, latest, now)
        alert = _alert(
            state, clock, rule, latest, now, "firing", reason, hindsight=_hindsight(state, clock, latest, now)
        )
        latest.alert_id = alert.alert_id
        alerts.append(alert)
    return alerts


def _hindsight(state: CaseState, clock: Clock, stage: StageTime, now: dt.datetime) -> str | None:
    """Why a stage is raised well after it passed, or None if it is raised on time."""
    if now - stage.at <= HINDSIGHT_GRACE:
        return None
    start = next((e for e in state.timeline if e.event_id == clock.instance), None)
    if start is not None and start.recordedtime > stage.at:
        return (
            f"raised in hindsight: the {start.type} record was entered at {start.recordedtime.isoformat()}, "
            f"after this {_stage_kind(stage.name)} point had passed"
        )
    return (
        f"raised {format_duration(now - stage.at)} after its time: the monitor was not processing this case "
        "then (stopped, restarting or lagging)"
    )


def next_due(state: CaseState) -> dt.datetime | None:
    """The earliest unfired stage on a running clock: when this case next needs a look."""
    times = [s.at for c in state.clocks.values() if c.status == "running" for s in c.stages if not s.fired]
    return min(times, default=None)


# ----------------------------------------------------------------------------- alerts
def _stage_kind(name: str) -> Literal["warning", "breach"]:
    return "breach" if name == "breach" else "warning"


def _reason(state: CaseState, clock: Clock, rule: Rule, stage: StageTime, now: dt.datetime) -> str:
    started = f"{rule.title}: clock started {clock.started_at.isoformat()} by {_type_of(state, clock.instance)}"
    target, missing = format_duration(rule.target), _names(rule.stop)
    if stage.name == "breach":
        return f"{started}; target {target} passed at {clock.due_at.isoformat()} with no {missing}."
    left = format_duration(clock.due_at - now)
    return f"{started}; {left} left of {target} with no {missing}."


def _names(event_types: frozenset[str]) -> str:
    return " or ".join(sorted(event_types)) or "stop event"


def _type_of(state: CaseState, event_id: str) -> str:
    return next((e.type for e in state.timeline if e.event_id == event_id), "start event")


def _alert(
    state: CaseState,
    clock: Clock,
    rule: Rule,
    stage: StageTime,
    now: dt.datetime,
    status: Literal["firing", "retracted"],
    reason: str,
    *,
    hindsight: str | None = None,
) -> Alert:
    kind = _stage_kind(stage.name)
    note = None
    if rule.overridden:
        note = f"{', '.join(rule.overridden)} set by force override {rule.override_source}"
    return Alert(
        alert_id=alert_id(rule.id, state.case, clock.instance, stage.name),
        status=status,
        stage=kind,
        stage_name=stage.name,
        severity=rule.severity_breach if kind == "breach" else rule.severity_warning,
        rule_id=rule.id,
        rule_version=clock.rule_version,
        rule_title=rule.title,
        legal_basis=rule.legal_basis,
        local_standard=rule.is_local_standard,
        domain=state.domain,
        case=state.case,
        area=_area(state.facts),
        clock_started_at=clock.started_at,
        deadline=clock.due_at,
        stage_at=stage.at,
        raised_at=now,
        overdue_seconds=(now - clock.due_at).total_seconds(),
        target_seconds=rule.target.total_seconds(),
        hindsight=hindsight is not None,
        hindsight_reason=hindsight,
        reason=reason,
        explanation=rule.explanation,
        action=rule.action,
        policy_note=note,
        timeline=tuple(e for e in state.timeline if e.time <= max(now, stage.at)),
    )


def _area(facts: dict[str, Any]) -> str | None:
    for key in ("custody_suite", "area"):
        if isinstance(facts.get(key), str):
            return str(facts[key])
    return None
