"""The deadline engine: pure functions from a case's events and the time to alerts.

No Faust, no Kafka, no clock reads: ``now`` always comes in as a parameter, so the same code
serves the live worker and ``watchkeeper replay``, and tests move time at will.

How it decides
--------------
A case holds its events (sorted by event time), the facts merged from their data, and one
clock per rule. Each clock has *cycles*: one deadline each, with stages (warnings, then the
breach) at fixed times. A chain moves to its next cycle on each compliant action; a limit
moves to a new cycle when an authorised extension moves its deadline.

Stage state is two flags: ``fired`` (its time has passed on a running clock, so an alert is
justified) and ``emitted`` (an alert has been sent). ``_emit`` turns the difference between
the two into alerts: raise, update, satisfy, clear or retract.

In-order events (at or after everything the case has seen and decided) are applied
incrementally: cheap, and the common case. An event that lands *before* something already
decided (an out-of-order record, or one entered after a stage it affects had fired) makes
the engine rebuild the case from its sorted events, simulating perfect monitoring up to
``now``. It then diffs what should have fired against what was emitted, raising what was
missed (in hindsight) and retracting what the new record disproves, with the reason. One
set of rules serves both paths, so late data can never be treated differently from on-time
data.

Elapsed time is UTC arithmetic: 72 h is 72 real hours whatever London's clocks do. Only
rules with a calendar ``deadline`` consult the calendar.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any, Final, Literal

import msgspec

from agents.durations import format_duration
from agents.policy import Policy, Rule, Selector, all_hold
from alerts.model import Alert, AlertStatus, TimelineEntry, alert_id
from streams.contract import Event

ClockStatus = Literal["running", "paused", "met", "cancelled", "not_applicable"]
MAX_EVENTS: Final = 1000
HINDSIGHT_GRACE: Final = dt.timedelta(minutes=1)
"""A stage raised more than this after it passed was missed live; the alert says why."""
EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


# ============================================================================= state
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
    alert_id: str
    fired: bool = False
    emitted: bool = False
    status: str | None = None
    revision: int = 0
    sent_due: dt.datetime | None = None


class Cycle(msgspec.Struct, array_like=True):
    number: int
    start: dt.datetime
    due: dt.datetime
    due_offset: float
    stages: list[Stage]
    ended_by: str | None = None
    """Why this cycle stopped being the live one: an event id, or 'extended' / 'reset'."""


class Clock(msgspec.Struct):
    rule_id: str
    rule_version: int
    instance: str
    """Id of the event that started (or last reset) this clock; with rule and case it names it."""
    anchor: dt.datetime
    cycles: list[Cycle]
    status: ClockStatus = "running"
    paused_since: dt.datetime | None = None
    paused_total: float = 0.0
    ended_at: dt.datetime | None = None
    ended_by: str | None = None
    close_sent: bool = False

    @property
    def current(self) -> Cycle:
        return self.cycles[-1]


class Immediate(msgspec.Struct, array_like=True):
    rule_id: str
    rule_version: int
    event_id: str
    at: dt.datetime
    alert_id: str
    emitted: bool = False
    revision: int = 0


class CaseState(msgspec.Struct):
    case: str
    domain: str
    partition: int = -1
    events: list[StoredEvent] = []
    facts: dict[str, Any] = {}
    seen: set[str] = set()
    clocks: dict[str, Clock] = {}
    immediates: list[Immediate] = []
    decided_until: dt.datetime = EPOCH
    """The latest stage or immediate time that has fired: an event before it must rebuild."""


class Outcome(msgspec.Struct):
    alerts: list[Alert] = []
    duplicate: bool = False
    late_entry: bool = False
    rebuilt: bool = False


CASE_ENCODER: Final = msgspec.msgpack.Encoder()
CASE_DECODER: Final = msgspec.msgpack.Decoder(CaseState)


def new_case(case: str, domain: str, partition: int = -1) -> CaseState:
    return CaseState(case=case, domain=domain, partition=partition)


# ============================================================================= entry points
def process_event(state: CaseState, event: Event, policy: Policy, now: dt.datetime) -> Outcome:
    """Apply one validated event at its event time, then raise whatever is due at ``now``."""
    if event.id in state.seen:
        return Outcome(duplicate=True)
    state.seen.add(event.id)
    late_entry = event.recordedtime - event.time > policy.allowed_lateness
    stored = StoredEvent(
        event.id, event.type, event.time, event.recordedtime, msgspec.to_builtins(event.data), late_entry
    )
    latest = state.events[-1].time if state.events else EPOCH
    bisect.insort_right(state.events, stored, key=lambda e: e.time)
    if len(state.events) > MAX_EVENTS:
        del state.events[0]
    if event.time >= latest and event.time >= state.decided_until:
        _advance(state, policy, min(event.time, now))
        _apply(state, policy, stored)
        _advance(state, policy, now)
        return Outcome(alerts=_emit(state, policy, now, stored), late_entry=late_entry)
    return Outcome(alerts=_rebuild(state, policy, now, stored), late_entry=late_entry, rebuilt=True)


def tick(state: CaseState, policy: Policy, now: dt.datetime) -> list[Alert]:
    """Wall-clock time has moved on: raise the stages now due."""
    _advance(state, policy, now)
    return _emit(state, policy, now, None)


def next_due(state: CaseState) -> dt.datetime | None:
    """The earliest unfired stage on a running clock: when this case next needs a look."""
    times = [s.at for c in state.clocks.values() if c.status == "running" for s in c.current.stages if not s.fired]
    return min(times, default=None)


def replay_case(state: CaseState, policy: Policy, now: dt.datetime) -> CaseState:
    """A fresh state from the case's sorted events, as perfect monitoring would have left it at ``now``."""
    fresh = CaseState(case=state.case, domain=state.domain, partition=state.partition, seen=set(state.seen))
    for stored in state.events:
        fresh.events.append(stored)
        _advance(fresh, policy, min(stored.time, now))
        _apply(fresh, policy, stored)
    _advance(fresh, policy, now)
    return fresh


