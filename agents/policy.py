"""The policy language: rules as YAML data, validated on load, overridable per force.

A rule says which clock runs for which cases (``applies_when`` on case facts), what starts,
stops and cancels it, its target, the warning points before the target, and how an alert
explains itself (legal basis or "local standard", explanation, action). Thresholds the law
does not fix are labelled ``legal_basis: local standard`` and are what a force overrides in
its own file, so the pack itself is never edited.

Every load error names the file, the rule and the field.
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

from agents.durations import parse_duration
from streams.contract import DOMAINS, EVENT_TYPES, Domain, domain_of

Severity = Literal["info", "low", "medium", "high", "critical"]
LOCAL_STANDARD: Final = "local standard"
DEFAULT_PACK: Final = Path(__file__).with_name("packs") / "default.yaml"


class PolicyError(ValueError):
    """A policy file is invalid; the message names the file, the rule and the field."""


# ----------------------------------------------------------------------------- file schema
class _Condition(msgspec.Struct, forbid_unknown_fields=True):
    fact: str
    eq: Any = msgspec.UNSET
    ne: Any = msgspec.UNSET
    lt: float | msgspec.UnsetType = msgspec.UNSET
    le: float | msgspec.UnsetType = msgspec.UNSET
    gt: float | msgspec.UnsetType = msgspec.UNSET
    ge: float | msgspec.UnsetType = msgspec.UNSET
    in_: list[Any] | msgspec.UnsetType = msgspec.field(default=msgspec.UNSET, name="in")


class _Clock(msgspec.Struct, forbid_unknown_fields=True):
    start: list[str]
    stop: list[str] = []
    cancel: list[str] = []


class _Severity(msgspec.Struct, forbid_unknown_fields=True):
    warning: Severity = "medium"
    breach: Severity = "high"


class _RuleFile(msgspec.Struct, forbid_unknown_fields=True):
    id: str
    version: int
    title: str
    domain: Domain
    clock: _Clock
    target: str
    legal_basis: str
    explanation: str
    action: str
    applies_when: list[_Condition] = []
    warnings: list[str] = []
    severity: _Severity = msgspec.field(default_factory=_Severity)
    enabled: bool = True


class _PackFile(msgspec.Struct, forbid_unknown_fields=True):
    pack: str
    rules: list[dict[str, Any]]
    late_entry_threshold: str = "15m"


class _OverridesFile(msgspec.Struct, forbid_unknown_fields=True):
    force: str
    overrides: dict[str, dict[str, Any]] = {}
    late_entry_threshold: str | None = None


OVERRIDABLE: Final = frozenset({"target", "warnings", "severity", "applies_when", "enabled", "legal_basis", "action"})


# ----------------------------------------------------------------------------- loaded model
@dataclass(frozen=True, slots=True)
class Condition:
    """One test on a case fact. A fact the case does not (yet) have counts as satisfied:
    an unknown age must not silence a child's clock (prefer a duplicate to a miss)."""

    fact: str
    op: Literal["eq", "ne", "lt", "le", "gt", "ge", "in"]
    value: Any

    def holds(self, facts: Mapping[str, Any]) -> bool:
        if self.fact not in facts:
            return True
        actual = facts[self.fact]
        try:
            match self.op:
                case "eq":
                    return bool(actual == self.value)
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
            return True
        return True  # pragma: no cover - every op is matched above


