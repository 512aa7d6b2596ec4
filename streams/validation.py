"""Turn raw bytes from an input topic into a typed Event, or a Rejection saying why not.

Pure: no Kafka, no clock. The caller passes ``now`` so the "time far in the future" check
is testable and replayable. Rejection details never echo input values, because a rejected
message is exactly the one that may carry a name where a reference should be.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Final, Literal, get_args

import msgspec

from streams.contract import EVENT_TYPES, REF_PATTERN, AwareDatetime, Domain, Event, domain_of

RejectionReason = Literal[
    "malformed_json",
    "schema_violation",
    "unknown_event_type",
    "wrong_topic",
    "missing_subject",
    "key_mismatch",
    "time_in_future",
]
REJECTION_REASONS: Final[tuple[RejectionReason, ...]] = get_args(RejectionReason)

NonEmpty = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
Subject = Annotated[str, msgspec.Meta(max_length=256)]


class _Envelope(msgspec.Struct, frozen=True):
    """The CloudEvents attributes, with ``data`` left undecoded until the type is known."""

    specversion: Literal["1.0"]
    id: NonEmpty
    source: NonEmpty
    type: NonEmpty
    time: AwareDatetime
    recordedtime: AwareDatetime
    subject: Subject | None = None
    datacontenttype: Literal["application/json"] | None = None
    data: msgspec.Raw = msgspec.Raw(b"{}")


class _Unchecked:
    """Marks "no Kafka key to check" (replay, CLI), as distinct from a message with no key."""


_UNCHECKED: Final = _Unchecked()


class Rejection(msgspec.Struct, frozen=True):
    """Why an input was refused. Goes to the dead-letter topic; carries no input values."""

    reason: RejectionReason
    detail: str
    event_id: str | None = None
    event_type: str | None = None
    subject: str | None = None


_REF: Final = re.compile(REF_PATTERN)
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_envelope_decoder = msgspec.json.Decoder(_Envelope)
_data_decoders: Final = {name: msgspec.json.Decoder(model) for name, model in EVENT_TYPES.items()}
_UTC = dt.UTC


def _scrub(message: str) -> str:
    """Remove quoted input values from a decoder message, keeping the path it names."""
    return _QUOTED.sub("'…'", message)


def decode_event(
    raw: bytes,
    *,
    now: dt.datetime,
    topic_domain: Domain | None = None,
    key: bytes | _Unchecked | None = _UNCHECKED,
    max_future: dt.timedelta = dt.timedelta(minutes=5),
) -> Event | Rejection:
    """Validate one structured-mode CloudEvent.

    ``topic_domain`` is the domain of the topic the bytes came from; an event of another
    domain is refused rather than processed on the wrong partitioning. ``key`` is the Kafka
    message key, when there is one to check: it must be the subject, or the case's events
    would be split across partitions and its state across table shards.
    """
    try:
        env = _envelope_decoder.decode(raw)
    except msgspec.ValidationError as exc:
        return Rejection("schema_violation", _scrub(str(exc)))
    except msgspec.DecodeError as exc:
        return Rejection("malformed_json", _scrub(str(exc)))

    ids = {"event_id": env.id, "event_type": env.type}
    if env.subject is None or not env.subject.strip():
        return Rejection("missing_subject", "subject is missing or empty", **ids)
    if not _REF.fullmatch(env.subject):
        return Rejection("schema_violation", "subject is not a pseudonymous reference", **ids)
    ids["subject"] = env.subject
    if not isinstance(key, _Unchecked) and key != env.subject.encode():
        return Rejection("key_mismatch", "the Kafka message key is not the event subject", **ids)
    decoder = _data_decoders.get(env.type)
    if decoder is None:
        return Rejection("unknown_event_type", "type is not in the contract", **ids)
    if topic_domain is not None and domain_of(env.type) != topic_domain:
        return Rejection("wrong_topic", f"a {domain_of(env.type)} event on the {topic_domain} topic", **ids)
    try:
        data = decoder.decode(env.data)
    except msgspec.ValidationError as exc:
        return Rejection("schema_violation", _scrub(str(exc)).replace("`$", "`$.data", 1), **ids)
    except msgspec.DecodeError as exc:  # pragma: no cover - envelope decoding already parsed it
        return Rejection("malformed_json", _scrub(str(exc)), **ids)

    limit = now + max_future
    for name, value in (("time", env.time), ("recordedtime", env.recordedtime)):
        if value > limit:
            ahead = (value - now).total_seconds()
            return Rejection("time_in_future", f"{name} is {ahead:.0f} s ahead of the receiving clock", **ids)
    return Event(
        id=env.id,
        source=env.source,
        type=env.type,
        subject=env.subject,
        time=env.time.astimezone(_UTC),
        recordedtime=env.recordedtime.astimezone(_UTC),
        data=data,
    )
