"""Who is signed in, who has been shut out, and which ack links are spent: the access record.

Every worker keeps the same ``AccessLog`` from one compacted topic (``<prefix>.console-access``,
one partition) that it reads from the start and follows (``follow``). A sign-in, a sign-out, a
revocation or a used link is written there before it takes effect, so it holds on every
worker within the feed's latency, a fraction of a second, and survives restarts.

Records, keyed so compaction keeps the latest of each:
- ``session:<id>``: a console session (user, role, when it started, when it ends, whether it
  was ended by signing out);
- ``user:<name>``: a revocation: every session of that user started before it is refused;
- ``link:<id>``: an acknowledgement link that has been used.

The store is pure: time comes in as a parameter.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from alerts.config import Access


class SessionRecord(msgspec.Struct, frozen=True):
    user: str
    access: Access = msgspec.field(name="role")
    """What the user may do, as configured when the session started. Stored under its earlier
    name, so sessions recorded before the rename still decode."""
    started: dt.datetime
    expires: dt.datetime
    ended: bool = False


class Revocation(msgspec.Struct, frozen=True):
    user: str
    at: dt.datetime
    by: str


class LinkUsed(msgspec.Struct, frozen=True):
    alert_id: str
    at: dt.datetime
    by: str


Record = SessionRecord | Revocation | LinkUsed
_DECODERS: Final[dict[str, msgspec.json.Decoder[Any]]] = {
    "session": msgspec.json.Decoder(SessionRecord),
    "user": msgspec.json.Decoder(Revocation),
    "link": msgspec.json.Decoder(LinkUsed),
}


def record_key(kind: str, name: str) -> bytes:
    return f"{kind}:{name}".encode()


@dataclass
class AccessLog:
    sessions: dict[str, SessionRecord] = field(default_factory=dict)
    revoked: dict[str, dt.datetime] = field(default_factory=dict)
    used_links: dict[str, LinkUsed] = field(default_factory=dict)

    def apply(self, key: bytes, value: bytes | None) -> None:
        kind, _, name = key.decode(errors="replace").partition(":")
        decoder = _DECODERS.get(kind)
        if decoder is None or value is None:
            return
        record: Any = decoder.decode(value)
        if isinstance(record, SessionRecord):
            self.sessions[name] = record
        elif isinstance(record, Revocation):
            self.revoked[name] = max(record.at, self.revoked.get(name, record.at))
        else:
            self.used_links[name] = record

    def session(self, session_id: str, now: dt.datetime, access: Mapping[str, Access]) -> SessionRecord | None:
        """The live session, or None: unknown, signed out, expired, revoked, or its user removed
        or given other access since it started (the configuration is the authority on access)."""
        record = self.sessions.get(session_id)
        if record is None or record.ended or now >= record.expires:
            return None
        if access.get(record.user) != record.access:
            return None
        revoked = self.revoked.get(record.user)
        if revoked is not None and record.started <= revoked:
            return None
        return record