# ============================================================================= applying events
def _matches(selectors: Iterable[Selector], stored: StoredEvent, facts: dict[str, Any]) -> bool:
    return any(s.matches(stored.type, facts, stored.data) for s in selectors)


def _apply(state: CaseState, policy: Policy, stored: StoredEvent) -> None:
    state.facts.update(stored.data)
    for rule in policy.rules_for(stored.type):
        if rule.kind == "immediate":
            _apply_immediate(state, rule, stored)
            continue
        clock = state.clocks.get(rule.id)
        if clock is None or clock.status in ("met", "cancelled", "not_applicable"):
            restartable = clock is None or stored.time >= (clock.ended_at or clock.anchor)
            if restartable and _matches(rule.start, stored, state.facts) and rule.applies(state.facts):
                state.clocks[rule.id] = _start_clock(state, policy, rule, stored)
            continue
        if not rule.applies(state.facts):
            clock.status, clock.ended_at, clock.ended_by = "not_applicable", stored.time, stored.id
        elif _matches(rule.stop, stored, state.facts):
            _end(clock, "met", stored)
        elif _matches(rule.cancel, stored, state.facts):
            _end(clock, "cancelled", stored)
        elif _matches(rule.reset, stored, state.facts):
            clock.current.ended_by = stored.id
            state.clocks[rule.id] = replacement = _start_clock(state, policy, rule, stored)
            replacement.cycles[:0] = _worth_keeping(clock.cycles)
        elif rule.kind == "chain" and _matches(rule.step, stored, state.facts):
            _step_chain(state, rule, clock, stored)
        elif clock.status == "running" and _matches(rule.pause, stored, state.facts):
            clock.status, clock.paused_since = "paused", stored.time
        elif clock.status == "paused" and _matches(rule.resume, stored, state.facts):
            _resume(state, rule, clock, stored)
        else:
            for extension in rule.extensions:
                if extension.selector.matches(stored.type, state.facts, stored.data):
                    _extend(state, rule, clock, stored, extension.target, extension.until_field)
                    break


