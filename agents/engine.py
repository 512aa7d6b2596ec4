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
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

import msgspec

from agents.durations import format_duration
from agents.policy import Extension, Policy, Rule, Selector, all_hold
from agents.wording import lateness, local_time
from alerts.model import Alert, AlertStatus, TimelineEntry, alert_id
from streams.contract import Event, event_label

ClockStatus = Literal["running", "paused", "met", "cancelled", "not_applicable"]
MAX_EVENTS: Final = 1000
RESOLUTION: Final = dt.timedelta(microseconds=1)
"""The smallest step of event time. "Not later than" makes the deadline instant itself
compliant, so a stage fires at the first instant *after* its time: an action recorded at
the stage's exact time is always applied first."""
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
    """Its time has passed on a running clock that applies: an alert for it is justified."""


class Cycle(msgspec.Struct, array_like=True):
    number: int
    due: dt.datetime
    due_offset: float
    stages: list[Stage]
    ended_by: str | None = None
    """Why this cycle stopped being the live one: the ending event's id, or 'extended'."""


class Clock(msgspec.Struct):
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

    @property
    def current(self) -> Cycle:
        return self.cycles[-1]


class Immediate(msgspec.Struct, array_like=True):
    rule_id: str
    rule_version: int
    event_id: str
    at: dt.datetime
    alert_id: str
    grounds: str = ""
    """The trigger's conditions that held, in words: why this record breaks the rule."""


class Sent(msgspec.Struct, array_like=True):
    """What was last said about one alert id: the ledger entry. Kept apart from the clocks,
    which are rebuilt from the events, so a rebuild never forgets what people were told."""

    status: str
    """firing, updated, satisfied, cleared, retracted; or superseded (never sent: a later
    stage of the same deadline was raised at the same moment)."""
    revision: int
    rule_id: str
    rule_version: int
    stage_name: str
    deadline: dt.datetime
    stage_at: dt.datetime
    clock_started_at: dt.datetime


class CaseState(msgspec.Struct):
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
    started: dict[str, int] = {}
    """How many clocks each rule has started in this case: the ordinal that names a clock."""
    immediates: list[Immediate] = []
    ledger: dict[str, Sent] = {}
    decided_until: dt.datetime = EPOCH
    """The latest stage or immediate time that has fired: an event at or before it must rebuild
    (an action at a stage's exact instant means the stage should not have fired)."""


DERIVED: Final = ("facts", "clocks", "history", "started", "immediates", "decided_until")
"""CaseState fields that are a function of its events: what a rebuild replaces."""


class Outcome(msgspec.Struct):
    alerts: list[Alert] = []
    duplicate: bool = False
    conflict: bool = False
    """The event's id was already used by a *different* event in this case: not applied, and
    never silently dropped (the shell dead-letters it as ``id_conflict``)."""
    late_entry: bool = False
    rebuilt: bool = False
    forward_to: list[str] = []
    """Other cases this event must also be applied to: a rule keyed by another field (a child
    across missing episodes). The shell re-publishes the event under each case key."""


CASE_ENCODER: Final = msgspec.msgpack.Encoder()
_DIGEST_ENCODER: Final = msgspec.msgpack.Encoder(order="deterministic")
CASE_DECODER: Final = msgspec.msgpack.Decoder(CaseState)


def new_case(case: str, domain: str, partition: int = -1) -> CaseState:
    return CaseState(case=case, domain=domain, partition=partition)


# ============================================================================= entry points
def process_event(
    state: CaseState, event: Event, policy: Policy, now: dt.datetime, as_of: dt.datetime | None = None
) -> Outcome:
    """Apply one validated event at its event time, then raise whatever is due.

    ``now`` is the wall clock: when alerts are raised. ``as_of`` (default ``now``) is how far
    the case may be decided. A worker working through a backlog passes the record's
    ``recordedtime``: it cannot know yet what records entered after that say, so a clock a
    later record stops must not fire (and then be retracted) in between. Decisions never go
    back before what the case has already decided."""
    identity, digest = event_identity(event), event_digest(event)
    known = state.seen.get(identity)
    if known is not None:
        return Outcome(duplicate=True) if known == digest else Outcome(conflict=True)
    decide = _decision_time(state, now, as_of)
    # Time runs on to when the record was entered before it is read, as it would have live:
    # stages that passed before the record existed fire (a later rebuild may retract them).
    passed = _run_to(state, policy, decide, now)
    state.seen[identity] = digest
    late_entry = event.recordedtime - event.time > policy.allowed_lateness
    stored = StoredEvent(
        event.id, event.type, event.time, event.recordedtime, msgspec.to_builtins(event.data), late_entry
    )
    latest = state.events[-1].time if state.events else EPOCH
    bisect.insort_right(state.events, stored, key=lambda e: e.time)
    if len(state.events) > MAX_EVENTS:
        del state.events[0]
    forward_to = _forward_targets(state, policy, stored)
    reopened = event.time >= latest and event.time == state.decided_until and _reopen_instant(state, event.time)
    if event.time >= latest and (event.time > state.decided_until or reopened):
        changed = reopened
        changed |= _advance(state, policy, min(event.time, decide))
        changed |= _apply(state, policy, stored)
        changed |= _advance(state, policy, decide)
        alerts = _emit(state, policy, now, stored) if changed else []
        return Outcome(alerts=passed + alerts, late_entry=late_entry, forward_to=forward_to)
    alerts = _rebuild(state, policy, decide, now, stored)
    return Outcome(alerts=passed + alerts, late_entry=late_entry, rebuilt=True, forward_to=forward_to)


