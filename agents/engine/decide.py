"""Deciding: apply an event at its event time, let time run, and rebuild a case when a record
lands before something already decided.

Stage state is two flags: ``fired`` (its time has passed on a running clock, so an alert is
justified) and what the ledger says was sent. Deciding only ever sets ``fired``; ``emit``
turns the difference into alerts.

In-order events (at or after everything the case has seen and decided) are applied
incrementally: cheap, and the common case. An event that lands *before* something already
decided (an out-of-order record, or one entered after a stage it affects had fired) makes
the engine rebuild the case from its sorted events, simulating perfect monitoring up to
``now``; the emission diff then raises what was missed (in hindsight) and retracts what the
new record disproves. One set of rules serves both paths, so late data can never be treated
differently from on-time data.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

import msgspec

from agents.alert import Alert
from agents.engine.emit import emit, snapshot
from agents.engine.state import (
    DERIVED,
    EPOCH,
    MAX_EVENTS,
    RESOLUTION,
    SEPARATOR,
    CaseState,
    Clock,
    ClockStatus,
    Cycle,
    Immediate,
    Stage,
    StoredEvent,
    all_clocks,
)
from agents.policy import Extension, Policy, Rule, Selector, all_hold
from streams.contract import Event

_DIGEST_ENCODER: Final = msgspec.msgpack.Encoder(order="deterministic")


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
    if event.time >= latest:
        state.events.append(stored)
    else:
        bisect.insort_right(state.events, stored, key=lambda e: e.time)
    if len(state.events) > MAX_EVENTS:
        del state.events[0]
    forward_to = _forward_targets(state, policy, stored)
    in_order = event.time >= latest and event.time >= state.decided_until
    before = snapshot(state) if in_order else None  # a rebuild says everything afresh
    reopened = in_order and event.time == state.decided_until and _reopen_instant(state, event.time)
    if in_order and (event.time > state.decided_until or reopened):
        changed = reopened
        changed |= _advance(state, policy, min(event.time, decide))
        changed |= _apply(state, policy, stored)
        changed |= _advance(state, policy, decide)
        alerts = emit(state, policy, now, stored, before) if changed else []
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
        if clock.live:
            reopen += [s for s in clock.current.stages if s.fired and s.at == at]
        elif clock.status == "not_applicable" and clock.ended_at == at and clock.ended_by is None:
            return False
    for stage in reopen:
        stage.fired = False
    fired = [s.at for c in all_clocks(state) for cycle in c.cycles for s in cycle.stages if s.fired]
    settled = [c.fired_until for c in all_clocks(state) if c.settled]
    state.decided_until = max([*fired, *settled, *(record.at for record in state.immediates)], default=EPOCH)
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
        before = snapshot(state)
        if not _advance(state, policy, due):
            break
        alerts += emit(state, policy, now, None, before)
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
        if clock is None or not clock.live:
            if _starts(state, rule, clock, stored):
                _replace(state, clock, _start_clock(state, policy, rule, stored))
        else:
            _drive(state, policy, rule, clock, stored)
    return rechecked or bool(rules)


def _starts(state: CaseState, rule: Rule, clock: Clock | None, stored: StoredEvent) -> bool:
    """Whether ``stored`` starts the rule's clock (none yet, or the last one has ended)."""
    restartable = clock is None or stored.time >= (clock.ended_at or clock.anchor)
    return (
        restartable
        and _matches(rule.start, stored, state.facts, state)
        and rule.applies(state.facts)
        and not (rule.unless_recorded and _recorded(state, rule.unless_recorded, stored.time, stored.id))
        and not (rule.unless_in_place and _in_place(state, rule.unless_in_place, stored.time))
    )


def _drive(state: CaseState, policy: Policy, rule: Rule, clock: Clock, stored: StoredEvent) -> None:
    """What ``stored`` does to a live clock: stop, cancel, reset, step, pause, resume or extend it."""
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


def _is_keyed_copy(state: CaseState, policy: Policy, stored: StoredEvent) -> bool:
    fields = policy.key_fields.get(stored.type, ())
    return any(stored.data.get(name) == state.case for name in fields)


def _recheck_applicability(state: CaseState, policy: Policy, stored: StoredEvent) -> None:
    """A new fact (an age, a risk level) can rule a case out of a rule whose clock is running."""
    for clock in state.clocks.values():
        rule = policy.rule(clock.rule_id)
        if clock.live and rule is not None and not rule.applies(state.facts):
            clock.status, clock.ended_at, clock.ended_by = "not_applicable", stored.time, stored.id
            clock.current.ended_by = stored.id


def _replace(state: CaseState, old: Clock | None, new: Clock | None) -> None:
    """Make ``new`` the rule's current clock; keep ``old`` if any of its stages fired.
    (``new`` is None when this case gives the rule no deadline: the old clock stays as it ended.)"""
    if new is None:
        return
    if old is not None:
        old.cycles = _worth_keeping(old.cycles)
        if old.cycles or (old.settled and _spoken_of(state, old)):
            state.history.append(old)
    state.clocks[new.rule_id] = new


def _spoken_of(state: CaseState, clock: Clock) -> bool:
    """Whether the ledger holds anything said of this clock (a settled clock keeps no cycles)."""
    prefix = f"{clock.rule_id}{SEPARATOR}{clock.ordinal}#"
    return any(key.startswith(prefix) for key in state.ledger)


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
        state.immediates.append(Immediate(rule.id, rule.version, stored.id, stored.time, grounds))
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
    due = _time_field(stored, rule.due_field)
    if due is not None:  # the record sets it (a review time, the court's first sitting)
        return (due - anchor).total_seconds()
    if rule.deadline is not None:
        return (rule.deadline.due(policy.calendar, anchor) - anchor).total_seconds()
    if rule.kind == "chain":
        return rule.first.total_seconds() if rule.first is not None else None
    target = rule.target_for(state.facts)
    return target.total_seconds() if target is not None else None


def _start_clock(state: CaseState, policy: Policy, rule: Rule, stored: StoredEvent) -> Clock | None:
    anchor = _anchor(rule, stored)
    span = _first_span(state, policy, rule, stored, anchor)
    if span is None:
        return None
    previous = state.clocks.get(rule.id)  # the rule's latest clock: its ordinal counts the rule's clocks
    ordinal = previous.ordinal + 1 if previous is not None else 1
    clock = Clock(rule.id, rule.version, stored.id, ordinal, anchor, [])
    clock.cycles.append(_cycle(rule, clock, 0, 0.0, span))
    return clock


def _cycle(rule: Rule, clock: Clock, number: int, start_offset: float, due_offset: float) -> Cycle:
    stages = [
        Stage(name, start_offset + offset, EPOCH) for name, offset in rule.stage_seconds(due_offset - start_offset)
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
    clock.cycles.append(_cycle(rule, clock, current.number + 1, base, due))
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
    current.ended_by, current.extended = stored.id, True
    clock.cycles.append(_cycle(rule, clock, current.number + 1, 0.0, new_due))
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


# ============================================================================= rebuild
def _rebuild(
    state: CaseState, policy: Policy, decide: dt.datetime, now: dt.datetime, trigger: StoredEvent
) -> list[Alert]:
    """Re-decide the case from its sorted events; the ledger of what was said is kept, so the
    emission diff raises what was missed and retracts what the new record disproves."""
    fresh = replay_case(state, policy, decide)
    for name in DERIVED:
        setattr(state, name, getattr(fresh, name))
    return emit(state, policy, now, trigger)
