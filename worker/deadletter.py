"""The one way any agent refuses a message: a dead-letter record, a counter and a log line.

Every input to every agent (domain events, alerts, acknowledgements, outbox jobs) ends as
applied, dropped as a true duplicate, or dead-lettered here with a reason. The record
points at the original (topic, partition, offset) and carries hashes and lengths, never
the bytes, the Kafka key, the event id or the subject: a refused message may hold exactly
the personal data the contract keeps out, and it stays in its own topic for its retention.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Any, Protocol

import msgspec

from streams.validation import Rejection, fingerprint
from worker.channels import Send
from worker.metrics import Metrics

log = logging.getLogger(__name__)


class Message(Protocol):
    """What a dead letter reads of a Kafka message (Faust's ``Message``)."""

    topic: str
    partition: int
    offset: int
    timestamp: float
    key: bytes | None
    value: bytes | None


def internal_error(exc: BaseException, where: str) -> Rejection:
    """An unexpected failure: the exception's class is kept, its message (which may quote input) is not."""
    return Rejection("internal_error", f"{type(exc).__name__} in {where}")


def record(stage: str, message: Message, rejection: Rejection, received_at: dt.datetime) -> dict[str, Any]:
    payload: bytes = message.value or b""
    key = message.key
    return {
        "reason": rejection.reason,
        "detail": rejection.detail,
        "domain": stage,
        "event_type": rejection.event_type,
        "event_id_sha256": rejection.event_id_sha256,
        "subject_sha256": rejection.subject_sha256,
        "key_sha256": fingerprint(key),
        "key_bytes": None if key is None else len(key),
        "source": {
            "topic": message.topic,
            "partition": message.partition,
            "offset": message.offset,
            "timestamp_ms": int(message.timestamp * 1000) if message.timestamp else None,
        },
        "received_at": received_at.isoformat(),
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "payload_bytes": len(payload),
    }


class DeadLetters:
    def __init__(self, send: Send, metrics: Metrics) -> None:
        self._send, self._metrics = send, metrics

    async def send(self, stage: str, message: Message, rejection: Rejection) -> None:
        """Dead-letter ``message`` and wait for the broker to have it.

        Keyed by source partition, never by the input's own key, which is input too."""
        body = record(stage, message, rejection, dt.datetime.now(dt.UTC))
        await self._send(f"{message.topic}:{message.partition}".encode(), msgspec.json.encode(body))
        self._metrics.dead_letters.labels(stage, rejection.reason).inc()
        log.warning(
            "dead-lettered %s:%s@%s: %s (%s)", message.topic, message.partition, message.offset, rejection.reason, stage
        )