def _reopen_instant(state: CaseState, at: dt.datetime) -> bool:
    """An event at exactly the latest decided instant, and after every other event: un-fire the
    stages decided at that very instant, so the event is applied before them ("not later
    than": an action at a stage's instant is in time) without rebuilding the case. They fire
    again as soon as time passes them, unless the event stopped their clock. False, and the
    case is rebuilt, when anything else was decided at that instant (an immediate rule, a
    clock ruled out at a stage)."""
    if any(record.at == at for record in state.immediates):
        return False
    reopen: list[Stage] = []
    for clock in state.clocks.values():
        if clock.status in ("running", "paused"):
            reopen += [s for s in clock.current.stages if s.fired and s.at == at]
        elif clock.status == "not_applicable" and clock.ended_at == at and clock.ended_by is None:
            return False
    for stage in reopen:
        stage.fired = False
    fired = [s.at for c in _all_clocks(state) for cycle in c.cycles for s in cycle.stages if s.fired]
    state.decided_until = max([*fired, *(record.at for record in state.immediates)], default=EPOCH)
    return True


def event_identity(event: Event) -> str:
    """CloudEvents: ``source`` and ``id`` together identify an event; two sources may reuse ids."""
    return f"{event.source} {event.id}"


def event_digest(event: Event) -> str:
    """What the event says (everything but who forwarded it where): equal for a true copy."""
    content = _DIGEST_ENCODER.encode((event.type, event.time, event.recordedtime, event.data))
    return hashlib.blake2b(content, digest_size=8).hexdigest()


def _forward_targets(state: CaseState, policy: Policy, stored: StoredEvent) -> list[str]:
    fields = policy.key_fields.get(stored.type)
    if not fields:
        return []
    values = {stored.data.get(name) for name in fields}
    return sorted(v for v in values if isinstance(v, str) and v != state.case)


def tick(state: CaseState, policy: Policy, now: dt.datetime, as_of: dt.datetime | None = None) -> list[Alert]:
    """Time has moved on: raise the stages due by ``as_of`` (default ``now``, the wall clock)."""
    return _run_to(state, policy, _decision_time(state, now, as_of), now)


def _run_to(state: CaseState, policy: Policy, until: dt.datetime, now: dt.datetime) -> list[Alert]:
    """Let time run to ``until`` one stage time at a time, saying each stage as it comes, as a
    monitor ticking in real time would have: a worker catching up after a stop, or reading a
    backlog, raises the same alerts as one that never fell behind (marked as hindsight)."""
    alerts: list[Alert] = []
    while (due := next_due(state)) is not None and due <= until:
        if not _advance(state, policy, due):
            break
        alerts += _emit(state, policy, now, None)
    return alerts


def _decision_time(state: CaseState, now: dt.datetime, as_of: dt.datetime | None) -> dt.datetime:
    """How far the case may be decided. Never back before what is already decided: a stage
    fired at ``decided_until`` means time had passed that instant, so an unrelated record
    stamped at that very instant must not un-decide it (and raise it again a microsecond
    later); a record that stops its clock at that instant still retracts it."""
    decided = state.decided_until + RESOLUTION if state.decided_until > EPOCH else EPOCH
    if as_of is None:
        return max(now, decided)
    return max(min(now, max(as_of, decided)), decided)


def next_due(state: CaseState) -> dt.datetime | None:
    """When this case next needs a look: just after the earliest unfired stage on a running
    clock (the stage's own instant is still compliant)."""
    times = [s.at for c in state.clocks.values() if c.status == "running" for s in c.current.stages if not s.fired]
    return min(times) + RESOLUTION if times else None