@dataclass(frozen=True, slots=True)
class WarningPoint:
    """A warning before the target: a share of it (``75%``), an offset before the deadline
    (``-30m``) or an offset after the clock starts (``+2h``)."""

    text: str
    fraction: float | None = None
    before_deadline: dt.timedelta | None = None
    after_start: dt.timedelta | None = None

    def offset_from_start(self, target: dt.timedelta) -> dt.timedelta:
        if self.fraction is not None:
            return target * self.fraction
        if self.before_deadline is not None:
            return target - self.before_deadline
        assert self.after_start is not None
        return self.after_start


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    version: int
    title: str
    domain: Domain
    start: frozenset[str]
    stop: frozenset[str]
    cancel: frozenset[str]
    target: dt.timedelta
    warnings: tuple[WarningPoint, ...]
    severity_warning: Severity
    severity_breach: Severity
    legal_basis: str
    explanation: str
    action: str
    applies_when: tuple[Condition, ...] = ()
    enabled: bool = True
    overridden: tuple[str, ...] = ()
    """Fields a force file changed, and which file: shown in every alert of this rule."""
    override_source: str | None = None

    @property
    def is_local_standard(self) -> bool:
        return self.legal_basis.strip().lower().startswith(LOCAL_STANDARD)

    def applies(self, facts: Mapping[str, Any]) -> bool:
        return all(c.holds(facts) for c in self.applies_when)

    def stage_offsets(self) -> list[tuple[str, dt.timedelta]]:
        """(stage name, offset from start) in time order, the breach last, at the target.
        Warnings at or past the target are dropped: the breach supersedes them."""
        points = sorted(
            {w.offset_from_start(self.target) for w in self.warnings if w.offset_from_start(self.target) < self.target}
        )
        stages = [(f"warning-{i + 1}", p) for i, p in enumerate(p for p in points if p >= dt.timedelta(0))]
        return [*stages, ("breach", self.target)]


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    late_entry_threshold: dt.timedelta = dt.timedelta(minutes=15)
    sources: tuple[str, ...] = ()
    _by_type: dict[str, tuple[Rule, ...]] = field(default_factory=dict, repr=False, compare=False)
    _by_id: dict[str, Rule] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        index: dict[str, list[Rule]] = {}
        for rule in self.rules:
            if not rule.enabled:
                continue
            for event_type in rule.start | rule.stop | rule.cancel:
                index.setdefault(event_type, []).append(rule)
        self._by_type.update({k: tuple(v) for k, v in index.items()})
        self._by_id.update({rule.id: rule for rule in self.rules})

    def rules_for(self, event_type: str) -> tuple[Rule, ...]:
        """The enabled rules whose clock this event type starts, stops or cancels."""
        return self._by_type.get(event_type, ())

    def rule(self, rule_id: str) -> Rule | None:
        return self._by_id.get(rule_id)


# ----------------------------------------------------------------------------- loading
_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)%$")
_MSGSPEC_PATH = re.compile(r" - at `\$(.*)`$")


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


def _parse_warning(text: str, where: str) -> WarningPoint:
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
        raise PolicyError(f"{where}: {exc}") from None


def _condition(raw: _Condition, where: str) -> Condition:
    ops = {
        name: getattr(raw, attr)
        for name, attr in (
            ("eq", "eq"),
            ("ne", "ne"),
            ("lt", "lt"),
            ("le", "le"),
            ("gt", "gt"),
            ("ge", "ge"),
            ("in", "in_"),
        )
        if getattr(raw, attr) is not msgspec.UNSET
    }
    if len(ops) != 1:
        raise PolicyError(f"{where}: each condition needs exactly one of eq, ne, lt, le, gt, ge, in")
    ((op, value),) = ops.items()
    return Condition(raw.fact, op, value)  # type: ignore[arg-type]


