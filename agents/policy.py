"""The policy language: rules as YAML data, validated on load, overridable per force.

Three kinds of rule:

``deadline``
    A clock. It is started, stopped (satisfied), cancelled, paused, resumed or reset by
    events. Its target is either elapsed time (``target: 2h``, measured in real hours and
    paused only for the named reasons the rule lists) or a calendar deadline (``deadline:``
    next school day, working days, a local-time window). A recorded authorisation can
    extend it (``extensions``), never beyond ``max``.
``chain``
    Deadlines set from the time of the last compliant action. The first is due ``first``
    after the anchor. Each ``step`` event at time t sets the next to min(t, the deadline it
    met) + ``interval``, so an early review brings the next one forward and a late or
    postponed one keeps the original schedule (PACE s.40).
``immediate``
    An event alone breaks the rule: a child's review by telephone, a review while asleep.

Every rule has an id and version, a title, a domain, ``applies_when`` on case facts,
warnings (percentages of the span, ``-30m`` before the deadline, ``+2h`` after the start),
a severity per stage, a legal basis (or "local standard"), an explanation and an action.
A force overrides parameters in its own file; the pack is never edited. Every load error
names the file, the rule and the field.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import msgspec
import yaml

from agents.calendar import Calendar, parse_holidays
from agents.durations import format_duration, parse_duration
from streams.contract import EVENT_TYPES, Domain, domain_of, event_label

Severity = Literal["info", "low", "medium", "high", "critical"]
Grade = Literal["statute", "code_of_practice", "guidance", "local_standard"]
"""How binding the rule's basis is: an Act; a statutory Code of Practice (PACE Code C); published
guidance (statutory guidance, APP, a Home Office circular, Code C's notes for guidance); or a
local standard, a threshold no national text fixes."""
RuleKind = Literal["deadline", "chain", "immediate"]
LOCAL_STANDARD: Final = "local standard"
PACKS_DIR: Final = Path(__file__).with_name("packs")
DEFAULT_PACKS: Final = tuple(sorted(PACKS_DIR.glob("*.yaml")))
"""The built-in packs, one per domain: custody (PACE), protection (s.46), missing, incidents."""


class PolicyError(ValueError):
    """A policy file is invalid; the message names the file, the rule and the field."""


# ============================================================================= file schema
class _Condition(msgspec.Struct, forbid_unknown_fields=True):
    fact: str | None = None
    field: str | None = None
    recorded_before: str | None = None
    """An event type: how many of them the case recorded at or before the event (the event
    itself not counted). PACE s.42(4)(b): no extension before the second review."""
    any: list[_Condition] | None = None
    """Holds if any of these facts is known and holds; if none of them is known, it holds (an
    unknown must not silence a clock). Code C 1.5: a child is under 18 *or appears to be*."""
    since_fact: str | None = None
    """A case fact holding a time: how long before the event it was, compared with a duration
    (``gt: 24h``). PACE s.42(4)(a): no extension more than 24 hours after the relevant time."""
    eq: Any = msgspec.UNSET
    ne: Any = msgspec.UNSET
    lt: float | str | msgspec.UnsetType = msgspec.UNSET
    le: float | str | msgspec.UnsetType = msgspec.UNSET
    gt: float | str | msgspec.UnsetType = msgspec.UNSET
    ge: float | str | msgspec.UnsetType = msgspec.UNSET
    in_: list[Any] | msgspec.UnsetType = msgspec.field(default=msgspec.UNSET, name="in")
    eq_fact: str | msgspec.UnsetType = msgspec.UNSET
    """The value equals another case fact (the designated officer is the initiating officer)."""


class _Selector(msgspec.Struct, forbid_unknown_fields=True):
    type: str
    when: list[_Condition] = []


_SelectorArg = str | _Selector


class _Clock(msgspec.Struct, forbid_unknown_fields=True):
    start: list[_SelectorArg] = []
    stop: list[_SelectorArg] = []
    cancel: list[_SelectorArg] = []
    pause: list[_SelectorArg] = []
    resume: list[_SelectorArg] = []
    reset: list[_SelectorArg] = []
    step: list[_SelectorArg] = []
    void_pause_when: list[_Condition] = []
    """Conditions on the resume event's data under which the pause does not count
    (PACE s.41(6): hospital time counts if the detainee was questioned there)."""


class _Extension(msgspec.Struct, forbid_unknown_fields=True):
    type: str
    when: list[_Condition] = []
    target: str | None = None
    until_field: str | None = None
    hours_field: str | None = None
    """With ``target``: the event's field giving the hours authorised, capped at ``target``
    (a superintendent may authorise less than 36 hours)."""


class _CalendarDeadline(msgspec.Struct, forbid_unknown_fields=True):
    next_school_day_start: str | None = None
    working_days: int | None = None
    window: list[str] | None = None
    grace: str | None = None
    """Window deadlines only: the clock must have run this long before the window counts."""


class _Threshold(msgspec.Struct, forbid_unknown_fields=True):
    count: int
    within: str


class _Severity(msgspec.Struct, forbid_unknown_fields=True):
    warning: Severity = "medium"
    breach: Severity = "high"


class _RuleFile(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    version: int
    title: str
    domain: Domain
    legal_basis: str
    explanation: str
    action: str
    grade: Grade | None = None
    """Required unless the legal basis starts "local standard" (then it is local_standard)."""
    kind: RuleKind = "deadline"
    clock: _Clock = msgspec.field(default_factory=_Clock)
    trigger: list[_SelectorArg] = []
    """Immediate rules: the event(s) that break the rule. (Not ``on``: YAML reads that as true.)"""
    target: str | None = None
    deadline: _CalendarDeadline | None = None
    first: str | None = None
    interval: str | None = None
    anchor_field: str | None = None
    extensions: list[_Extension] = []
    max: str | None = None
    applies_when: list[_Condition] = []
    warnings: list[str] = []
    severity: _Severity = msgspec.field(default_factory=_Severity)
    enabled: bool = True
    target_by: str | None = None
    """A case fact whose value picks the target from ``targets`` (an incident's grade)."""
    targets: dict[str, str] = {}
    due_field: str | None = None
    """Chains: the start or step event's data field that holds the next deadline (a set review time)."""
    unless_recorded: list[str] = []
    """The trigger does not break the rule, or the clock does not start, if one of these was
    recorded at or before it (a PPN before closing; a resource deployed before the risk rose)."""
    only_if_recorded: list[str] = []
    """Clock rules: stages fire only in cases that recorded one of these by then (rest, where recorded)."""
    unless_in_place: list[str] = []
    """Clock rules: [placed, removed]. The clock does not start while the latest of these two
    recorded at or before the start is ``placed`` (a supervisor assigned and not stood down)."""
    noted: list[str] = []
    """Records that explain the clock without changing it (a review's lawful postponement):
    shown in the timeline and named in the alert's reason."""
    threshold: _Threshold | None = None
    """Immediate rules: break only when this many trigger events fall within the window."""
    key_field: str | None = None
    """Evaluate the rule in the case named by this data field (a child across missing episodes)."""
    on_breach: str | None = None
    """What the breach means, said in every breach of this rule ("detention beyond this point
    is unlawful"): a title is shared by warnings and breach, so it cannot say it."""


class _CalendarFile(msgspec.Struct, forbid_unknown_fields=True):
    timezone: str = "Europe/London"
    school_holidays: list[tuple[dt.date, dt.date]] = []


class _PackFile(msgspec.Struct, forbid_unknown_fields=True):
    pack: str
    rules: list[dict[str, Any]]
    description: str = ""
    allowed_lateness: str | None = None
    calendar: _CalendarFile | None = None


class _OverridesFile(msgspec.Struct, forbid_unknown_fields=True):
    force: str
    overrides: dict[str, dict[str, Any]] = {}
    allowed_lateness: str | None = None
    calendar: _CalendarFile | None = None


OVERRIDABLE: Final = frozenset(
    {
        "target",
        "deadline",
        "first",
        "interval",
        "max",
        "warnings",
        "severity",
        "applies_when",
        "enabled",
        "legal_basis",
        "action",
        "targets",
        "threshold",
    }
)


# ============================================================================= loaded model
@dataclass(frozen=True, slots=True)
class Condition:
    """One test on a case fact or on the triggering event's data.

    A fact the case does not (yet) have counts as satisfied: an unknown age must not silence
    a child's clock (prefer a duplicate to a miss). A missing event field does not."""

    name: str
    op: Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "eq_fact", "any"]
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
        try:
            match self.op:
                case "eq":
                    return bool(actual == self.value)
                case "eq_fact":  # no such fact: not known to be the same, so it does not hold
                    other = (facts if facts is not None else values).get(self.value)
                    return other is not None and bool(actual == other)
                case "ne":
                    return bool(actual != self.value)
                case "lt":
                    return bool(actual < self.value)
                case "le":
                    return bool(actual <= self.value)
                case "gt":
                    return bool(actual > self.value)
                case "ge":
                    return bool(actual >= self.value)
                case "in":
                    return actual in self.value
        except TypeError:
            return not self.on_event
        return True  # pragma: no cover - every op is matched above


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
    grace: dt.timedelta = dt.timedelta(0)

    def due(self, calendar: Calendar, start: dt.datetime) -> dt.datetime:
        if self.next_school_day_start is not None:
            return calendar.next_school_day_start(start, self.next_school_day_start)
        if self.working_days is not None:
            return calendar.add_working_days(start, self.working_days)
        assert self.window is not None
        return calendar.window_start(start + self.grace, *self.window)

    def describe(self) -> str:
        if self.next_school_day_start is not None:
            return f"before the next school day starts ({self.next_school_day_start:%H:%M})"
        if self.working_days is not None:
            return f"within {self.working_days} working day{'s' if self.working_days != 1 else ''}"
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

    def stage_offsets(self, span: dt.timedelta) -> list[tuple[str, dt.timedelta]]:
        """(stage name, offset from the span's start) in time order, the breach last at ``span``.
        Warnings at or past the deadline are dropped: the breach supersedes them."""
        points = sorted({o for w in self.warnings if dt.timedelta(0) <= (o := w.offset(span)) < span})
        return [*((f"warning-{i + 1}", p) for i, p in enumerate(points)), ("breach", span)]

    def describe_target(self) -> str:
        if self.deadline is not None:
            return self.deadline.describe()
        if self.kind == "chain" and self.due_field is not None:
            return f"by the time each record sets in {self.due_field}"
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


# ============================================================================= loading
_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)%$")
_MSGSPEC_PATH = re.compile(r" - at `\$(.*)`$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def _field_of(exc: Exception) -> tuple[str, str]:
    """Split a msgspec error into (field path, message)."""
    message = str(exc)
    found = _MSGSPEC_PATH.search(message)
    if not found:
        return "", message
    return found.group(1).lstrip("."), message[: found.start()]


def _where(path: str, rule_id: str | None, field_path: str) -> str:
    where = path
    if rule_id:
        where += f": rule {rule_id!r}"
    if field_path:
        where += f": field {field_path!r}"
    return where


class _RuleBuilder:
    """Turns one validated ``_RuleFile`` into a ``Rule``, with errors naming the right file."""

    def __init__(self, raw: _RuleFile, pack_path: str, field_files: Mapping[str, str]) -> None:
        self.raw, self.pack_path, self.field_files = raw, pack_path, field_files

    def fail(self, field_path: str, message: str) -> PolicyError:
        top = re.split(r"[.\[]", field_path, maxsplit=1)[0]
        return PolicyError(f"{_where(self.field_files.get(top, self.pack_path), self.raw.id, field_path)}: {message}")

    def duration(self, field_path: str, text: str | None, *, required: bool = False) -> dt.timedelta | None:
        if text is None:
            if required:
                raise self.fail(field_path, f"a {self.raw.kind} rule needs {field_path}")
            return None
        try:
            value = parse_duration(text)
        except ValueError as exc:
            raise self.fail(field_path, str(exc)) from None
        if value <= dt.timedelta(0):
            raise self.fail(field_path, "must be longer than zero")
        return value

    def event_type(self, field_path: str, event_type: str) -> str:
        if event_type not in EVENT_TYPES:
            raise self.fail(field_path, f"unknown event type {event_type!r}")
        if domain_of(event_type) != self.raw.domain:
            raise self.fail(field_path, f"{event_type!r} is not a {self.raw.domain} event")
        return event_type

    def condition(self, field_path: str, raw: _Condition, *, event_only: bool = False) -> Condition:
        if raw.any is not None:
            if event_only or any(
                getattr(raw, n) is not None for n in ("fact", "field", "recorded_before", "since_fact")
            ):
                raise self.fail(field_path, "'any' stands alone: a list of conditions on case facts")
            alternatives = tuple(self.condition(f"{field_path}.any[{i}]", c) for i, c in enumerate(raw.any))
            if len(alternatives) < 2 or any(c.on_event or c.op == "any" for c in alternatives):
                raise self.fail(f"{field_path}.any", "give at least two conditions on case facts")
            return Condition("any", "any", alternatives)
        ops = {
            name: value
            for name, value in (
                ("eq", raw.eq),
                ("ne", raw.ne),
                ("lt", raw.lt),
                ("le", raw.le),
                ("gt", raw.gt),
                ("ge", raw.ge),
                ("in", raw.in_),
                ("eq_fact", raw.eq_fact),
            )
            if value is not msgspec.UNSET
        }
        if len(ops) != 1:
            raise self.fail(field_path, "each condition needs exactly one of eq, ne, lt, le, gt, ge, in, eq_fact")
        subjects = [n for n in ("fact", "field", "recorded_before", "since_fact") if getattr(raw, n) is not None]
        if len(subjects) != 1:
            raise self.fail(field_path, "each condition names one of fact, field, recorded_before or since_fact")
        if event_only and raw.field is None:
            raise self.fail(field_path, "only conditions on the event's 'field' are allowed here")
        ((op, value),) = ops.items()
        if raw.recorded_before is not None or raw.since_fact is not None:
            if op not in ("lt", "le", "gt", "ge"):
                raise self.fail(field_path, "a record condition compares with lt, le, gt or ge")
            if raw.recorded_before is not None:
                if not isinstance(value, (int, float)):
                    raise self.fail(f"{field_path}.{op}", "recorded_before compares with a number")
                counted = self.event_type(f"{field_path}.recorded_before", raw.recorded_before)
                return Condition(f"#count {counted}", op, value, on_event=True)  # type: ignore[arg-type]
            span = self.duration(f"{field_path}.{op}", str(value), required=True)
            assert span is not None and raw.since_fact is not None
            return Condition(f"#since {raw.since_fact}", op, span.total_seconds(), on_event=True)  # type: ignore[arg-type]
        if isinstance(value, str) and op in ("lt", "le", "gt", "ge"):
            raise self.fail(f"{field_path}.{op}", "compares with a number")
        name = raw.field if raw.field is not None else raw.fact
        assert name is not None
        return Condition(name, op, value, on_event=raw.field is not None)  # type: ignore[arg-type]

    def conditions(self, field_path: str, raws: list[_Condition], *, event_only: bool = False) -> tuple[Condition, ...]:
        return tuple(self.condition(f"{field_path}[{i}]", c, event_only=event_only) for i, c in enumerate(raws))

    def selectors(self, field_path: str, raws: list[_SelectorArg]) -> tuple[Selector, ...]:
        out = []
        for i, raw in enumerate(raws):
            where = f"{field_path}[{i}]"
            if isinstance(raw, str):
                out.append(Selector(self.event_type(where, raw)))
            else:
                out.append(
                    Selector(self.event_type(f"{where}.type", raw.type), self.conditions(f"{where}.when", raw.when))
                )
        return tuple(out)

    def recorded(self, field_path: str, types: list[str]) -> frozenset[str]:
        return frozenset(self.event_type(f"{field_path}[{i}]", t) for i, t in enumerate(types))

    def parameters(self) -> tuple[tuple[str, str], ...]:
        """The overridable parameters as written, for the generated rule reference."""
        raw, out = self.raw, []
        for name in ("target", "first", "interval", "max"):
            if getattr(raw, name) is not None:
                out.append((name, str(getattr(raw, name))))
        if raw.targets:
            out.append(("targets", ", ".join(f"{k}: {v}" for k, v in raw.targets.items())))
        if raw.deadline is not None:
            text = ", ".join(f"{k}: {v}" for k, v in msgspec.structs.asdict(raw.deadline).items() if v is not None)
            out.append(("deadline", text))
        if raw.warnings:
            out.append(("warnings", ", ".join(raw.warnings)))
        if raw.threshold is not None:
            out.append(("threshold", f"{raw.threshold.count} within {raw.threshold.within}"))
        if raw.kind == "immediate":  # no warning stage: never show one
            out.append(("severity", f"breach {raw.severity.breach}"))
        else:
            out.append(("severity", f"warning {raw.severity.warning}, breach {raw.severity.breach}"))
        return tuple(out)

    def warning(self, index: int, text: str) -> WarningPoint:
        text = str(text).strip()
        try:
            if m := _PERCENT.match(text):
                fraction = float(m.group(1)) / 100
                if not 0 < fraction < 1:
                    raise ValueError("a percentage warning must be between 0% and 100%")
                return WarningPoint(text, fraction=fraction)
            if text.startswith("-"):
                return WarningPoint(text, before_deadline=parse_duration(text[1:]))
            return WarningPoint(text, after_start=parse_duration(text.removeprefix("+")))
        except ValueError as exc:
            raise self.fail(f"warnings[{index}]", str(exc)) from None

    def wall_time(self, field_path: str, text: str) -> dt.time:
        m = _HHMM.match(text)
        if not m:
            raise self.fail(field_path, f"not a local time {text!r} (use HH:MM)")
        return dt.time(int(m.group(1)), int(m.group(2)))

    def calendar_deadline(self, raw: _CalendarDeadline) -> CalendarDeadline:
        chosen = [n for n in ("next_school_day_start", "working_days", "window") if getattr(raw, n) is not None]
        if len(chosen) != 1:
            raise self.fail("deadline", "give exactly one of next_school_day_start, working_days, window")
        if raw.grace is not None and raw.window is None:
            raise self.fail("deadline.grace", "only a window deadline has a grace")
        if raw.next_school_day_start is not None:
            return CalendarDeadline(
                next_school_day_start=self.wall_time("deadline.next_school_day_start", raw.next_school_day_start)
            )
        if raw.working_days is not None:
            if raw.working_days < 1:
                raise self.fail("deadline.working_days", "must be at least 1")
            return CalendarDeadline(working_days=raw.working_days)
        assert raw.window is not None
        if len(raw.window) != 2:
            raise self.fail("deadline.window", "give [start, end] as local HH:MM times")
        return CalendarDeadline(
            window=(
                self.wall_time("deadline.window[0]", raw.window[0]),
                self.wall_time("deadline.window[1]", raw.window[1]),
            ),
            grace=self.duration("deadline.grace", raw.grace) or dt.timedelta(0),
        )

    def build(self, source: str | None) -> Rule:
        raw = self.raw
        if not raw.legal_basis.strip():
            raise self.fail("legal_basis", f"state the legal basis, or {LOCAL_STANDARD!r}")
        local = raw.legal_basis.strip().lower().startswith(LOCAL_STANDARD)
        grade = raw.grade or ("local_standard" if local else None)
        if grade is None:
            raise self.fail("grade", "state the grade: statute, code_of_practice or guidance")
        if (grade == "local_standard") != local:
            raise self.fail("grade", f"a legal basis starting {LOCAL_STANDARD!r} is graded local_standard, and only it")
        clock = raw.clock
        sel = {
            name: self.selectors(f"clock.{name}", getattr(clock, name))
            for name in _Clock.__struct_fields__
            if name != "void_pause_when"
        }
        common: dict[str, Any] = {
            "id": raw.id,
            "version": raw.version,
            "title": raw.title,
            "domain": raw.domain,
            "kind": raw.kind,
            "legal_basis": raw.legal_basis.strip(),
            "grade": grade,
            "explanation": " ".join(raw.explanation.split()),
            "action": " ".join(raw.action.split()),
            "severity_warning": raw.severity.warning,
            "severity_breach": raw.severity.breach,
            "applies_when": self.conditions("applies_when", raw.applies_when),
            "enabled": raw.enabled,
            "overridden": tuple(self.field_files),
            "override_source": source,
            "key_field": raw.key_field,
            "on_breach": " ".join(raw.on_breach.split()) if raw.on_breach else None,
            "parameters": self.parameters(),
        }
        if raw.kind == "immediate":
            if not raw.trigger:
                raise self.fail("trigger", "an immediate rule needs the event(s) that break it")
            if any(getattr(clock, n) for n in sel) or raw.target or raw.deadline or raw.warnings:
                raise self.fail("kind", "an immediate rule has no clock, target or warnings")
            if raw.only_if_recorded:
                raise self.fail("only_if_recorded", "an immediate rule uses unless_recorded")
            threshold = None
            if raw.threshold is not None:
                if raw.threshold.count < 2:
                    raise self.fail("threshold.count", "must be at least 2 (one event needs no threshold)")
                within = self.duration("threshold.within", raw.threshold.within, required=True)
                assert within is not None
                threshold = (raw.threshold.count, within)
            return Rule(
                **common,
                trigger=self.selectors("trigger", raw.trigger),
                unless_recorded=self.recorded("unless_recorded", raw.unless_recorded),
                threshold=threshold,
            )
        if raw.trigger:
            raise self.fail("trigger", "only immediate rules have a trigger; clocks use clock.start")
        if raw.threshold is not None or raw.key_field is not None:
            raise self.fail("kind", "threshold and key_field belong to immediate rules")
        common["only_if_recorded"] = self.recorded("only_if_recorded", raw.only_if_recorded)
        common["noted"] = self.recorded("noted", raw.noted)
        if raw.unless_in_place:
            if len(raw.unless_in_place) != 2:
                raise self.fail(
                    "unless_in_place",
                    "give [placed, removed]: the event that puts it in place, and the one that ends it",
                )
            placed, removed = (self.event_type(f"unless_in_place[{i}]", t) for i, t in enumerate(raw.unless_in_place))
            common["unless_in_place"] = (placed, removed)
        common["unless_recorded"] = self.recorded("unless_recorded", raw.unless_recorded)
        if not sel["start"]:
            raise self.fail("clock.start", "a clock needs at least one start event")
        warnings = tuple(self.warning(i, w) for i, w in enumerate(raw.warnings))
        clock_fields: dict[str, Any] = {
            **{k: v for k, v in sel.items() if k != "step"},
            "warnings": warnings,
            "anchor_field": raw.anchor_field,
        }
        if raw.kind == "chain":
            if not sel["step"]:
                raise self.fail("clock.step", "a chain needs the compliant action(s) that set the next deadline")
            if raw.target or raw.deadline or raw.extensions or sel["pause"] or raw.targets:
                raise self.fail("kind", "a chain has first and interval, not target, deadline, extensions or pauses")
            fixed = raw.due_field is None
            return Rule(
                **common,
                **clock_fields,
                step=sel["step"],
                first=self.duration("first", raw.first, required=fixed),
                interval=self.duration("interval", raw.interval, required=fixed),
                due_field=raw.due_field,
            )
        if sel["step"]:
            raise self.fail("clock.step", "only chain rules have step events")
        if raw.due_field is not None:
            raise self.fail("due_field", "only chain rules take their deadlines from a field")
        targets = tuple(
            (value, self.duration(f"targets.{value}", t, required=True)) for value, t in raw.targets.items()
        )
        if (raw.target_by is None) != (not raw.targets):
            raise self.fail("target_by", "target_by and targets go together: the fact, and a target per value")
        if raw.target_by is not None:
            if raw.deadline is not None:
                raise self.fail("target_by", "per-value targets are elapsed times, not a calendar deadline")
            return Rule(
                **common,
                **clock_fields,
                target_by=raw.target_by,
                targets=targets,  # type: ignore[arg-type]
                target=self.duration("target", raw.target),
            )
        if (raw.target is None) == (raw.deadline is None):
            raise self.fail("target", "a deadline rule needs exactly one of target (elapsed) or deadline (calendar)")
        calendar = self.calendar_deadline(raw.deadline) if raw.deadline is not None else None
        if calendar is not None and (sel["pause"] or raw.extensions):
            raise self.fail("deadline", "a calendar deadline cannot be paused or extended")
        if sel["pause"] and not sel["resume"]:
            raise self.fail("clock.resume", "a clock that can be paused needs resume events")
        extensions = []
        for i, ext in enumerate(raw.extensions):
            where = f"extensions[{i}]"
            if (ext.target is None) == (ext.until_field is None):
                raise self.fail(where, "give exactly one of target or until_field")
            if ext.hours_field is not None and ext.target is None:
                raise self.fail(f"{where}.hours_field", "hours_field needs target, the most it may authorise")
            extensions.append(
                Extension(
                    Selector(self.event_type(f"{where}.type", ext.type), self.conditions(f"{where}.when", ext.when)),
                    target=self.duration(f"{where}.target", ext.target),
                    until_field=ext.until_field,
                    hours_field=ext.hours_field,
                )
            )
        target = self.duration("target", raw.target)
        maximum = self.duration("max", raw.max)
        if maximum is not None and target is not None and maximum < target:
            raise self.fail("max", "the cap is shorter than the target")
        return Rule(
            **common,
            **clock_fields,
            void_pause_when=self.conditions("clock.void_pause_when", clock.void_pause_when, event_only=True),
            target=target,
            deadline=calendar,
            extensions=tuple(extensions),
            max=maximum,
        )


def _build_rule(
    raw_rule: Mapping[str, Any], pack_path: str, field_files: Mapping[str, str], source: str | None
) -> Rule:
    rule_id = raw_rule.get("id") if isinstance(raw_rule.get("id"), str) else None
    try:
        raw = msgspec.convert(raw_rule, _RuleFile)
    except msgspec.ValidationError as exc:
        field_path, message = _field_of(exc)
        top = re.split(r"[.\[]", field_path, maxsplit=1)[0]
        raise PolicyError(f"{_where(field_files.get(top, pack_path), rule_id, field_path)}: {message}") from None
    return _RuleBuilder(raw, pack_path, field_files).build(source)


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML: {exc}") from None


def _decode_file(path: Path, schema: type[msgspec.Struct]) -> Any:
    try:
        return msgspec.convert(_read_yaml(path), schema)
    except msgspec.ValidationError as exc:
        field_path, message = _field_of(exc)
        raise PolicyError(f"{_where(str(path), None, field_path)}: {message}") from None


def _calendar(raw: _CalendarFile, path: Path) -> Calendar:
    try:
        calendar = Calendar(raw.timezone, parse_holidays(raw.school_holidays))
        calendar.zone  # noqa: B018 - validates the zone name now, not at the first deadline
        return calendar
    except (ValueError, KeyError) as exc:
        raise PolicyError(f"{_where(str(path), None, 'calendar')}: {exc}") from None


def load_policy(
    packs: Path | str | Iterable[Path | str] = DEFAULT_PACKS, overrides: Iterable[Path | str] = ()
) -> Policy:
    """Load one or more rule packs and apply force override files in order (later files win).

    Rule ids are unique across packs. A pack may set ``allowed_lateness`` and ``calendar``;
    two packs that set them differently are an error, since one worker has one calendar."""
    pack_paths = [Path(packs)] if isinstance(packs, (str, Path)) else [Path(p) for p in packs]
    if not pack_paths:
        raise PolicyError("no policy pack given")
    raw_rules: dict[str, dict[str, Any]] = {}
    rule_pack: dict[str, Path] = {}
    changed: dict[str, dict[str, str]] = {}  # rule id -> field -> file that set it
    source: dict[str, str] = {}
    lateness, lateness_path = "15m", pack_paths[0]
    calendar_raw: _CalendarFile | None = None
    calendar_path = pack_paths[0]
    for pack_path in pack_paths:
        pack_file: _PackFile = _decode_file(pack_path, _PackFile)
        for i, raw in enumerate(pack_file.rules):
            rule_id = raw.get("id")
            if not isinstance(rule_id, str):
                raise PolicyError(f"{_where(str(pack_path), None, f'rules[{i}].id')}: every rule needs a string id")
            if rule_id in raw_rules:
                raise PolicyError(
                    f"{_where(str(pack_path), rule_id, 'id')}: duplicate rule id (also in {rule_pack[rule_id]})"
                )
            raw_rules[rule_id], rule_pack[rule_id] = dict(raw), pack_path
        if pack_file.allowed_lateness is not None:
            if lateness_path != pack_path and lateness != "15m" and pack_file.allowed_lateness != lateness:
                raise PolicyError(f"{_where(str(pack_path), None, 'allowed_lateness')}: differs from {lateness_path}")
            lateness, lateness_path = pack_file.allowed_lateness, pack_path
        if pack_file.calendar is not None:
            if calendar_raw is not None and pack_file.calendar != calendar_raw:
                raise PolicyError(f"{_where(str(pack_path), None, 'calendar')}: differs from {calendar_path}")
            calendar_raw, calendar_path = pack_file.calendar, pack_path
    calendar = _calendar(calendar_raw or _CalendarFile(), calendar_path)
    sources = [str(p) for p in pack_paths]
    for override_path in map(Path, overrides):
        file: _OverridesFile = _decode_file(override_path, _OverridesFile)
        sources.append(str(override_path))
        if file.allowed_lateness is not None:
            lateness, lateness_path = file.allowed_lateness, override_path
        if file.calendar is not None:
            calendar = _calendar(file.calendar, override_path)
        for rule_id, fields in file.overrides.items():
            if rule_id not in raw_rules:
                raise PolicyError(f"{_where(str(override_path), rule_id, '')}: no such rule in the packs loaded")
            for name, value in fields.items():
                if name not in OVERRIDABLE:
                    raise PolicyError(
                        f"{_where(str(override_path), rule_id, name)}: cannot be overridden "
                        f"(overridable: {', '.join(sorted(OVERRIDABLE))})"
                    )
                raw_rules[rule_id][name] = value
                changed.setdefault(rule_id, {})[name] = str(override_path)
                source[rule_id] = f"{file.force} ({override_path.name})"
    rules = tuple(
        _build_rule(raw, str(rule_pack[rule_id]), changed.get(rule_id, {}), source.get(rule_id))
        for rule_id, raw in raw_rules.items()
    )
    try:
        allowed_lateness = parse_duration(lateness)
    except ValueError as exc:
        raise PolicyError(f"{_where(str(lateness_path), None, 'allowed_lateness')}: {exc}") from None
    return Policy(rules=rules, allowed_lateness=allowed_lateness, calendar=calendar, sources=tuple(sources))


def load_policy_from_env(environ: Mapping[str, str] = os.environ) -> Policy:
    """``WATCHKEEPER_POLICY`` (pack files) and ``WATCHKEEPER_POLICY_OVERRIDES`` (files), each ``:``-separated."""
    packs = [p for p in environ.get("WATCHKEEPER_POLICY", "").split(os.pathsep) if p] or DEFAULT_PACKS
    overrides = [p for p in environ.get("WATCHKEEPER_POLICY_OVERRIDES", "").split(os.pathsep) if p]
    return load_policy(packs, overrides)