def replay_case(state: CaseState, policy: Policy, now: dt.datetime) -> CaseState:
    """A fresh state from the case's sorted events, as perfect monitoring would have left it at ``now``."""
    fresh = CaseState(case=state.case, domain=state.domain, partition=state.partition, seen=dict(state.seen))
    for stored in state.events:
        fresh.events.append(stored)
        _advance(fresh, policy, min(stored.time, now))
        _apply(fresh, policy, stored)
    _advance(fresh, policy, now)
    return fresh


# ============================================================================= applying events
def _matches(selectors: Iterable[Selector], stored: StoredEvent, facts: dict[str, Any], state: CaseState) -> bool:
    return _matching(selectors, stored, facts, state) is not None


def _matching(
    selectors: Iterable[Selector], stored: StoredEvent, facts: dict[str, Any], state: CaseState
) -> Selector | None:
    for s in selectors:
        if s.matches(stored.type, facts, _RecordView(state, stored) if s.on_record else stored.data):
            return s
    return None


class _RecordView(Mapping[str, Any]):
    """An event's data, plus what the case's record says around it: ``#count <type>`` (how
    many were recorded at or before it, itself not counted) and ``#since <fact>`` (seconds
    from that fact's time to the event). Built only for selectors that ask."""

    __slots__ = ("_state", "_stored")

    def __init__(self, state: CaseState, stored: StoredEvent) -> None:
        self._state, self._stored = state, stored

    def __getitem__(self, key: str) -> Any:
        stored = self._stored
        if key.startswith("#count "):
            wanted = key[7:]
            return sum(
                1 for e in self._state.events if e.type == wanted and e.time <= stored.time and e.id != stored.id
            )
        if key.startswith("#since "):
            value = self._state.facts.get(key[7:])
            if not isinstance(value, str):
                raise KeyError(key)
            return (stored.time - dt.datetime.fromisoformat(value)).total_seconds()
        return stored.data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._stored.data)

    def __len__(self) -> int:
        return len(self._stored.data)


def _apply(state: CaseState, policy: Policy, stored: StoredEvent) -> bool:
    """Apply one event's effects; True if it could have changed any clock (so alerts may differ)."""
    state.facts.update(stored.data)
    rechecked = not policy.fact_names.isdisjoint(stored.data)
    if rechecked:
        _recheck_applicability(state, policy, stored)
    rules = policy.rules_for(stored.type)
    if _is_keyed_copy(state, policy, stored):  # a copy forwarded here: only the rules keyed by this case
        rules = tuple(r for r in rules if r.key_field is not None)
    for rule in rules:
        if rule.kind == "immediate":
            _apply_immediate(state, rule, stored)
            continue
        clock = state.clocks.get(rule.id)
        if clock is None or clock.status in ("met", "cancelled", "not_applicable"):
            restartable = clock is None or stored.time >= (clock.ended_at or clock.anchor)
            if (
                restartable
                and _matches(rule.start, stored, state.facts, state)
                and rule.applies(state.facts)
                and not (rule.unless_recorded and _recorded(state, rule.unless_recorded, stored.time, stored.id))
                and not (rule.unless_in_place and _in_place(state, rule.unless_in_place, stored.time))
            ):
                _replace(state, clock, _start_clock(state, policy, rule, stored))
            continue
        if _matches(rule.stop, stored, state.facts, state):
            _end(clock, "met", stored)
        elif _matches(rule.cancel, stored, state.facts, state):
            _end(clock, "cancelled", stored)
        elif _matches(rule.reset, stored, state.facts, state):
            _end(clock, "cancelled", stored)
            _replace(state, clock, _start_clock(state, policy, rule, stored))
        elif rule.kind == "chain" and _matches(rule.step, stored, state.facts, state):
            _step_chain(state, rule, clock, stored)
        elif clock.status == "running" and _matches(rule.pause, stored, state.facts, state):
            clock.status, clock.paused_since = "paused", stored.time
        elif clock.status == "paused" and _matches(rule.resume, stored, state.facts, state):
            _resume(state, rule, clock, stored)
        else:
            for extension in rule.extensions:
                if _matches((extension.selector,), stored, state.facts, state):
                    _extend(state, rule, clock, stored, extension)
                    break
    return rechecked or bool(rules)


def _is_keyed_copy(state: CaseState, policy: Policy, stored: StoredEvent) -> bool:
    fields = policy.key_fields.get(stored.type, ())
    return any(stored.data.get(name) == state.case for name in fields)


