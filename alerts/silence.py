"""Silences: an admin holds the notifications of matching alerts for a while, and nothing is hidden.

Alertmanager's model, applied to a compliance record. A silence names a matcher (rule globs,
areas or suites, domains), a start, an end, its author and a reason. While it is active,
alerts that match still fire, are recorded with their lifecycle and shown on the console,
but the pages they would send are held (alerts/lifecycle.py). When it ends, at its time or
early by an admin, every alert it held that is still open is notified, and its escalation
carries on from where the silence paused it. A silence is never edited: an admin ends it
and sets a new one, so the audit shows both.

What a silence does not hold: notices that end or quiet a page already sent (a resolve, an
acknowledgement), and the record itself. Why: docs/decisions.md.

Pure: time comes in as a parameter; the shell (worker/silences.py) keeps the log of silences
on a compacted topic that every worker reads, and the audit on the alert-transitions topic.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
from dataclasses import dataclass, field
from typing import Final, Literal, cast

import msgspec

from agents.alert import Alert
from agents.durations import format_duration, parse_duration
from alerts.text import london
from streams.contract import DOMAINS, Domain

MAX_LENGTH: Final = dt.timedelta(days=7)
"""The longest silence: one that outlasts a week is a decision to stop monitoring, not a silence."""
REASON_LIMIT: Final = 280
SILENCE_ID: Final = re.compile(r"[0-9a-f]{32}")
_AREA: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/#-]{0,127}")
_RULE_GLOB: Final = re.compile(r"[A-Za-z0-9_.*?\[\]-]{1,128}")
Status = Literal["pending", "active", "ended"]
Change = Literal["created", "ended"]


class SilenceError(ValueError):
    """A silence request that cannot be taken; the message names the field."""


class Matcher(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Which alerts a silence holds: every non-empty field must match (any entry of it)."""

    rules: tuple[str, ...] = ()
    """Glob patterns on the rule id, as in routes: ``custody.*``."""
    areas: tuple[str, ...] = ()
    """Areas or custody suites, exactly."""
    domains: tuple[Domain, ...] = ()

    def matches(self, alert: Alert) -> bool:
        return (
            (not self.rules or any(fnmatch.fnmatchcase(alert.rule_id, p) for p in self.rules))
            and (not self.areas or alert.area in self.areas)
            and (not self.domains or alert.domain in self.domains)
        )

    def describe(self) -> str:
        parts = [
            f"{name} {', '.join(values)}"
            for name, values in (("rules", self.rules), ("areas", self.areas), ("domains", self.domains))
            if values
        ]
        return "; ".join(parts)


class Silence(msgspec.Struct, frozen=True):
    silence_id: str
    matcher: Matcher
    starts_at: dt.datetime
    ends_at: dt.datetime
    created_by: str
    created_at: dt.datetime
    reason: str
    ended_at: dt.datetime | None = None
    """Set when an admin ended it before ``ends_at``."""
    ended_by: str | None = None

    @property
    def until(self) -> dt.datetime:
        """When it stops holding: its end, or when it was ended early."""
        return self.ends_at if self.ended_at is None else min(self.ends_at, self.ended_at)

    def status(self, now: dt.datetime) -> Status:
        if now >= self.until:
            return "ended"
        return "active" if now >= self.starts_at else "pending"

    def holds(self, alert: Alert, now: dt.datetime) -> bool:
        return self.status(now) == "active" and self.matcher.matches(alert)

    def describe(self) -> str:
        """For an alert's history: which silence, whose, until when (never its free-text reason)."""
        return f"silence {self.silence_id[:8]} set by {self.created_by} until {london(self.until)}"


class SilenceChange(msgspec.Struct, frozen=True):
    """A silence on the audit topic (keyed ``silence:<id>``): created, or ended early, by whom."""

    silence_id: str
    change: Change
    at: dt.datetime
    by: str
    reason: str
    silence: Silence


class SilenceRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What an admin sends: a matcher, when it ends (``ends_at``, or a ``duration`` such as
    ``4h``), optionally when it starts (default now), and why."""

    reason: str
    rules: tuple[str, ...] = ()
    areas: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    starts_at: dt.datetime | None = None
    ends_at: dt.datetime | None = None
    duration: str | None = None


REQUEST_DECODER: Final = msgspec.json.Decoder(SilenceRequest)
SILENCE_ENCODER: Final = msgspec.json.Encoder()
SILENCE_DECODER: Final = msgspec.json.Decoder(Silence)


def _matcher(request: SilenceRequest) -> Matcher:
    for rule in request.rules:
        if not _RULE_GLOB.fullmatch(rule):
            raise SilenceError(f"field 'rules': {rule[:40]!r} is not a rule id or glob (letters, digits, . _ - * ?)")
    for area in request.areas:
        if not _AREA.fullmatch(area):
            raise SilenceError("field 'areas': an area is a reference: letters, digits and . _ : / # - only")
    for domain in request.domains:
        if domain not in DOMAINS:
            raise SilenceError(f"field 'domains': {domain[:40]!r} is not one of {', '.join(DOMAINS)}")
    matcher = Matcher(tuple(request.rules), tuple(request.areas), cast(tuple[Domain, ...], request.domains))
    if not matcher.describe():
        raise SilenceError("field 'rules': a silence must match something: give rules, areas or domains")
    return matcher


def _window(request: SilenceRequest, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    for name, value in (("starts_at", request.starts_at), ("ends_at", request.ends_at)):
        if value is not None and value.tzinfo is None:
            raise SilenceError(f"field '{name}': give a time with its zone (Z or +01:00)")
    starts = max(request.starts_at or now, now)  # a silence cannot unsend what was sent: never backdated
    if (request.ends_at is None) == (request.duration is None):
        raise SilenceError("field 'ends_at': give either ends_at or duration")
    if request.duration is not None:
        try:
            ends = starts + parse_duration(request.duration)
        except ValueError as exc:
            raise SilenceError(f"field 'duration': {exc}") from None
    else:
        assert request.ends_at is not None
        ends = request.ends_at
    if ends <= starts:
        raise SilenceError("field 'ends_at': the end must be after the start (and after now)")
    if ends - starts > MAX_LENGTH:
        raise SilenceError(f"field 'ends_at': a silence lasts at most {format_duration(MAX_LENGTH)}")
    return starts, ends


def new_silence(request: SilenceRequest, by: str, now: dt.datetime, silence_id: str) -> Silence:
    """The silence an admin asked for, or SilenceError naming the field that is wrong."""
    reason = " ".join(request.reason.split())
    if not reason:
        raise SilenceError("field 'reason': say why (an outage, a drill); it is on the record")
    if len(reason) > REASON_LIMIT:
        raise SilenceError(f"field 'reason': at most {REASON_LIMIT} characters")
    starts, ends = _window(request, now)
    return Silence(silence_id, _matcher(request), starts, ends, by, now, reason)


def created(silence: Silence) -> SilenceChange:
    window = f"from {london(silence.starts_at)} to {london(silence.ends_at)}"
    said = f"holds the notifications of alerts matching {silence.matcher.describe()} {window}: {silence.reason}"
    return SilenceChange(silence.silence_id, "created", silence.created_at, silence.created_by, said, silence)


def ended(silence: Silence, by: str, now: dt.datetime) -> tuple[Silence, SilenceChange]:
    """The silence ended early by ``by``; SilenceError if it has already ended."""
    if silence.status(now) == "ended":
        raise SilenceError(f"silence {silence.silence_id} has already ended ({london(silence.until)})")
    done = msgspec.structs.replace(silence, ended_at=now, ended_by=by)
    said = f"ended early, {format_duration(silence.ends_at - now)} before its end: held notifications are released"
    return done, SilenceChange(silence.silence_id, "ended", now, by, said, done)


@dataclass
class Silences:
    """Every silence this worker knows, by id: the log's latest record of each."""

    by_id: dict[str, Silence] = field(default_factory=dict)
    _live: tuple[dt.datetime, dt.datetime, list[Silence]] | None = field(default=None, repr=False)
    """(built at, valid until, the silences not ended at that time): every alert the dispatcher
    handles asks ``holding``, and ended silences stay listed for a week."""

    def apply(self, silence: Silence) -> None:
        self.by_id[silence.silence_id] = silence
        self._live = None

    def holding(self, alert: Alert, now: dt.datetime) -> Silence | None:
        """The active silence that holds ``alert`` now, the one that ends last if several do."""
        found: Silence | None = None
        for s in self._not_ended(now):  # none of them has ended at ``now``
            if s.starts_at > now or not s.matcher.matches(alert):
                continue
            if found is None or (s.until, s.silence_id) > (found.until, found.silence_id):
                found = s
        return found

    def _not_ended(self, now: dt.datetime) -> list[Silence]:
        live = self._live
        if live is None or not live[0] <= now < live[1]:
            kept = [s for s in self.by_id.values() if now < s.until]
            live = self._live = (
                now,
                min((s.until for s in kept), default=dt.datetime.max.replace(tzinfo=dt.UTC)),
                kept,
            )
        return live[2]

    def listing(self, now: dt.datetime, ended_within: dt.timedelta = MAX_LENGTH) -> list[Silence]:
        """Active and pending silences, then those ended within ``ended_within``, the soonest end first."""
        rank = {"active": 0, "pending": 1, "ended": 2}
        shown = [s for s in self.by_id.values() if now - s.until < ended_within]
        return sorted(shown, key=lambda s: (rank[s.status(now)], s.until, s.silence_id))

    def forget_ended(self, now: dt.datetime, after: dt.timedelta = MAX_LENGTH) -> None:
        """Drop silences ended longer ago than ``after``: they hold nothing and are no longer listed,
        and every alert checks the rest. (The audit topic keeps their history.)"""
        self.by_id = {k: s for k, s in self.by_id.items() if now - s.until < after}
        self._live = None

    def counts(self, now: dt.datetime) -> dict[Status, int]:
        counted: dict[Status, int] = {"pending": 0, "active": 0}
        for s in self.by_id.values():
            status = s.status(now)
            if status != "ended":
                counted[status] += 1
        return counted