def _apply_immediate(state: CaseState, rule: Rule, stored: StoredEvent) -> None:
    if _matches(rule.trigger, stored, state.facts) and rule.applies(state.facts):
        state.immediates.append(
            Immediate(rule.id, rule.version, stored.id, stored.time, alert_id(rule.id, state.case, stored.id, "breach"))
        )
        state.decided_until = max(state.decided_until, stored.time)


def _anchor(rule: Rule, stored: StoredEvent) -> dt.datetime:
    if rule.anchor_field and isinstance(stored.data.get(rule.anchor_field), str):
        return dt.datetime.fromisoformat(stored.data[rule.anchor_field])
    return stored.time


def _start_clock(state: CaseState, policy: Policy, rule: Rule, stored: StoredEvent) -> Clock:
    anchor = _anchor(rule, stored)
    clock = Clock(rule.id, rule.version, stored.id, anchor, [])
    if rule.deadline is not None:
        span = rule.deadline.due(policy.calendar, anchor) - anchor
    elif rule.kind == "chain":
        assert rule.first is not None
        span = rule.first
    else:
        assert rule.target is not None
        span = rule.target
    clock.cycles.append(_cycle(state, rule, clock, 0, anchor, 0.0, span.total_seconds()))
    return clock


def _cycle(
    state: CaseState, rule: Rule, clock: Clock, number: int, start: dt.datetime, start_offset: float, due_offset: float
) -> Cycle:
    span = dt.timedelta(seconds=due_offset - start_offset)
    key = f"{clock.instance}#{number}"
    stages = [
        Stage(name, start_offset + off.total_seconds(), EPOCH, alert_id(rule.id, state.case, key, name))
        for name, off in rule.stage_offsets(span)
    ]
    cycle = Cycle(number, start, EPOCH, due_offset, stages)
    _place(clock, cycle)
    return cycle


def _place(clock: Clock, cycle: Cycle) -> None:
    """Wall times from counted offsets: anchor + offset + counted pause time so far."""
    shift = dt.timedelta(seconds=clock.paused_total)
    cycle.due = clock.anchor + dt.timedelta(seconds=cycle.due_offset) + shift
    for stage in cycle.stages:
        if not stage.fired:
            stage.at = clock.anchor + dt.timedelta(seconds=stage.offset) + shift


def _counted(clock: Clock, at: dt.datetime) -> float:
    """Counted clock seconds from the anchor to ``at`` (pauses so far excluded)."""
    return (at - clock.anchor).total_seconds() - clock.paused_total


def _end(clock: Clock, status: ClockStatus, stored: StoredEvent) -> None:
    clock.status, clock.ended_at, clock.ended_by = status, stored.time, stored.id
    clock.current.ended_by = stored.id


def _step_chain(state: CaseState, rule: Rule, clock: Clock, stored: StoredEvent) -> None:
    assert rule.interval is not None
    current = clock.current
    current.ended_by = stored.id
    interval = rule.interval.total_seconds()
    done = _counted(clock, stored.time)
    base = min(done, current.due_offset)  # early: from the action; late or postponed: the original schedule
    due = base + interval
    while due <= done:  # an action more than an interval late: the next deadline still on the schedule
        due += interval
    start = clock.anchor + dt.timedelta(seconds=base + clock.paused_total)
    clock.cycles.append(_cycle(state, rule, clock, current.number + 1, start, base, due))
    clock.cycles[:-1] = _worth_keeping(clock.cycles[:-1])


def _resume(state: CaseState, rule: Rule, clock: Clock, stored: StoredEvent) -> None:
    assert clock.paused_since is not None
    if not all_hold(rule.void_pause_when, state.facts, stored.data):
        clock.paused_total += (stored.time - clock.paused_since).total_seconds()
    clock.status, clock.paused_since = "running", None
    _place(clock, clock.current)


def _extend(
    state: CaseState, rule: Rule, clock: Clock, stored: StoredEvent, target: dt.timedelta | None, until: str | None
) -> None:
    if target is not None:
        new_due = target.total_seconds()
    elif until and isinstance(stored.data.get(until), str):
        new_due = _counted(clock, dt.datetime.fromisoformat(stored.data[until]))
    else:
        return
    if rule.max is not None:
        new_due = min(new_due, rule.max.total_seconds())
    current = clock.current
    if new_due <= current.due_offset:
        return
    current.ended_by = "extended"
    clock.cycles.append(_cycle(state, rule, clock, current.number + 1, clock.anchor, 0.0, new_due))
    clock.cycles[:-1] = _worth_keeping(clock.cycles[:-1])