def _recheck_applicability(state: CaseState, policy: Policy, stored: StoredEvent) -> None:
    """A new fact (an age, a risk level) can rule a case out of a rule whose clock is running."""
    for clock in state.clocks.values():
        rule = policy.rule(clock.rule_id)
        if clock.status in ("running", "paused") and rule is not None and not rule.applies(state.facts):
            clock.status, clock.ended_at, clock.ended_by = "not_applicable", stored.time, stored.id
            clock.current.ended_by = stored.id


def _replace(state: CaseState, old: Clock | None, new: Clock | None) -> None:
    """Make ``new`` the rule's current clock; keep ``old`` if any of its stages fired.
    (``new`` is None when this case gives the rule no deadline: the old clock stays as it ended.)"""
    if new is None:
        return
    if old is not None:
        old.cycles = _worth_keeping(old.cycles)
        if old.cycles:
            state.history.append(old)
    state.clocks[new.rule_id] = new


def _recorded(state: CaseState, types: frozenset[str], until: dt.datetime, besides: str = "") -> bool:
    """Whether the case recorded an event of one of ``types`` at or before ``until``."""
    return any(e.type in types and e.time <= until and e.id != besides for e in state.events)


def _in_place(state: CaseState, pair: tuple[str, str], until: dt.datetime) -> bool:
    """Whether the latest of (placed, removed) recorded at or before ``until`` (the starting
    event included: a stand-down starts the clock it ends the cover of) is ``placed``."""
    placed, latest = pair[0], None
    for e in state.events:
        if e.time > until:
            break
        if e.type in pair:
            latest = e.type
    return latest == placed


def _apply_immediate(state: CaseState, rule: Rule, stored: StoredEvent) -> None:
    if rule.key_field is not None and stored.data.get(rule.key_field) != state.case:
        return  # keyed by another field: decided in that case, where the event is forwarded
    if rule.unless_recorded and _recorded(state, rule.unless_recorded, stored.time, besides=stored.id):
        return
    if rule.threshold is not None:
        count, within = rule.threshold
        since = stored.time - within
        matching = [
            e for e in state.events if since < e.time <= stored.time and _matches(rule.trigger, e, state.facts, state)
        ]
        if len(matching) < count:
            return
    matched = _matching(rule.trigger, stored, state.facts, state)
    if matched is not None and rule.applies(state.facts):
        grounds = "; ".join(c.describe() for c in matched.when if c.on_event)
        aid = alert_id(rule.id, state.case, stored.id, "breach")
        state.immediates.append(Immediate(rule.id, rule.version, stored.id, stored.time, aid, grounds))
        state.decided_until = max(state.decided_until, stored.time)


def _anchor(rule: Rule, stored: StoredEvent) -> dt.datetime:
    if rule.anchor_field and isinstance(stored.data.get(rule.anchor_field), str):
        return dt.datetime.fromisoformat(stored.data[rule.anchor_field])
    return stored.time


def _time_field(stored: StoredEvent, name: str | None) -> dt.datetime | None:
    value = stored.data.get(name) if name else None
    return dt.datetime.fromisoformat(value) if isinstance(value, str) else None


def _first_span(state: CaseState, policy: Policy, rule: Rule, stored: StoredEvent, anchor: dt.datetime) -> float | None:
    """Seconds from the anchor to the first deadline, or None if this case gives the rule no deadline."""
    if rule.deadline is not None:
        return (rule.deadline.due(policy.calendar, anchor) - anchor).total_seconds()
    if rule.kind == "chain":
        due = _time_field(stored, rule.due_field)
        if due is not None:
            return (due - anchor).total_seconds()
        return rule.first.total_seconds() if rule.first is not None else None
    target = rule.target_for(state.facts)
    return target.total_seconds() if target is not None else None


def _start_clock(state: CaseState, policy: Policy, rule: Rule, stored: StoredEvent) -> Clock | None:
    anchor = _anchor(rule, stored)
    span = _first_span(state, policy, rule, stored, anchor)
    if span is None:
        return None
    state.started[rule.id] = ordinal = state.started.get(rule.id, 0) + 1
    clock = Clock(rule.id, rule.version, stored.id, ordinal, anchor, [])
    clock.cycles.append(_cycle(state, rule, clock, 0, 0.0, span))
    return clock


