"""Following a small compacted log that every worker keeps whole: the access log (sessions,
revocations, spent ack links) and the silences.

Each worker runs its own aiokafka consumer, outside the consumer group, on the log's one
partition: read from the start, then followed. ``caught_up`` is called once the consumer has
read everything that was on the log when it started, so a worker can refuse to decide
anything the log governs (a session, a silence) before it knows the whole of it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)
Apply = Callable[[bytes, bytes | None], None]
"""(key, value or None for a tombstone): one record of the log, applied to the worker's copy."""


async def follow_compacted(
    bootstrap: str, topic: str, connection: dict[str, Any], apply: Apply, caught_up: Callable[[], None]
) -> None:
    """Run forever. A record ``apply`` cannot read is logged by its position, never its text, and skipped."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    tp = TopicPartition(topic, 0)
    consumer: Any = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, **connection)
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        end = (await consumer.end_offsets([tp]))[tp]
        told = False
        while True:
            batches = await consumer.getmany(timeout_ms=200, max_records=1000)
            for records in batches.values():
                for r in records:
                    try:
                        apply(r.key or b"", r.value)
                    except Exception as exc:  # noqa: BLE001 - one unreadable record must not stop every worker
                        log.error("%s: %s reading offset %d", topic, type(exc).__name__, r.offset)
            if not told and await consumer.position(tp) >= end:
                told = True
                caught_up()
    finally:
        await consumer.stop()