def _worth_keeping(cycles: list[Cycle]) -> list[Cycle]:
    """Past cycles whose stages fired carry alerts to close or diff; the rest can go."""
    return [c for c in cycles if any(s.fired or s.emitted for s in c.stages)]


# ============================================================================= time
def _advance(state: CaseState, policy: Policy, until: dt.datetime) -> None:
    """Mark every stage whose time has come on a running clock as fired (its alert is justified)."""
    for clock in state.clocks.values():
        if clock.status != "running":
            continue
        due = [s for s in clock.current.stages if not s.fired and s.at <= until]
        if not due:
            continue
        rule = policy.rule(clock.rule_id)
        if rule is None:
            continue
        if not rule.applies(state.facts):
            clock.status, clock.ended_at = "not_applicable", due[0].at
            continue
        for stage in due:
            stage.fired = True
            state.decided_until = max(state.decided_until, stage.at)


# ============================================================================= rebuild
def _rebuild(state: CaseState, policy: Policy, now: dt.datetime, trigger: StoredEvent) -> list[Alert]:
    """Re-decide the case from its sorted events, keep what was already sent, emit the difference."""
    fresh = replay_case(state, policy, now)
    sent = {
        s.alert_id: (clock, cycle, s)
        for clock in state.clocks.values()
        for cycle in clock.cycles
        for s in cycle.stages
        if s.emitted
    }
    for clock in fresh.clocks.values():
        for cycle in clock.cycles:
            for stage in cycle.stages:
                if (old := sent.pop(stage.alert_id, None)) is not None:
                    before = old[2]
                    stage.emitted, stage.status, stage.revision, stage.sent_due = (
                        True,
                        before.status,
                        before.revision,
                        before.sent_due,
                    )
    sent_immediates = {r.alert_id: r for r in state.immediates if r.emitted}
    for record in fresh.immediates:
        if (old_record := sent_immediates.pop(record.alert_id, None)) is not None:
            record.emitted, record.revision = True, old_record.revision
    state.clocks, state.immediates, state.facts, state.decided_until = (
        fresh.clocks,
        fresh.immediates,
        fresh.facts,
        fresh.decided_until,
    )
    alerts = []
    for clock, cycle, stage in sent.values():  # sent before, no longer part of any clock
        rule = policy.rule(clock.rule_id)
        if rule is not None and stage.status in ("firing", "updated"):
            alerts.append(_send(state, rule, clock, cycle, stage, "retracted", now, _retraction_reason(stage, trigger)))
    for record in sent_immediates.values():
        rule = policy.rule(record.rule_id)
        if rule is not None:
            record.revision += 1
            retraction = _immediate_alert(state, rule, record, now)
            alerts.append(
                msgspec.structs.replace(
                    retraction,
                    status="retracted",
                    reason=(
                        f"Retracted: the records now show this rule did not apply when {record.event_id} happened."
                    ),
                )
            )
    return alerts + _emit(state, policy, now, trigger)


# ============================================================================= alerts
def _emit(state: CaseState, policy: Policy, now: dt.datetime, trigger: StoredEvent | None) -> list[Alert]:
    """Turn 'justified' versus 'sent' into alerts, and mark them sent."""
    out: list[Alert] = []
    for clock in state.clocks.values():
        rule = policy.rule(clock.rule_id)
        if rule is None:
            continue
        for cycle in clock.cycles:
            live = cycle is clock.current and clock.status in ("running", "paused")
            out += _emit_cycle(state, rule, clock, cycle, live, now, trigger)
    for record in state.immediates:
        rule = policy.rule(record.rule_id)
        if rule is not None and not record.emitted:
            record.emitted, record.revision = True, 1
            out.append(_immediate_alert(state, rule, record, now))
    return out