def _cycle(state: CaseState, rule: Rule, clock: Clock, number: int, start_offset: float, due_offset: float) -> Cycle:
    span = dt.timedelta(seconds=due_offset - start_offset)
    key = f"{clock.ordinal}#{number}"
    stages = [
        Stage(name, start_offset + off.total_seconds(), EPOCH, alert_id(rule.id, state.case, key, name))
        for name, off in rule.stage_offsets(span)
    ]
    cycle = Cycle(number, EPOCH, due_offset, stages)
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
    current = clock.current
    done = _counted(clock, stored.time)
    base = min(done, current.due_offset)  # early: from the action; late or postponed: the original schedule
    set_by_record = _time_field(stored, rule.due_field)
    if set_by_record is not None:  # the record sets the next deadline itself (a missing-person review time)
        base, due = done, max(_counted(clock, set_by_record), done)
    elif rule.interval is not None:
        interval = rule.interval.total_seconds()
        due = base + interval
        while due <= done:  # an action more than an interval late: the next deadline still on the schedule
            due += interval
    else:
        return  # a step that sets no next deadline is not a compliant step
    current.ended_by = stored.id
    clock.cycles.append(_cycle(state, rule, clock, current.number + 1, base, due))
    clock.cycles[:-1] = _worth_keeping(clock.cycles[:-1])


def _resume(state: CaseState, rule: Rule, clock: Clock, stored: StoredEvent) -> None:
    assert clock.paused_since is not None
    if not all_hold(rule.void_pause_when, state.facts, stored.data):
        clock.paused_total += (stored.time - clock.paused_since).total_seconds()
    clock.status, clock.paused_since = "running", None
    _place(clock, clock.current)


def _extend(state: CaseState, rule: Rule, clock: Clock, stored: StoredEvent, extension: Extension) -> None:
    target, until = extension.target, extension.until_field
    if target is not None:
        new_due = target.total_seconds()
        hours = stored.data.get(extension.hours_field) if extension.hours_field else None
        if isinstance(hours, (int, float)) and not isinstance(hours, bool):
            new_due = min(new_due, hours * 3600.0)  # the hours authorised, never more than the law allows
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
    clock.cycles.append(_cycle(state, rule, clock, current.number + 1, 0.0, new_due))
    clock.cycles[:-1] = _worth_keeping(clock.cycles[:-1])


def _worth_keeping(cycles: list[Cycle]) -> list[Cycle]:
    """Past cycles whose stages fired carry alerts to close or diff; the rest can go (an alert
    sent for a stage that no longer fires is retracted from the ledger, not from the cycle)."""
    return [c for c in cycles if any(s.fired for s in c.stages)]


# ============================================================================= time
def _advance(state: CaseState, policy: Policy, until: dt.datetime) -> bool:
    """Mark every stage whose time has passed *before* ``until`` on a running clock as fired
    (its alert is justified): a stage at exactly ``until`` waits, so an event at that instant
    is applied first. True if anything changed."""
    changed = False
    for clock in state.clocks.values():
        if clock.status != "running":
            continue
        due = [s for s in clock.current.stages if not s.fired and s.at < until]
        if not due:
            continue
        rule = policy.rule(clock.rule_id)
        if rule is None:
            continue
        changed = True
        recorded = not rule.only_if_recorded or _recorded(state, rule.only_if_recorded, due[-1].at)
        if not recorded or not rule.applies(state.facts):
            clock.status, clock.ended_at = "not_applicable", due[0].at
            continue
        for stage in due:
            stage.fired = True
            state.decided_until = max(state.decided_until, stage.at)
    return changed


def _all_clocks(state: CaseState) -> Iterator[Clock]:
    yield from state.history
    yield from state.clocks.values()


# ============================================================================= rebuild
def _rebuild(
    state: CaseState, policy: Policy, decide: dt.datetime, now: dt.datetime, trigger: StoredEvent
) -> list[Alert]:
    """Re-decide the case from its sorted events; the ledger of what was said is kept, so the
    emission diff raises what was missed and retracts what the new record disproves."""
    fresh = replay_case(state, policy, decide)
    for name in DERIVED:
        setattr(state, name, getattr(fresh, name))
    return _emit(state, policy, now, trigger)


# ============================================================================= alerts
OPEN: Final = frozenset({"firing", "updated"})
SAID: Final = frozenset({"firing", "updated", "satisfied", "cleared", "closed"})


