"""The alert: the engine's output, as it travels on the alerts topic and on to receivers.

An alert explains itself: rule and version, legal basis (or "local standard"), the timeline
that led to it with event and recorded times, the deadline and how overdue it is, and what
to do now. It carries pseudonymous references only.

Its id is derived from the rule, the case, the clock instance and the stage, so the same
breach seen twice (a replayed tick, a restarted worker) has the same id, and any receiver
can drop the second copy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from typing import Final

import msgspec

from agents.vocabulary import AlertStatus, Grade, Severity, StageKind

ALERT_NAMESPACE: Final = uuid.UUID("3c4bdf0e-8f0f-4c55-9d8a-2f1f8b2a8c11")


ALERT_ID: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
"""What every alert id looks like (a UUID); anything else is refused before it is logged or used."""


def alert_id(rule_id: str, case: str, clock_instance: str, stage: str) -> str:
    """Deterministic id of one stage of one clock: the same inputs give the same id, always."""
    return uuid5(ALERT_NAMESPACE, f"{rule_id}\x1f{case}\x1f{clock_instance}\x1f{stage}")


def uuid5(namespace: uuid.UUID, name: str) -> str:
    """``str(uuid.uuid5(namespace, name))``, about four times as fast (no UUID object): every
    alert said works one out."""
    digest = bytearray(hashlib.sha1(namespace.bytes + name.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    x = digest.hex()
    return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


class TimelineEntry(msgspec.Struct, frozen=True):
    """One event that matters to the case, with both of its times."""

    event_id: str
    type: str
    time: dt.datetime
    recordedtime: dt.datetime
    late: bool = False
    """Recorded long after it happened (more than the policy's late-entry threshold)."""
    label: str = ""
    """The event in plain words (streams.contract.EVENT_LABELS), for people."""
    detail: str | None = None
    """Closed-value fields that explain the record (a postponement's reason), in words."""


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    alert_id: str
    revision: int
    """Bumps with each status change of this alert: (alert_id, revision) is unique per message."""
    status: AlertStatus
    stage: StageKind
    stage_name: str
    """The stage within its deadline: ``warning-1``, ``warning-2``, …, ``breach``."""
    severity: Severity
    rule_id: str
    rule_version: int
    rule_title: str
    legal_basis: str
    local_standard: bool
    grade: Grade
    domain: str
    case: str
    area: str | None
    clock_started_at: dt.datetime
    deadline: dt.datetime
    stage_at: dt.datetime
    raised_at: dt.datetime
    overdue_seconds: float | None
    """Seconds past the deadline at ``raised_at``; negative means time still left. None where
    it means nothing: an immediate rule, a retraction, a closing."""
    target: str
    """The rule's target in words: ``2h``, ``before the next school day starts (08:45)``, …"""
    ended_at: dt.datetime | None = None
    """For a message that ends an alert: when what ended it happened (the action recorded, the
    clock's end, the later stage that superseded it); None for a retraction, which says it
    never happened, and for open alerts."""
    hindsight: bool = False
    """Raised well after the stage passed: records arrived late, or the monitor was not running."""
    hindsight_reason: str | None = None
    reason: str
    explanation: str
    action: str
    policy_note: str | None = None
    timeline: tuple[TimelineEntry, ...] = ()


ALERT_ENCODER: Final = msgspec.json.Encoder()
ALERT_DECODER: Final = msgspec.json.Decoder(Alert)