def _emit_cycle(
    state: CaseState, rule: Rule, clock: Clock, cycle: Cycle, live: bool, now: dt.datetime, trigger: StoredEvent | None
) -> Iterator[Alert]:
    pending = [s for s in cycle.stages if s.fired and not s.emitted]
    if pending and not any(s.emitted for s in cycle.stages if s.offset > pending[-1].offset):
        latest = pending[-1]
        for stage in pending[:-1]:
            stage.emitted = True  # superseded by a later stage raised at the same time
        latest.emitted = True
        yield _send(
            state, rule, clock, cycle, latest, "firing", now, _firing_reason(state, rule, clock, cycle, latest, now)
        )
    for stage in cycle.stages:
        if not stage.emitted or stage.status in (None, "retracted", "satisfied", "cleared"):
            continue
        if not stage.fired:
            yield _send(state, rule, clock, cycle, stage, "retracted", now, _retraction_reason(stage, trigger))
        elif not live:
            closed = _closing(state, rule, clock, cycle, stage)
            if closed is not None:
                yield _send(state, rule, clock, cycle, stage, closed[0], now, closed[1])
        elif stage.sent_due is not None and stage.sent_due != cycle.due and clock.status == "running":
            reason = f"Deadline moved from {stage.sent_due.isoformat()} to {cycle.due.isoformat()}"
            if trigger is not None:
                reason += f" by {trigger.type} at {trigger.time.isoformat()}"
            yield _send(state, rule, clock, cycle, stage, "updated", now, reason + ".")


def _closing(state: CaseState, rule: Rule, clock: Clock, cycle: Cycle, stage: Stage) -> tuple[AlertStatus, str] | None:
    """How an open alert of a cycle that is no longer live closes: satisfied by the required
    action, or cleared because the clock ended another way or its deadline moved."""
    if cycle.ended_by == "extended":
        return (
            "cleared",
            f"Superseded: the deadline was extended to {clock.current.due.isoformat()} by a recorded authorisation.",
        )
    if clock.status == "not_applicable" and cycle is clock.current:
        return "retracted", "Rule does not apply: the case facts now recorded rule this case out."
    ended_by = cycle.ended_by or clock.ended_by
    event = next((e for e in state.events if e.id == ended_by), None)
    if event is None:
        return None
    when = f"{event.type} at {event.time.isoformat()}"
    if event.type in {s.type for s in (*rule.stop, *rule.step)}:
        late = event.time - cycle.due
        lateness = (
            f", {format_duration(late)} after the deadline" if late > dt.timedelta(0) else ", before the deadline"
        )
        return "satisfied", f"Required action recorded: {when}{lateness}. An acknowledgement alone never closes this."
    return "cleared", f"No longer needed: {when} ended the clock."


def _send(
    state: CaseState,
    rule: Rule,
    clock: Clock,
    cycle: Cycle,
    stage: Stage,
    status: AlertStatus,
    now: dt.datetime,
    reason: str,
) -> Alert:
    stage.status, stage.revision = status, stage.revision + 1
    if status in ("firing", "updated"):
        stage.sent_due = cycle.due
    hindsight = _hindsight(state, clock, stage, now) if status == "firing" else None
    return _alert(state, rule, clock, cycle, stage, status, now, reason, hindsight)


def _hindsight(state: CaseState, clock: Clock, stage: Stage, now: dt.datetime) -> str | None:
    """Why a stage is raised well after it passed, or None if it is raised on time."""
    if now - stage.at <= HINDSIGHT_GRACE:
        return None
    late = [e for e in state.events if e.time <= stage.at and e.recordedtime > stage.at]
    if late:
        e = late[-1]
        return (
            f"raised in hindsight: the {e.type} record was entered at {e.recordedtime.isoformat()}, "
            f"after this {_kind(stage.name)} point had passed"
        )
    return (
        f"raised {format_duration(now - stage.at)} after its time: the monitor was not processing this case "
        "then (stopped, restarting or lagging)"
    )


def _kind(stage_name: str) -> Literal["warning", "breach"]:
    return "breach" if stage_name == "breach" else "warning"