def _emit(state: CaseState, policy: Policy, now: dt.datetime, trigger: StoredEvent | None) -> list[Alert]:
    """Diff what is justified now against the ledger, say the difference, record it."""
    zone = policy.calendar.zone
    out: list[Alert] = []
    present: set[str] = set()
    for clock in _all_clocks(state):
        rule = policy.rule(clock.rule_id)
        if rule is None:
            continue
        for cycle in clock.cycles:
            present.update(s.alert_id for s in cycle.stages)
            live = cycle is clock.current and clock.status in ("running", "paused")
            out += _emit_cycle(state, rule, clock, cycle, live, now, trigger, zone)
    for record in state.immediates:
        present.add(record.alert_id)
        rule = policy.rule(record.rule_id)
        sent = state.ledger.get(record.alert_id)
        if rule is not None and (sent is None or sent.status == "retracted"):
            context = Sent("", 0, rule.id, record.rule_version, "breach", record.at, record.at, record.at)
            reason = f"{rule.title}: {_describe(state, record.event_id, zone)}"
            reason += f" ({record.grounds})." if record.grounds else "."
            out.append(_say(state, rule, record.alert_id, context, "firing", now, reason, None))
    for aid, sent in list(state.ledger.items()):  # said before, no longer part of any clock
        if aid not in present and sent.status in SAID and (rule := policy.rule(sent.rule_id)) is not None:
            reason = _retraction_reason(sent.stage_name, sent.stage_at, trigger, zone)
            out.append(_say(state, rule, aid, sent, "retracted", now, reason, None))
    return out


def _emit_cycle(
    state: CaseState,
    rule: Rule,
    clock: Clock,
    cycle: Cycle,
    live: bool,
    now: dt.datetime,
    trigger: StoredEvent | None,
    zone: ZoneInfo,
) -> Iterator[Alert]:
    ledger = state.ledger

    def status(stage: Stage) -> str | None:
        sent = ledger.get(stage.alert_id)
        return sent.status if sent is not None else None

    pending = [s for s in cycle.stages if s.fired and status(s) in (None, "retracted")]
    if pending and not any(status(s) in SAID for s in cycle.stages if s.offset > pending[-1].offset):
        latest = pending[-1]
        for stage in pending[:-1]:
            ledger[stage.alert_id] = _context(rule, clock, cycle, stage, "superseded", 0)
        reason = _firing_reason(state, rule, clock, cycle, latest, now, zone)
        yield _say(
            state,
            rule,
            latest.alert_id,
            _context(rule, clock, cycle, latest),
            "firing",
            now,
            reason,
            _hindsight(state, latest, now, zone),
        )
    for stage in cycle.stages:
        sent = ledger.get(stage.alert_id)
        if sent is None or sent.status not in SAID:
            continue
        context = _context(rule, clock, cycle, stage)
        if not stage.fired:
            reason = _retraction_reason(stage.name, stage.at, trigger, zone)
            yield _say(state, rule, stage.alert_id, context, "retracted", now, reason, None)
        elif sent.status not in OPEN:
            continue
        elif not live:
            closed = _closing(state, rule, clock, cycle, zone)
            if closed is not None:
                yield _say(state, rule, stage.alert_id, context, closed[0], now, closed[1], None)
        elif sent.deadline != cycle.due and clock.status == "running":
            reason = f"Deadline moved from {local_time(sent.deadline, zone)} to {local_time(cycle.due, zone)}"
            if trigger is not None:
                reason += f" by the record of {_describe(state, trigger.id, zone)}"
            yield _say(state, rule, stage.alert_id, context, "updated", now, reason + ".", None)


def _context(rule: Rule, clock: Clock, cycle: Cycle, stage: Stage, status: str = "", revision: int = 0) -> Sent:
    return Sent(status, revision, rule.id, clock.rule_version, stage.name, cycle.due, stage.at, clock.anchor)


