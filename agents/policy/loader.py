"""Loading policy: packs and force overrides from YAML, validated into the rule model.

Rule ids are unique across packs. A force overrides parameters (``OVERRIDABLE``) in its own
file and never edits a pack; every alert of an overridden rule names the file. Every load
error names the file, the rule and the field, and is raised as a ``PolicyError``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import msgspec
import yaml

from agents.calendar import Calendar, parse_holidays
from agents.durations import parse_duration
from agents.policy.model import (
    LOCAL_STANDARD,
    CalendarDeadline,
    Condition,
    Extension,
    Operator,
    Policy,
    Rule,
    Selector,
    WarningPoint,
)
from agents.policy.schema import (
    OVERRIDABLE,
    CalendarDeadlineSpec,
    CalendarSpec,
    ClockSpec,
    ConditionSpec,
    OverridesFile,
    PackFile,
    RuleSpec,
    SelectorArg,
)
from agents.vocabulary import Grade
from streams.contract import EVENT_TYPES, domain_of

PACKS_DIR: Final = Path(__file__).resolve().parents[1] / "packs"
"""The built-in packs, installed with the package: custody (PACE), protection (s.46), missing,
incidents, first_contact, investigations, offenders."""


def default_packs() -> tuple[Path, ...]:
    """The built-in packs, one per domain."""
    return tuple(sorted(PACKS_DIR.glob("*.yaml")))


class PolicyError(ValueError):
    """A policy file is invalid; the message names the file, the rule and the field."""


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


_OPERATORS: Final[tuple[tuple[Operator, str], ...]] = (
    ("eq", "eq"),
    ("ne", "ne"),
    ("lt", "lt"),
    ("le", "le"),
    ("gt", "gt"),
    ("ge", "ge"),
    ("in", "in_"),
    ("eq_fact", "eq_fact"),
)
"""(operator, the ConditionSpec field that gives it)."""
_SUBJECTS: Final = ("fact", "field", "recorded_before", "since_fact")
_ORDERING: Final = ("lt", "le", "gt", "ge")


class _RuleBuilder:
    """Turns one validated ``RuleSpec`` into a ``Rule``, with errors naming the right file."""

    def __init__(self, raw: RuleSpec, pack_path: str, field_files: Mapping[str, str]) -> None:
        self.raw, self.pack_path, self.field_files = raw, pack_path, field_files

    def fail(self, field_path: str, message: str) -> PolicyError:
        top = re.split(r"[.\[]", field_path, maxsplit=1)[0]
        return PolicyError(f"{_where(self.field_files.get(top, self.pack_path), self.raw.id, field_path)}: {message}")

    def conflict(self, first: str, second: str, message: str) -> PolicyError:
        """Two fields that cannot stand together: blame the one a force's file overrode, which is
        the one its author just edited, and say where the other comes from."""
        blamed, other = (
            (second, first) if second in self.field_files and first not in self.field_files else (first, second)
        )
        return self.fail(blamed, f"{message} ({other} from {self.field_files.get(other, self.pack_path)})")

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

    def condition(self, field_path: str, raw: ConditionSpec, *, event_only: bool = False) -> Condition:
        if raw.any is not None:
            return self._any(field_path, raw, event_only=event_only)
        ops = {name: getattr(raw, attr) for name, attr in _OPERATORS if getattr(raw, attr) is not msgspec.UNSET}
        if len(ops) != 1:
            raise self.fail(field_path, "each condition needs exactly one of eq, ne, lt, le, gt, ge, in, eq_fact")
        if sum(getattr(raw, n) is not None for n in _SUBJECTS) != 1:
            raise self.fail(field_path, "each condition names one of fact, field, recorded_before or since_fact")
        if event_only and raw.field is None:
            raise self.fail(field_path, "only conditions on the event's 'field' are allowed here")
        ((op, value),) = ops.items()
        if raw.recorded_before is not None or raw.since_fact is not None:
            return self._record_condition(field_path, raw, op, value)
        if isinstance(value, str) and op in _ORDERING:
            raise self.fail(f"{field_path}.{op}", "compares with a number")
        name = raw.field if raw.field is not None else raw.fact
        assert name is not None
        return Condition(name, op, value, on_event=raw.field is not None)

    def _any(self, field_path: str, raw: ConditionSpec, *, event_only: bool) -> Condition:
        if event_only or any(getattr(raw, n) is not None for n in _SUBJECTS):
            raise self.fail(field_path, "'any' stands alone: a list of conditions on case facts")
        assert raw.any is not None
        alternatives = tuple(self.condition(f"{field_path}.any[{i}]", c) for i, c in enumerate(raw.any))
        if len(alternatives) < 2 or any(c.on_event or c.op == "any" for c in alternatives):
            raise self.fail(f"{field_path}.any", "give at least two conditions on case facts")
        return Condition("any", "any", alternatives)

    def _record_condition(self, field_path: str, raw: ConditionSpec, op: Operator, value: Any) -> Condition:
        """A condition on what the case recorded around the event: ``#count`` or ``#since``."""
        if op not in _ORDERING:
            raise self.fail(field_path, "a record condition compares with lt, le, gt or ge")
        if raw.recorded_before is not None:
            if not isinstance(value, (int, float)):
                raise self.fail(f"{field_path}.{op}", "recorded_before compares with a number")
            counted = self.event_type(f"{field_path}.recorded_before", raw.recorded_before)
            return Condition(f"#count {counted}", op, value, on_event=True)
        span = self.duration(f"{field_path}.{op}", str(value), required=True)
        assert span is not None and raw.since_fact is not None
        return Condition(f"#since {raw.since_fact}", op, span.total_seconds(), on_event=True)

    def conditions(
        self, field_path: str, raws: list[ConditionSpec], *, event_only: bool = False
    ) -> tuple[Condition, ...]:
        return tuple(self.condition(f"{field_path}[{i}]", c, event_only=event_only) for i, c in enumerate(raws))

    def selectors(self, field_path: str, raws: list[SelectorArg]) -> tuple[Selector, ...]:
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

    def calendar_deadline(self, raw: CalendarDeadlineSpec) -> CalendarDeadline:
        kinds = ("next_school_day_start", "working_days", "window", "same_day_by")
        chosen = [n for n in kinds if getattr(raw, n) is not None]
        if len(chosen) != 1:
            raise self.fail("deadline", f"give exactly one of {', '.join(kinds)}")
        if raw.grace is not None and raw.window is None and raw.same_day_by is None:
            raise self.fail("deadline.grace", "only a window or same-day deadline has a grace")
        if raw.same_day_by is not None:
            return CalendarDeadline(
                same_day_by=self.wall_time("deadline.same_day_by", raw.same_day_by),
                grace=self.duration("deadline.grace", raw.grace) or dt.timedelta(0),
            )
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
        selectors = {
            name: self.selectors(f"clock.{name}", getattr(raw.clock, name))
            for name in ClockSpec.__struct_fields__
            if name != "void_pause_when"
        }
        common = self.common(source)
        if raw.kind == "immediate":
            return self.immediate(common, selectors)
        if raw.trigger:
            raise self.fail("trigger", "only immediate rules have a trigger; clocks use clock.start")
        if raw.threshold is not None or raw.key_field is not None:
            raise self.fail("kind", "threshold and key_field belong to immediate rules")
        common |= self.clock_common(selectors)
        if raw.kind == "chain":
            return self.chain(common, selectors)
        if selectors["step"]:
            raise self.fail("clock.step", "only chain rules have step events")
        if raw.due_field is not None and (raw.target is None or raw.deadline is not None or raw.target_by):
            raise self.fail("due_field", "a deadline taken from a field needs target, for a record without it")
        if (raw.target_by is None) != (not raw.targets):
            raise self.fail("target_by", "target_by and targets go together: the fact, and a target per value")
        if raw.target_by is not None:
            return self.per_value_target(common)
        return self.deadline(common, selectors)

    def grade(self) -> Grade:
        """The grade, checked against the legal basis: "local standard" and only it is local_standard."""
        raw = self.raw
        if not raw.legal_basis.strip():
            raise self.fail("legal_basis", f"state the legal basis, or {LOCAL_STANDARD!r}")
        local = raw.legal_basis.strip().lower().startswith(LOCAL_STANDARD)
        grade = raw.grade or ("local_standard" if local else None)
        if grade is None:
            raise self.fail("grade", "state the grade: statute, code_of_practice or guidance")
        if (grade == "local_standard") != local:
            raise self.fail("grade", f"a legal basis starting {LOCAL_STANDARD!r} is graded local_standard, and only it")
        return grade

    def common(self, source: str | None) -> dict[str, Any]:
        """The Rule fields every kind of rule has."""
        raw = self.raw
        return {
            "id": raw.id,
            "version": raw.version,
            "title": raw.title,
            "clock_title": raw.clock_title or raw.title,
            "domain": raw.domain,
            "kind": raw.kind,
            "legal_basis": raw.legal_basis.strip(),
            "grade": self.grade(),
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

    def immediate(self, common: dict[str, Any], selectors: Mapping[str, tuple[Selector, ...]]) -> Rule:
        raw = self.raw
        if not raw.trigger:
            raise self.fail("trigger", "an immediate rule needs the event(s) that break it")
        if any(selectors.values()) or raw.target or raw.deadline or raw.warnings:
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

    def clock_common(self, selectors: Mapping[str, tuple[Selector, ...]]) -> dict[str, Any]:
        """The Rule fields of every clock (deadline or chain)."""
        raw = self.raw
        if not selectors["start"]:
            raise self.fail("clock.start", "a clock needs at least one start event")
        fields: dict[str, Any] = {
            **{name: value for name, value in selectors.items() if name != "step"},
            "only_if_recorded": self.recorded("only_if_recorded", raw.only_if_recorded),
            "noted": self.recorded("noted", raw.noted),
            "unless_recorded": self.recorded("unless_recorded", raw.unless_recorded),
            "warnings": tuple(self.warning(i, w) for i, w in enumerate(raw.warnings)),
            "anchor_field": raw.anchor_field,
        }
        if raw.unless_in_place:
            if len(raw.unless_in_place) != 2:
                raise self.fail(
                    "unless_in_place",
                    "give [placed, removed]: the event that puts it in place, and the one that ends it",
                )
            placed, removed = (self.event_type(f"unless_in_place[{i}]", t) for i, t in enumerate(raw.unless_in_place))
            fields["unless_in_place"] = (placed, removed)
        return fields

    def chain(self, common: dict[str, Any], selectors: Mapping[str, tuple[Selector, ...]]) -> Rule:
        raw = self.raw
        if not selectors["step"]:
            raise self.fail("clock.step", "a chain needs the compliant action(s) that set the next deadline")
        if raw.target or raw.deadline or raw.extensions or selectors["pause"] or raw.targets:
            raise self.fail("kind", "a chain has first and interval, not target, deadline, extensions or pauses")
        fixed = raw.due_field is None
        return Rule(
            **common,
            step=selectors["step"],
            first=self.duration("first", raw.first, required=fixed),
            interval=self.duration("interval", raw.interval, required=fixed),
            due_field=raw.due_field,
        )

    def per_value_target(self, common: dict[str, Any]) -> Rule:
        """A clock whose elapsed target depends on a fact (an incident's grade)."""
        raw = self.raw
        if raw.deadline is not None:
            raise self.fail("target_by", "per-value targets are elapsed times, not a calendar deadline")
        targets = []
        for value, text in raw.targets.items():
            target = self.duration(f"targets.{value}", text, required=True)
            assert target is not None
            targets.append((value, target))
        return Rule(
            **common,
            target_by=raw.target_by,
            targets=tuple(targets),
            target=self.duration("target", raw.target),
        )

    def deadline(self, common: dict[str, Any], selectors: Mapping[str, tuple[Selector, ...]]) -> Rule:
        """A clock with one deadline: elapsed (``target``, pausable, extendable) or calendar."""
        raw = self.raw
        if (raw.target is None) == (raw.deadline is None):
            raise self.fail("target", "a deadline rule needs exactly one of target (elapsed) or deadline (calendar)")
        calendar = self.calendar_deadline(raw.deadline) if raw.deadline is not None else None
        if calendar is not None and (selectors["pause"] or raw.extensions):
            raise self.fail("deadline", "a calendar deadline cannot be paused or extended")
        if selectors["pause"] and not selectors["resume"]:
            raise self.fail("clock.resume", "a clock that can be paused needs resume events")
        target = self.duration("target", raw.target)
        maximum = self.duration("max", raw.max)
        if maximum is not None and target is not None and maximum < target:
            raise self.conflict("max", "target", f"the cap {raw.max} is shorter than the target {raw.target}")
        return Rule(
            **common,
            void_pause_when=self.conditions("clock.void_pause_when", raw.clock.void_pause_when, event_only=True),
            target=target,
            deadline=calendar,
            extensions=self.extensions(),
            max=maximum,
            due_field=raw.due_field,
        )

    def extensions(self) -> tuple[Extension, ...]:
        out = []
        for i, ext in enumerate(self.raw.extensions):
            where = f"extensions[{i}]"
            if (ext.target is None) == (ext.until_field is None):
                raise self.fail(where, "give exactly one of target or until_field")
            if ext.hours_field is not None and ext.target is None:
                raise self.fail(f"{where}.hours_field", "hours_field needs target, the most it may authorise")
            out.append(
                Extension(
                    Selector(self.event_type(f"{where}.type", ext.type), self.conditions(f"{where}.when", ext.when)),
                    target=self.duration(f"{where}.target", ext.target),
                    until_field=ext.until_field,
                    hours_field=ext.hours_field,
                )
            )
        return tuple(out)


def _build_rule(
    raw_rule: Mapping[str, Any], pack_path: str, field_files: Mapping[str, str], source: str | None
) -> Rule:
    rule_id = raw_rule.get("id") if isinstance(raw_rule.get("id"), str) else None
    try:
        raw = msgspec.convert(raw_rule, RuleSpec)
    except msgspec.ValidationError as exc:
        field_path, message = _field_of(exc)
        top = re.split(r"[.\[]", field_path, maxsplit=1)[0]
        raise PolicyError(f"{_where(field_files.get(top, pack_path), rule_id, field_path)}: {message}") from None
    return _RuleBuilder(raw, pack_path, field_files).build(source)


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as stream:  # a YAML error names the file, not <unicode string>
            return yaml.safe_load(stream)
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


def _calendar(raw: CalendarSpec, path: Path) -> Calendar:
    try:
        calendar = Calendar(raw.timezone, parse_holidays(raw.school_holidays))
        calendar.zone  # noqa: B018 - validates the zone name now, not at the first deadline
        return calendar
    except (ValueError, KeyError) as exc:
        raise PolicyError(f"{_where(str(path), None, 'calendar')}: {exc}") from None


@dataclass
class _Draft:
    """The rules as written, file by file, before any is built: overrides edit the raw rule."""

    raw_rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    rule_pack: dict[str, Path] = field(default_factory=dict)
    changed: dict[str, dict[str, str]] = field(default_factory=dict)
    """rule id -> field -> the file that set it."""
    source: dict[str, str] = field(default_factory=dict)
    """rule id -> the force and the file that overrode it."""
    sources: list[str] = field(default_factory=list)
    lateness: str = "15m"
    lateness_path: Path | None = None
    calendar_raw: CalendarSpec | None = None
    calendar_path: Path | None = None
    calendar: Calendar | None = None

    def read_pack(self, pack_path: Path) -> None:
        pack_file: PackFile = _decode_file(pack_path, PackFile)
        self.sources.append(str(pack_path))
        for i, raw in enumerate(pack_file.rules):
            rule_id = raw.get("id")
            if not isinstance(rule_id, str):
                raise PolicyError(f"{_where(str(pack_path), None, f'rules[{i}].id')}: every rule needs a string id")
            if rule_id in self.raw_rules:
                raise PolicyError(
                    f"{_where(str(pack_path), rule_id, 'id')}: duplicate rule id (also in {self.rule_pack[rule_id]})"
                )
            self.raw_rules[rule_id], self.rule_pack[rule_id] = dict(raw), pack_path
        if pack_file.allowed_lateness is not None:
            differs = pack_file.allowed_lateness != self.lateness
            if self.lateness_path != pack_path and self.lateness != "15m" and differs:
                raise PolicyError(
                    f"{_where(str(pack_path), None, 'allowed_lateness')}: differs from {self.lateness_path}"
                )
            self.lateness, self.lateness_path = pack_file.allowed_lateness, pack_path
        if pack_file.calendar is not None:
            if self.calendar_raw is not None and pack_file.calendar != self.calendar_raw:
                raise PolicyError(f"{_where(str(pack_path), None, 'calendar')}: differs from {self.calendar_path}")
            self.calendar_raw, self.calendar_path = pack_file.calendar, pack_path

    def read_overrides(self, override_path: Path) -> None:
        file: OverridesFile = _decode_file(override_path, OverridesFile)
        self.sources.append(str(override_path))
        if file.allowed_lateness is not None:
            self.lateness, self.lateness_path = file.allowed_lateness, override_path
        if file.calendar is not None:
            self.calendar = _calendar(file.calendar, override_path)
        for rule_id, fields in file.overrides.items():
            if rule_id not in self.raw_rules:
                raise PolicyError(f"{_where(str(override_path), rule_id, '')}: no such rule in the packs loaded")
            for name, value in fields.items():
                if name not in OVERRIDABLE:
                    raise PolicyError(
                        f"{_where(str(override_path), rule_id, name)}: cannot be overridden "
                        f"(overridable: {', '.join(sorted(OVERRIDABLE))})"
                    )
                self.raw_rules[rule_id][name] = value
                self.changed.setdefault(rule_id, {})[name] = str(override_path)
                self.source[rule_id] = f"{file.force} ({override_path.name})"

    def build(self) -> Policy:
        rules = tuple(
            _build_rule(raw, str(self.rule_pack[rule_id]), self.changed.get(rule_id, {}), self.source.get(rule_id))
            for rule_id, raw in self.raw_rules.items()
        )
        try:
            allowed_lateness = parse_duration(self.lateness)
        except ValueError as exc:
            raise PolicyError(f"{_where(str(self.lateness_path), None, 'allowed_lateness')}: {exc}") from None
        assert self.calendar is not None
        return Policy(
            rules=rules, allowed_lateness=allowed_lateness, calendar=self.calendar, sources=tuple(self.sources)
        )


def load_policy(packs: Path | str | Iterable[Path | str] | None = None, overrides: Iterable[Path | str] = ()) -> Policy:
    """Load one or more rule packs (default: the built-in ones) and apply force override files
    in order (later files win).

    Rule ids are unique across packs. A pack may set ``allowed_lateness`` and ``calendar``;
    two packs that set them differently are an error, since one worker has one calendar."""
    if packs is None:
        packs = default_packs()
    pack_paths = [Path(packs)] if isinstance(packs, (str, Path)) else [Path(p) for p in packs]
    if not pack_paths:
        raise PolicyError("no policy pack given")
    draft = _Draft(lateness_path=pack_paths[0])
    for pack_path in pack_paths:
        draft.read_pack(pack_path)
    draft.calendar = _calendar(draft.calendar_raw or CalendarSpec(), draft.calendar_path or pack_paths[0])
    for override_path in map(Path, overrides):
        draft.read_overrides(override_path)
    return draft.build()
