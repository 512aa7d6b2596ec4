"""The loaded rule model: rules as the engine reads them, built and checked by ``loader.py``.

Everything here is immutable and precomputed where the engine asks often: a policy indexes
its rules by event type, and knows which facts any rule's ``applies_when`` reads.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from agents.calendar import Calendar
from agents.durations import format_duration
from agents.vocabulary import Grade, RuleKind, Severity
from streams.contract import Domain, event_label

MEMO_SPANS: Final = 64
"""Distinct spans a rule remembers its stage offsets for (``Rule.stage_seconds``)."""
LOCAL_STANDARD: Final = "local standard"
"""How a legal basis begins when no national text fixes the threshold."""

Operator = Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "eq_fact", "any"]
_COMPARE: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
    "in": lambda actual, allowed: actual in allowed,
}


@dataclass(frozen=True, slots=True)
class Condition:
    """One test on a case fact or on the triggering event's data.

    A fact the case does not (yet) have counts as satisfied: an unknown age must not silence
    a child's clock (prefer a duplicate to a miss). A missing event field does not."""

    name: str
    op: Operator
    value: Any
    """For ``any``: the alternative conditions, a tuple of Condition."""
    on_event: bool = False

    @property
    def on_record(self) -> bool:
        """Read off the case's record around the event (``#count``, ``#since``), not its data."""
        return self.name.startswith("#")

    def describe(self) -> str:
        """The condition in words, for an alert that says why a record breaks a rule."""
        if self.op == "any":
            return "(" + " or ".join(c.describe() for c in self.value) + ")"
        words = {"eq": "is", "ne": "is not", "lt": "fewer than", "le": "at most", "gt": "more than", "ge": "at least"}
        op = words.get(self.op, self.op)
        if self.name.startswith("#count "):
            count = int(self.value) if float(self.value).is_integer() else self.value
            return f"{op} {count} {event_label(self.name[7:])} record(s) before it"
        if self.name.startswith("#since "):
            since = format_duration(dt.timedelta(seconds=self.value))
            return f"given {op} {since} after the {self.name[7:].replace('_', ' ')}"
        values = [v for v in self.value if v is not None] if self.op == "in" else [self.value]
        shown = ", ".join(str(v).replace("_", " ") for v in values)
        return f"{self.name.replace('_', ' ')} {'one of' if self.op == 'in' else op} {shown}"

    def holds(self, values: Mapping[str, Any], facts: Mapping[str, Any] | None = None) -> bool:
        if self.op == "any":
            known = [c for c in self.value if values.get(c.name) is not None]
            return not known or any(c.holds(values, facts) for c in known)
        if self.name not in values:
            return not self.on_event
        actual = values[self.name]
        if self.op == "eq_fact":  # no such fact: not known to be the same, so it does not hold
            other = (facts if facts is not None else values).get(self.value)
            return other is not None and bool(actual == other)
        try:
            return bool(_COMPARE[self.op](actual, self.value))
        except TypeError:  # a value of another type than the rule compares with
            return not self.on_event


def all_hold(conditions: Iterable[Condition], facts: Mapping[str, Any], data: Mapping[str, Any]) -> bool:
    return all(c.holds(data, facts) if c.on_event else c.holds(facts) for c in conditions)


@dataclass(frozen=True, slots=True)
class Selector:
    """An event type, optionally narrowed by conditions on its data."""

    type: str
    when: tuple[Condition, ...] = ()
    on_record: bool = field(init=False, default=False)
    """Some condition reads the case's record around the event: worked out once here, not on
    every match of every event."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "on_record", any(c.on_record for c in self.when))

    def matches(self, event_type: str, facts: Mapping[str, Any], data: Mapping[str, Any]) -> bool:
        return event_type == self.type and all_hold(self.when, facts, data)


@dataclass(frozen=True, slots=True)
class WarningPoint:
    """A warning before the deadline: a share of the span (``75%``), an offset before the
    deadline (``-30m``) or an offset after the span starts (``+2h``)."""

    text: str
    fraction: float | None = None
    before_deadline: dt.timedelta | None = None
    after_start: dt.timedelta | None = None

    def offset(self, span: dt.timedelta) -> dt.timedelta:
        if self.fraction is not None:
            return span * self.fraction
        if self.before_deadline is not None:
            return span - self.before_deadline
        assert self.after_start is not None
        return self.after_start


@dataclass(frozen=True, slots=True)
class Extension:
    """A recorded authorisation that moves the deadline later: to ``target`` after the anchor,
    or to the absolute time in the event's ``until_field``."""

    selector: Selector
    target: dt.timedelta | None = None
    until_field: str | None = None
    hours_field: str | None = None