def _closing(
    state: CaseState, rule: Rule, clock: Clock, cycle: Cycle, zone: ZoneInfo
) -> tuple[AlertStatus, str] | None:
    """How an open alert of a deadline that is no longer live closes.

    A deadline that was breached stays breached: its alerts close as ``closed`` and say how
    the clock ended (the action taken late, custody ended while in breach, an authorisation
    recorded after the limit). ``satisfied`` is only the required action in time (at the
    deadline instant included); ``cleared`` only a clock that ended or moved before its
    deadline. Only a retraction, on records that show the breach never happened, undoes one."""
    breached = any(s.fired and s.name == "breach" for s in cycle.stages)
    due = local_time(cycle.due, zone)
    if cycle.ended_by == "extended":
        moved_to = local_time(clock.current.due, zone)
        if breached:
            return (
                "closed",
                f"Breached: the deadline {due} passed. An authorisation recorded since sets the next limit at "
                f"{moved_to}; it cannot undo the breach, which stands.",
            )
        return "cleared", f"Extended before it passed: a recorded authorisation moved the deadline {due} to {moved_to}."
    if clock.status == "not_applicable" and cycle is clock.current:
        # Stages that fired were justified on the facts known at their time (a fact that
        # arrives out of order rebuilds the case, and then they never fire at all).
        since = local_time(clock.ended_at, zone) if clock.ended_at else "then"
        if breached:
            return (
                "closed",
                f"Breached: the deadline {due} passed; facts recorded {since} rule this case out of the rule "
                "from then on. The breach stands.",
            )
        return "cleared", f"No longer applies: facts recorded {since} rule this case out, before the deadline {due}."
    ended_by = cycle.ended_by or clock.ended_by
    event = next((e for e in state.events if e.id == ended_by), None)
    if event is None:
        return None
    what = _describe(state, event.id, zone)
    required = rule.step if rule.kind == "chain" else rule.stop  # a chain's stop ends the need, it is no review
    if event.type in {s.type for s in required}:
        if breached:
            noted = _noted(state, rule, clock, cycle, event.time, zone)
            return (
                "closed",
                f"Breached: {what}, {format_duration(event.time - cycle.due)} late (deadline {due}){noted}. The "
                "action was taken, but late: the breach stands.",
            )
        return "satisfied", f"Met in time: {what}, {lateness(event.time, cycle.due, due)}."
    if breached:
        return (
            "closed",
            f"Breached: the deadline {due} passed; the clock ended, still in breach, with {what}, "
            f"{format_duration(event.time - cycle.due)} after it. The breach stands.",
        )
    return "cleared", f"No longer needed: {what} ended the clock before the deadline {due}."


def _say(
    state: CaseState,
    rule: Rule,
    aid: str,
    context: Sent,
    status: AlertStatus,
    now: dt.datetime,
    reason: str,
    hindsight: str | None,
) -> Alert:
    """Build the alert and record it in the ledger with the next revision."""
    previous = state.ledger.get(aid)
    revision = (previous.revision if previous is not None else 0) + 1
    deadline = context.deadline
    if status not in ("firing", "updated") and previous is not None:
        deadline = previous.deadline  # a closing message speaks of the deadline it closes
    state.ledger[aid] = msgspec.structs.replace(context, status=status, revision=revision, deadline=deadline)
    kind = _kind(context.stage_name)
    note = f"{', '.join(rule.overridden)} set by force override {rule.override_source}" if rule.overridden else None
    immediate = rule.kind == "immediate"
    open_now = status in OPEN
    return Alert(
        alert_id=aid,
        revision=revision,
        status=status,
        stage=kind,
        stage_name=context.stage_name,
        severity=rule.severity_breach if kind == "breach" else rule.severity_warning,
        rule_id=rule.id,
        rule_version=context.rule_version,
        rule_title=rule.title,
        legal_basis=rule.legal_basis,
        local_standard=rule.is_local_standard,
        grade=rule.grade,
        domain=state.domain,
        case=state.case,
        area=_area(state.facts),
        clock_started_at=context.clock_started_at,
        deadline=deadline,
        stage_at=context.stage_at,
        raised_at=now,
        # How overdue only means something for an open deadline: never on an immediate rule
        # (nothing was due), a retraction (nothing was breached) or a closing.
        overdue_seconds=round((now - deadline).total_seconds(), 3) if open_now and not immediate else None,
        target="immediate" if immediate else rule.describe_target(),
        hindsight=hindsight is not None,
        hindsight_reason=hindsight,
        reason=reason,
        explanation=rule.explanation,
        action=rule.action if open_now else _NO_ACTION[status],
        policy_note=note,
        timeline=_timeline(state, rule, max(now, context.stage_at)),
    )


_NO_ACTION: Final[dict[str, str]] = {
    "satisfied": "None: the required action was recorded in time.",
    "cleared": "None: this deadline no longer runs.",
    "closed": "None now: the clock has ended. The breach stands on the record; review it with the custody record.",
    "retracted": "None: the complete records show this was not breached.",
}


def _timeline(state: CaseState, rule: Rule, until: dt.datetime) -> tuple[TimelineEntry, ...]:
    """The events that matter to this rule (and the case's first record, for context), in
    event-time order, each with when it was recorded and whether it was entered late."""
    relevant = rule.relevant_types
    first = state.events[0].id if state.events else None
    return tuple(
        TimelineEntry(e.id, e.type, e.time, e.recordedtime, e.late, event_label(e.type), event_detail(e))
        for e in state.events
        if e.time <= until and (e.type in relevant or e.id == first)
    )


