"""The policy file schema: what a pack or a force's override file may say, as msgspec structs.

Decoding a file into these structs checks its shape (unknown fields are errors, every value
has its type); ``loader.py`` then checks what the shape cannot say (durations, event types,
which fields go together) and builds the rule model (``model.py``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import msgspec

from agents.vocabulary import Grade, RuleKind, Severity
from streams.contract import Domain


class ConditionSpec(msgspec.Struct, forbid_unknown_fields=True):
    fact: str | None = None
    field: str | None = None
    recorded_before: str | None = None
    """An event type: how many of them the case recorded at or before the event (the event
    itself not counted). PACE s.42(4)(b): no extension before the second review."""
    any: list[ConditionSpec] | None = None
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


class SelectorSpec(msgspec.Struct, forbid_unknown_fields=True):
    type: str
    when: list[ConditionSpec] = []


SelectorArg = str | SelectorSpec


class ClockSpec(msgspec.Struct, forbid_unknown_fields=True):
    start: list[SelectorArg] = []
    stop: list[SelectorArg] = []
    cancel: list[SelectorArg] = []
    pause: list[SelectorArg] = []
    resume: list[SelectorArg] = []
    reset: list[SelectorArg] = []
    step: list[SelectorArg] = []
    void_pause_when: list[ConditionSpec] = []
    """Conditions on the resume event's data under which the pause does not count
    (PACE s.41(6): hospital time counts if the detainee was questioned there)."""


class ExtensionSpec(msgspec.Struct, forbid_unknown_fields=True):
    type: str
    when: list[ConditionSpec] = []
    target: str | None = None
    until_field: str | None = None
    hours_field: str | None = None
    """With ``target``: the event's field giving the hours authorised, capped at ``target``
    (a superintendent may authorise less than 36 hours)."""


class CalendarDeadlineSpec(msgspec.Struct, forbid_unknown_fields=True):
    next_school_day_start: str | None = None
    working_days: int | None = None
    window: list[str] | None = None
    same_day_by: str | None = None
    """By this local time on the day the clock starts ("the same day" in local procedures)."""
    grace: str | None = None
    """Window deadlines: the clock must have run this long before the window counts. Same-day
    deadlines: the least time given, for a clock that starts late in the day."""


class ThresholdSpec(msgspec.Struct, forbid_unknown_fields=True):
    count: int
    within: str


class SeveritySpec(msgspec.Struct, forbid_unknown_fields=True):
    warning: Severity = "medium"
    breach: Severity = "high"


class RuleSpec(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    version: int
    title: str
    domain: Domain
    legal_basis: str
    explanation: str
    action: str
    grade: Grade | None = None
    """Required unless the legal basis starts "local standard" (then it is local_standard)."""
    clock_title: str | None = None
    """What a running clock of this rule is, in words that are not an alarm ("Next detention
    review due", where the title says what a breach is): the console's clocks. Default: the title."""
    kind: RuleKind = "deadline"
    clock: ClockSpec = msgspec.field(default_factory=ClockSpec)
    trigger: list[SelectorArg] = []
    """Immediate rules: the event(s) that break the rule. (Not ``on``: YAML reads that as true.)"""
    target: str | None = None
    deadline: CalendarDeadlineSpec | None = None
    first: str | None = None
    interval: str | None = None
    anchor_field: str | None = None
    extensions: list[ExtensionSpec] = []
    max: str | None = None
    applies_when: list[ConditionSpec] = []
    warnings: list[str] = []
    severity: SeveritySpec = msgspec.field(default_factory=SeveritySpec)
    enabled: bool = True
    target_by: str | None = None
    """A case fact whose value picks the target from ``targets`` (an incident's grade)."""
    targets: dict[str, str] = {}
    due_field: str | None = None
    """Chains: the start or step event's data field that holds the next deadline (a set review
    time). Deadline clocks: the start event's field that holds the deadline (the court's first
    sitting), with ``target`` where the record does not give it."""
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
    threshold: ThresholdSpec | None = None
    """Immediate rules: break only when this many trigger events fall within the window."""
    key_field: str | None = None
    """Evaluate the rule in the case named by this data field (a child across missing episodes)."""
    on_breach: str | None = None
    """What the breach means, said in every breach of this rule ("detention beyond this point
    is unlawful"): a title is shared by warnings and breach, so it cannot say it."""


class CalendarSpec(msgspec.Struct, forbid_unknown_fields=True):
    timezone: str = "Europe/London"
    school_holidays: list[tuple[dt.date, dt.date]] = []


class PackFile(msgspec.Struct, forbid_unknown_fields=True):
    pack: str
    rules: list[dict[str, Any]]
    description: str = ""
    allowed_lateness: str | None = None
    calendar: CalendarSpec | None = None


class OverridesFile(msgspec.Struct, forbid_unknown_fields=True):
    force: str
    overrides: dict[str, dict[str, Any]] = {}
    allowed_lateness: str | None = None
    calendar: CalendarSpec | None = None


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