@dataclass(frozen=True, slots=True)
class CalendarDeadline:
    next_school_day_start: dt.time | None = None
    working_days: int | None = None
    window: tuple[dt.time, dt.time] | None = None
    same_day_by: dt.time | None = None
    grace: dt.timedelta = dt.timedelta(0)

    def due(self, calendar: Calendar, start: dt.datetime) -> dt.datetime:
        if self.next_school_day_start is not None:
            return calendar.next_school_day_start(start, self.next_school_day_start)
        if self.working_days is not None:
            return calendar.add_working_days(start, self.working_days)
        if self.same_day_by is not None:
            return calendar.same_day_by(start, self.same_day_by, self.grace)
        assert self.window is not None
        return calendar.window_start(start + self.grace, *self.window)

    def describe(self) -> str:
        if self.next_school_day_start is not None:
            return f"before the next school day starts ({self.next_school_day_start:%H:%M})"
        if self.working_days is not None:
            return f"within {self.working_days} working day{'s' if self.working_days != 1 else ''}"
        if self.same_day_by is not None:
            least = f", and at least {format_duration(self.grace)}" if self.grace else ""
            return f"the same day, by {self.same_day_by:%H:%M} local time{least}"
        assert self.window is not None
        grace = f", after {format_duration(self.grace)}" if self.grace else ""
        return f"inside the local window {self.window[0]:%H:%M}–{self.window[1]:%H:%M}{grace}"


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    version: int
    title: str
    domain: Domain
    kind: RuleKind
    legal_basis: str
    explanation: str
    action: str
    grade: Grade = "local_standard"
    clock_title: str = ""
    """A running clock, in words that are not an alarm; the title where the pack gives none."""
    severity_warning: Severity = "medium"
    severity_breach: Severity = "high"
    applies_when: tuple[Condition, ...] = ()
    start: tuple[Selector, ...] = ()
    stop: tuple[Selector, ...] = ()
    cancel: tuple[Selector, ...] = ()
    pause: tuple[Selector, ...] = ()
    resume: tuple[Selector, ...] = ()
    reset: tuple[Selector, ...] = ()
    step: tuple[Selector, ...] = ()
    trigger: tuple[Selector, ...] = ()
    void_pause_when: tuple[Condition, ...] = ()
    target: dt.timedelta | None = None
    deadline: CalendarDeadline | None = None
    first: dt.timedelta | None = None
    interval: dt.timedelta | None = None
    anchor_field: str | None = None
    extensions: tuple[Extension, ...] = ()
    max: dt.timedelta | None = None
    warnings: tuple[WarningPoint, ...] = ()
    enabled: bool = True
    target_by: str | None = None
    targets: tuple[tuple[str, dt.timedelta], ...] = ()
    due_field: str | None = None
    unless_recorded: frozenset[str] = frozenset()
    only_if_recorded: frozenset[str] = frozenset()
    noted: frozenset[str] = frozenset()
    unless_in_place: tuple[str, str] | None = None
    threshold: tuple[int, dt.timedelta] | None = None
    key_field: str | None = None
    on_breach: str | None = None
    parameters: tuple[tuple[str, str], ...] = ()
    """(name, value as written) of every overridable parameter: for docs/rules.md."""
    overridden: tuple[str, ...] = ()
    """Fields a force file changed: shown in every alert of this rule, with the file."""
    override_source: str | None = None
    _memo: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)
    """Answers the engine asks for on every clock (stage offsets per span, the types a timeline
    shows), worked out once: the rule is immutable, so they never change."""

    @property
    def is_local_standard(self) -> bool:
        return self.legal_basis.strip().lower().startswith(LOCAL_STANDARD)

    def applies(self, facts: Mapping[str, Any]) -> bool:
        return all(c.holds(facts) for c in self.applies_when)

    def target_for(self, facts: Mapping[str, Any]) -> dt.timedelta | None:
        """The elapsed target for this case: a per-value target (``targets``) or ``target``."""
        if self.target_by is not None:
            return dict(self.targets).get(str(facts.get(self.target_by)), self.target)
        return self.target

    @property
    def required(self) -> tuple[Selector, ...]:
        """The action(s) that meet the deadline: a chain's steps (its stop ends the need for
        them, it is no review), any other clock's stop."""
        return self.step if self.kind == "chain" else self.stop

    def event_types(self) -> set[str]:
        selectors = (
            *self.start,
            *self.stop,
            *self.cancel,
            *self.pause,
            *self.resume,
            *self.reset,
            *self.step,
            *self.trigger,
        )
        return {s.type for s in selectors} | {e.selector.type for e in self.extensions}

    @property
    def relevant_types(self) -> frozenset[str]:
        """Every event type this rule reads: what an alert's timeline shows."""
        known: frozenset[str] | None = self._memo.get("relevant_types")
        if known is None:
            known = self._memo["relevant_types"] = self._relevant_types()
        return known

    def _relevant_types(self) -> frozenset[str]:
        in_place = frozenset(self.unless_in_place or ())
        selectors = (*self.start, *self.stop, *self.step, *self.trigger, *(e.selector for e in self.extensions))
        counted = {c.name[7:] for s in selectors for c in s.when if c.name.startswith("#count ")}
        return (
            frozenset(self.event_types())
            | self.unless_recorded
            | self.only_if_recorded
            | self.noted
            | in_place
            | counted
        )

    def stage_seconds(self, span: float) -> tuple[tuple[str, float], ...]:
        """(stage name, seconds from the span's start) in time order, the breach last at ``span``.
        Warnings at or past the deadline are dropped: the breach supersedes them. Most clocks of a
        rule share a few spans (a fixed target): those are worked out once; spans set by records
        or the calendar vary per case, so only the first ``MEMO_SPANS`` distinct ones are kept."""
        key = ("stages", span)
        known: tuple[tuple[str, float], ...] | None = self._memo.get(key)
        if known is None:
            whole = dt.timedelta(seconds=span)
            points = sorted({o for w in self.warnings if dt.timedelta(0) <= (o := w.offset(whole)) < whole})
            known = (*((f"warning-{i + 1}", p.total_seconds()) for i, p in enumerate(points)), ("breach", span))
            if len(self._memo) < MEMO_SPANS:
                self._memo[key] = known
        return known

    def describe_target(self) -> str:
        if self.deadline is not None:
            return self.deadline.describe()
        if self.kind == "chain" and self.due_field is not None:
            return f"by the time each record sets in {self.due_field}"
        if self.due_field is not None and self.target is not None:
            when = self.due_field.removesuffix("_at").replace("_", " ")
            return f"by the {when} the record gives, else {format_duration(self.target)}"
        if self.kind == "chain":
            assert self.first is not None and self.interval is not None
            return f"first within {format_duration(self.first)}, then every {format_duration(self.interval)}"
        if self.target_by is not None:
            per = ", ".join(f"{value} {format_duration(t)}" for value, t in self.targets)
            return f"by {self.target_by}: {per}"
        if self.target is not None:
            return format_duration(self.target)
        if self.threshold is not None:
            count, within = self.threshold
            days = within / dt.timedelta(days=1)
            return (
                f"{count} within {int(days)} days" if days.is_integer() else f"{count} within {format_duration(within)}"
            )
        return "immediate"


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    allowed_lateness: dt.timedelta = dt.timedelta(minutes=15)
    """An entry recorded longer than this after it happened is a late entry: flagged in every
    timeline and counted. It is still applied at its event time, however late."""
    calendar: Calendar = field(default_factory=Calendar)
    sources: tuple[str, ...] = ()
    _by_type: dict[str, tuple[Rule, ...]] = field(default_factory=dict, repr=False, compare=False)
    _by_id: dict[str, Rule] = field(default_factory=dict, repr=False, compare=False)
    fact_names: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    """Every fact some rule's applies_when reads: an event carrying one re-checks running clocks."""
    key_fields: dict[str, frozenset[str]] = field(default_factory=dict, repr=False, compare=False)
    """Event type -> data fields naming another case it must also be applied to (``key_field``)."""

    def __post_init__(self) -> None:
        index: dict[str, list[Rule]] = {}
        for rule in self.rules:
            if rule.enabled:
                for event_type in rule.event_types():
                    index.setdefault(event_type, []).append(rule)
        self._by_type.update({k: tuple(v) for k, v in index.items()})
        self._by_id.update({rule.id: rule for rule in self.rules})
        names = frozenset(c.name for rule in self.rules for c in rule.applies_when)
        object.__setattr__(self, "fact_names", names)
        for rule in self.rules:
            if rule.enabled and rule.key_field is not None:
                for event_type in rule.event_types():
                    self.key_fields[event_type] = self.key_fields.get(event_type, frozenset()) | {rule.key_field}

    def rules_for(self, event_type: str) -> tuple[Rule, ...]:
        """The enabled rules this event type can affect."""
        return self._by_type.get(event_type, ())

    def rule(self, rule_id: str) -> Rule | None:
        return self._by_id.get(rule_id)