_DETAILS: Final = ("reason", "mode", "outcome", "decision", "risk_level", "grade")
"""Closed-value data fields a person needs to read a timeline (a postponement's recorded
reason, a review's mode): contract enums only, never free text."""


def event_detail(event: StoredEvent) -> str | None:
    """A record's closed-value fields in words (a postponement's reason, a review's mode)."""
    parts = [str(event.data[k]).replace("_", " ") for k in _DETAILS if isinstance(event.data.get(k), str)]
    return ", ".join(parts) or None


def _hindsight(state: CaseState, stage: Stage, now: dt.datetime, zone: ZoneInfo) -> str | None:
    """Why a stage is raised well after it passed, or None if it is raised on time."""
    if now - stage.at <= HINDSIGHT_GRACE:
        return None
    late = [e for e in state.events if e.time <= stage.at and e.recordedtime > stage.at]
    if late:
        e = late[-1]
        return (
            f"raised in hindsight: the record of {event_label(e.type)} was entered at "
            f"{local_time(e.recordedtime, zone)}, after this {_kind(stage.name)} point had passed"
        )
    return (
        f"raised {format_duration(now - stage.at)} after its time: the monitor was not processing this case "
        "then (stopped, restarting or lagging)"
    )


def _kind(stage_name: str) -> Literal["warning", "breach"]:
    return "breach" if stage_name == "breach" else "warning"


def _describe(state: CaseState, event_id: str, zone: ZoneInfo) -> str:
    event = next((e for e in state.events if e.id == event_id), None)
    if event is None:
        return "an event"
    detail = event_detail(event)
    return f"{event_label(event.type)}{f' ({detail})' if detail else ''} at {local_time(event.time, zone)}"


def _firing_reason(
    state: CaseState, rule: Rule, clock: Clock, cycle: Cycle, stage: Stage, now: dt.datetime, zone: ZoneInfo
) -> str:
    start = next((event_label(e.type) for e in state.events if e.id == clock.instance), "the start event")
    began = f"{rule.title}: the clock started {local_time(clock.anchor, zone)} ({start})"
    if cycle.number and rule.kind == "chain":
        began += f"; deadline {cycle.number + 1} in the chain"
    elif cycle.number:
        began += "; deadline extended by a recorded authorisation"
    if clock.paused_total:
        began += f"; {format_duration(dt.timedelta(seconds=clock.paused_total))} paused"
    began += _noted(state, rule, clock, cycle, stage.at, zone)
    required = rule.step if rule.kind == "chain" else rule.stop  # a chain's stop ends the need, it is no review
    wanted = "; ".join(sorted({event_label(s.type) for s in required})) or "the required action"
    due = local_time(cycle.due, zone)
    if stage.name == "breach":
        target = rule.describe_target()
        breached = f"{began}. Breached: the deadline {due} ({target}) passed with none of these recorded: {wanted}."
        return f"{breached} {rule.on_breach}" if rule.on_breach else breached
    left = cycle.due - min(now, cycle.due)
    return f"{began}. Due at {due}, {format_duration(left)} from now; still to be recorded: {wanted}."


def _noted(state: CaseState, rule: Rule, clock: Clock, cycle: Cycle, until: dt.datetime, zone: ZoneInfo) -> str:
    """The records the rule notes (a review's postponement with its reason) since the cycle
    began, in words: what tells a lawful, recorded delay from a forgotten action."""
    if not rule.noted:
        return ""
    since = clock.anchor
    if rule.kind == "chain":  # this deadline's records only: after the last compliant step
        steps = {s.type for s in rule.step}
        since = max((e.time for e in state.events if e.type in steps and clock.anchor <= e.time < until), default=since)
    noted = [e for e in state.events if e.type in rule.noted and since <= e.time <= until]
    return "; recorded: " + "; ".join(_describe(state, e.id, zone) for e in noted) if noted else ""


def _retraction_reason(stage_name: str, stage_at: dt.datetime, trigger: StoredEvent | None, zone: ZoneInfo) -> str:
    if trigger is None:
        return "Retracted: the records no longer support this alert."
    return (
        f"Retracted: a record entered {local_time(trigger.recordedtime, zone)} shows "
        f"{event_label(trigger.type)} at {local_time(trigger.time, zone)}, so this {_kind(stage_name)} point "
        f"({local_time(stage_at, zone)}) was not reached on the complete records."
    )


def _area(facts: dict[str, Any]) -> str | None:
    for key in ("custody_suite", "area"):
        if isinstance(facts.get(key), str):
            return str(facts[key])
    return None