def _build_rule(
    raw_rule: Mapping[str, Any], pack_path: str, field_files: Mapping[str, str], source: str | None
) -> Rule:
    """``field_files`` maps each overridden field to the file that set it, so an error in an
    override is reported against the force's file, not the pack."""
    rule_id = raw_rule.get("id") if isinstance(raw_rule.get("id"), str) else None

    def path_of(field_path: str) -> str:
        return field_files.get(re.split(r"[.\[]", field_path, maxsplit=1)[0], pack_path)

    try:
        raw = msgspec.convert(raw_rule, _RuleFile)
    except msgspec.ValidationError as exc:
        field_path, message = _field_of(exc)
        raise PolicyError(f"{_where(path_of(field_path), rule_id, field_path)}: {message}") from None

    def fail(field_path: str, message: str) -> PolicyError:
        return PolicyError(f"{_where(path_of(field_path), raw.id, field_path)}: {message}")

    for kind in ("start", "stop", "cancel"):
        for i, event_type in enumerate(getattr(raw.clock, kind)):
            if event_type not in EVENT_TYPES:
                raise fail(f"clock.{kind}[{i}]", f"unknown event type {event_type!r}")
            if domain_of(event_type) != raw.domain:
                raise fail(f"clock.{kind}[{i}]", f"{event_type!r} is not a {raw.domain} event")
    try:
        target = parse_duration(raw.target)
    except ValueError as exc:
        raise fail("target", str(exc)) from None
    if target <= dt.timedelta(0):
        raise fail("target", "must be longer than zero")
    if not raw.legal_basis.strip():
        raise fail("legal_basis", f"state the legal basis, or {LOCAL_STANDARD!r}")
    return Rule(
        id=raw.id,
        version=raw.version,
        title=raw.title,
        domain=raw.domain,
        start=frozenset(raw.clock.start),
        stop=frozenset(raw.clock.stop),
        cancel=frozenset(raw.clock.cancel),
        target=target,
        warnings=tuple(
            _parse_warning(w, _where(path_of("warnings"), raw.id, f"warnings[{i}]")) for i, w in enumerate(raw.warnings)
        ),
        severity_warning=raw.severity.warning,
        severity_breach=raw.severity.breach,
        legal_basis=raw.legal_basis.strip(),
        explanation=" ".join(raw.explanation.split()),
        action=" ".join(raw.action.split()),
        applies_when=tuple(
            _condition(c, _where(path_of("applies_when"), raw.id, f"applies_when[{i}]"))
            for i, c in enumerate(raw.applies_when)
        ),
        enabled=raw.enabled,
        overridden=tuple(field_files),
        override_source=source,
    )


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


def load_policy(pack: Path | str = DEFAULT_PACK, overrides: Iterable[Path | str] = ()) -> Policy:
    """Load a rule pack and apply force override files in order (later files win)."""
    pack_path = Path(pack)
    pack_file: _PackFile = _decode_file(pack_path, _PackFile)
    raw_rules: dict[str, dict[str, Any]] = {}
    changed: dict[str, dict[str, str]] = {}  # rule id -> field -> file that set it
    source: dict[str, str] = {}
    for i, raw in enumerate(pack_file.rules):
        rule_id = raw.get("id")
        if not isinstance(rule_id, str):
            raise PolicyError(f"{_where(str(pack_path), None, f'rules[{i}].id')}: every rule needs a string id")
        if rule_id in raw_rules:
            raise PolicyError(f"{_where(str(pack_path), rule_id, 'id')}: duplicate rule id")
        raw_rules[rule_id] = dict(raw)
    late = pack_file.late_entry_threshold
    sources = [str(pack_path)]
    for override_path in map(Path, overrides):
        file: _OverridesFile = _decode_file(override_path, _OverridesFile)
        sources.append(str(override_path))
        late = file.late_entry_threshold or late
        for rule_id, fields in file.overrides.items():
            if rule_id not in raw_rules:
                raise PolicyError(f"{_where(str(override_path), rule_id, '')}: no such rule in pack {pack_file.pack!r}")
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
        _build_rule(raw, str(pack_path), changed.get(rule_id, {}), source.get(rule_id))
        for rule_id, raw in raw_rules.items()
    )
    try:
        late_threshold = parse_duration(late)
    except ValueError as exc:
        raise PolicyError(f"{_where(str(pack_path), None, 'late_entry_threshold')}: {exc}") from None
    return Policy(rules=rules, late_entry_threshold=late_threshold, sources=tuple(sources))


def load_policy_from_env(environ: Mapping[str, str] = os.environ) -> Policy:
    """``WATCHKEEPER_POLICY`` (pack file) and ``WATCHKEEPER_POLICY_OVERRIDES`` (files, ``:``-separated)."""
    pack = environ.get("WATCHKEEPER_POLICY") or DEFAULT_PACK
    overrides = [p for p in environ.get("WATCHKEEPER_POLICY_OVERRIDES", "").split(os.pathsep) if p]
    return load_policy(pack, overrides)


__all__ = [
    "DOMAINS",
    "Condition",
    "Policy",
    "PolicyError",
    "Rule",
    "WarningPoint",
    "load_policy",
    "load_policy_from_env",
]
