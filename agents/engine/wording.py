"""The words of every alert: reasons, closings, hindsight notes, timelines. Pure.

Every time a person reads goes through ``local_time``: London local time (the policy's zone)
with the zone shown, so one alert never mixes UTC and BST. Event types are said in plain
words (``streams.contract.event_label``), with their closed-value details (a review's mode, a
postponement's reason); nothing here echoes free text from input.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Final, Literal
from zoneinfo import ZoneInfo

from agents.alert import TimelineEntry
from agents.durations import format_duration
from agents.engine.state import CaseState, Clock, Cycle, Immediate, Stage, StoredEvent, find_event, stage_kind
from agents.policy import Rule
from agents.vocabulary import AlertStatus
from streams.contract import event_label

HINDSIGHT_GRACE: Final = dt.timedelta(minutes=1)
"""A stage raised more than this after it passed was missed live; the alert says why."""

Ending = Literal["extended", "ruled_out", "action", "ended"]
"""How a deadline stopped being live: a recorded authorisation moved it; facts ruled the case
out of the rule; the required action was recorded; or something else ended the clock."""

NO_ACTION: Final[dict[AlertStatus, str]] = {
    "satisfied": "None: the required action was recorded in time.",
    "cleared": "None: this deadline no longer runs.",
    "closed": "None now: the clock has ended. The breach stands on the record; review it with the custody record.",
    "retracted": "None: the complete records show this was not breached.",
    "superseded": "Act on the later alert of this deadline: it replaces this one.",
}
"""What to do now, for an alert that is over: nothing, and why."""

_DETAILS: Final = ("reason", "mode", "outcome", "decision", "risk_level", "grade")
"""Closed-value data fields a person needs to read a timeline (a postponement's recorded
reason, a review's mode): contract enums only, never free text."""


# ----------------------------------------------------------------------------- time
@functools.lru_cache(maxsize=4096)
def local_time(instant: dt.datetime, zone: ZoneInfo) -> str:
    """``Sun 31 Oct 2021 01:30 GMT``; seconds only when they are not zero. Remembered: an alert
    and its later messages say the same few instants (anchor, deadline, stage) again."""
    local = instant.astimezone(zone)
    clock = "%H:%M:%S" if local.second or local.microsecond else "%H:%M"
    return local.strftime(f"%a %d %b %Y {clock} %Z")


def lateness(at: dt.datetime, deadline: dt.datetime, deadline_text: str) -> str:
    """How ``at`` stands against a "not later than" deadline, in words."""
    if at == deadline:
        return f"at the deadline instant {deadline_text}, which is in time (not later than the deadline)"
    if at < deadline:
        return f"{format_duration(deadline - at)} before the deadline {deadline_text}"
    return f"{format_duration(at - deadline)} after the deadline {deadline_text}"


# ----------------------------------------------------------------------------- records
def event_detail(event: StoredEvent) -> str | None:
    """A record's closed-value fields in words (a postponement's reason, a review's mode)."""
    parts = [str(event.data[k]).replace("_", " ") for k in _DETAILS if isinstance(event.data.get(k), str)]
    return ", ".join(parts) or None


def describe(state: CaseState, event_id: str, zone: ZoneInfo) -> str:
    """``detention review (telephone) at Sat 21 Nov 2026 16:00 GMT``."""
    event = find_event(state, event_id)
    if event is None:
        return "an event"
    detail = event_detail(event)
    return f"{event_label(event.type)}{f' ({detail})' if detail else ''} at {local_time(event.time, zone)}"


def timeline(state: CaseState, rule: Rule, until: dt.datetime) -> tuple[TimelineEntry, ...]:
    """The events that matter to this rule (and the case's first record, for context), in
    event-time order, each with when it was recorded and whether it was entered late."""
    relevant = rule.relevant_types
    first = state.events[0].id if state.events else None
    return tuple(
        TimelineEntry(e.id, e.type, e.time, e.recordedtime, e.late, event_label(e.type), event_detail(e))
        for e in state.events
        if e.time <= until and (e.type in relevant or e.id == first)
    )


def noted(state: CaseState, rule: Rule, clock: Clock, until: dt.datetime, zone: ZoneInfo) -> str:
    """The records the rule notes (a review's postponement with its reason) since the cycle
    began, in words: what tells a lawful, recorded delay from a forgotten action."""
    if not rule.noted:
        return ""
    since = clock.anchor
    if rule.kind == "chain":  # this deadline's records only: after the last compliant step
        steps = {s.type for s in rule.step}
        since = max((e.time for e in state.events if e.type in steps and clock.anchor <= e.time < until), default=since)
    records = [e for e in state.events if e.type in rule.noted and since <= e.time <= until]
    return "; recorded: " + "; ".join(describe(state, e.id, zone) for e in records) if records else ""


def override_note(rule: Rule) -> str | None:
    """Which of the rule's parameters a force's file set, and which file: said in every alert."""
    if not rule.overridden:
        return None
    return f"{', '.join(rule.overridden)} set by force override {rule.override_source}"


# ----------------------------------------------------------------------------- reasons
def firing_reason(
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
    began += noted(state, rule, clock, stage.at, zone)
    wanted = "; ".join(sorted({event_label(s.type) for s in rule.required})) or "the required action"
    due = local_time(cycle.due, zone)
    if stage.name == "breach":
        target = rule.describe_target()
        breached = f"{began}. Breached: the deadline {due} ({target}) passed with none of these recorded: {wanted}."
        return f"{breached} {rule.on_breach}" if rule.on_breach else breached
    left = cycle.due - min(now, cycle.due)
    return f"{began}. Due at {due}, {format_duration(left)} from now; still to be recorded: {wanted}."


def immediate_reason(state: CaseState, rule: Rule, record: Immediate, zone: ZoneInfo) -> str:
    reason = f"{rule.title}: {describe(state, record.event_id, zone)}"
    return reason + (f" ({record.grounds})." if record.grounds else ".")


def moved_reason(
    state: CaseState, before: dt.datetime, after: dt.datetime, trigger: StoredEvent | None, zone: ZoneInfo
) -> str:
    reason = f"Deadline moved from {local_time(before, zone)} to {local_time(after, zone)}"
    if trigger is not None:
        reason += f" by the record of {describe(state, trigger.id, zone)}"
    return reason + "."


def superseded_reason(later: str, at: dt.datetime, zone: ZoneInfo) -> str:
    """Why a warning gave way: the same deadline's later stage, at its time."""
    kind = stage_kind(later)
    return f"Superseded: this deadline's {kind} was raised at {local_time(at, zone)}; that alert carries it on."


def retraction_reason(stage_name: str, stage_at: dt.datetime, trigger: StoredEvent | None, zone: ZoneInfo) -> str:
    if trigger is None:
        return "Retracted: the records no longer support this alert."
    return (
        f"Retracted: a record entered {local_time(trigger.recordedtime, zone)} shows "
        f"{event_label(trigger.type)} at {local_time(trigger.time, zone)}, so this {stage_kind(stage_name)} point "
        f"({local_time(stage_at, zone)}) was not reached on the complete records."
    )


def hindsight(state: CaseState, stage: Stage, now: dt.datetime, zone: ZoneInfo) -> str | None:
    """Why a stage is raised well after it passed, or None if it is raised on time."""
    if now - stage.at <= HINDSIGHT_GRACE:
        return None
    late = [e for e in state.events if e.time <= stage.at and e.recordedtime > stage.at]
    if late:
        e = late[-1]
        return (
            f"raised in hindsight: the record of {event_label(e.type)} was entered at "
            f"{local_time(e.recordedtime, zone)}, after this {stage_kind(stage.name)} point had passed"
        )
    return (
        f"raised {format_duration(now - stage.at)} after its time: the monitor was not processing this case "
        "then (stopped, restarting or lagging)"
    )


def closing_reason(
    state: CaseState,
    rule: Rule,
    clock: Clock,
    cycle: Cycle,
    ending: Ending,
    event: StoredEvent | None,
    breached: bool,
    zone: ZoneInfo,
) -> str:
    """How a deadline that is no longer live ended, in words: a breach says it stands."""
    due = local_time(cycle.due, zone)
    if ending == "extended":
        moved_to = local_time(clock.current.due, zone)
        if breached:
            return (
                f"Breached: the deadline {due} passed. An authorisation recorded since sets the next limit at "
                f"{moved_to}; it cannot undo the breach, which stands."
            )
        return f"Extended before it passed: a recorded authorisation moved the deadline {due} to {moved_to}."
    if ending == "ruled_out":
        since = local_time(clock.ended_at, zone) if clock.ended_at else "then"
        if breached:
            return (
                f"Breached: the deadline {due} passed; facts recorded {since} rule this case out of the rule "
                "from then on. The breach stands."
            )
        return f"No longer applies: facts recorded {since} rule this case out, before the deadline {due}."
    assert event is not None
    what = describe(state, event.id, zone)
    if ending == "action":
        if breached:
            recorded = noted(state, rule, clock, event.time, zone)
            return (
                f"Breached: {what}, {format_duration(event.time - cycle.due)} late (deadline {due}){recorded}. The "
                "action was taken, but late: the breach stands."
            )
        return f"Met in time: {what}, {lateness(event.time, cycle.due, due)}."
    if breached:
        return (
            f"Breached: the deadline {due} passed; the clock ended, still in breach, with {what}, "
            f"{format_duration(event.time - cycle.due)} after it. The breach stands."
        )
    return f"No longer needed: {what} ended the clock before the deadline {due}."