def _firing_reason(state: CaseState, rule: Rule, clock: Clock, cycle: Cycle, stage: Stage, now: dt.datetime) -> str:
    start = next((e.type for e in state.events if e.id == clock.instance), "start event")
    began = f"{rule.title}: clock started {clock.anchor.isoformat()} by {start}"
    if cycle.number and rule.kind == "chain":
        began += f"; deadline {cycle.number + 1} in the chain"
    elif cycle.number:
        began += "; deadline extended by a recorded authorisation"
    if clock.paused_total:
        began += f"; {format_duration(dt.timedelta(seconds=clock.paused_total))} paused"
    wanted = " or ".join(sorted({s.type for s in (*rule.stop, *rule.step)})) or "the required action"
    if stage.name == "breach":
        return f"{began}; deadline {cycle.due.isoformat()} ({rule.describe_target()}) passed with no {wanted}."
    return f"{began}; {format_duration(cycle.due - now)} left until {cycle.due.isoformat()} with no {wanted}."


def _retraction_reason(stage: Stage, trigger: StoredEvent | None) -> str:
    if trigger is None:
        return "Retracted: the records no longer support this alert."
    return (
        f"Retracted: a record entered {trigger.recordedtime.isoformat()} shows {trigger.type} at "
        f"{trigger.time.isoformat()}, so this {_kind(stage.name)} point ({stage.at.isoformat()}) was not reached."
    )


def _timeline(state: CaseState, until: dt.datetime) -> tuple[TimelineEntry, ...]:
    return tuple(TimelineEntry(e.id, e.type, e.time, e.recordedtime, e.late) for e in state.events if e.time <= until)


def _common(state: CaseState, rule: Rule, now: dt.datetime) -> dict[str, Any]:
    note = f"{', '.join(rule.overridden)} set by force override {rule.override_source}" if rule.overridden else None
    return {
        "severity": rule.severity_breach,
        "rule_id": rule.id,
        "rule_title": rule.title,
        "legal_basis": rule.legal_basis,
        "local_standard": rule.is_local_standard,
        "domain": state.domain,
        "case": state.case,
        "area": _area(state.facts),
        "raised_at": now,
        "explanation": rule.explanation,
        "action": rule.action,
        "policy_note": note,
    }


def _alert(
    state: CaseState,
    rule: Rule,
    clock: Clock,
    cycle: Cycle,
    stage: Stage,
    status: AlertStatus,
    now: dt.datetime,
    reason: str,
    hindsight: str | None,
) -> Alert:
    kind = _kind(stage.name)
    common = _common(state, rule, now)
    if kind == "warning":
        common["severity"] = rule.severity_warning
    return Alert(
        **common,
        alert_id=stage.alert_id,
        revision=stage.revision,
        status=status,
        stage=kind,
        stage_name=stage.name,
        rule_version=clock.rule_version,
        clock_started_at=clock.anchor,
        deadline=cycle.due,
        stage_at=stage.at,
        overdue_seconds=(now - cycle.due).total_seconds(),
        target=rule.describe_target(),
        hindsight=hindsight is not None,
        hindsight_reason=hindsight,
        reason=reason,
        timeline=_timeline(state, max(now, stage.at)),
    )


def _immediate_alert(state: CaseState, rule: Rule, record: Immediate, now: dt.datetime) -> Alert:
    event = next((e for e in state.events if e.id == record.event_id), None)
    what = f"{event.type} at {record.at.isoformat()}" if event else f"event at {record.at.isoformat()}"
    return Alert(
        **_common(state, rule, now),
        alert_id=record.alert_id,
        revision=record.revision,
        status="firing",
        stage="breach",
        stage_name="breach",
        rule_version=record.rule_version,
        clock_started_at=record.at,
        deadline=record.at,
        stage_at=record.at,
        overdue_seconds=(now - record.at).total_seconds(),
        target="immediate",
        hindsight=now - record.at > HINDSIGHT_GRACE,
        hindsight_reason=None,
        reason=f"{rule.title}: {what} breaks this rule by itself.",
        timeline=_timeline(state, max(now, record.at)),
    )


def _area(facts: dict[str, Any]) -> str | None:
    for key in ("custody_suite", "area"):
        if isinstance(facts.get(key), str):
            return str(facts[key])
    return None
