"""Feeds the console's read model on every worker, from the tables' changelogs.

Each worker runs its own Kafka consumer, outside the consumer group, assigned every
partition of the case, alert-record and pending-delivery changelogs, read from the start.
So every worker builds the whole board, not only its own partitions, and the console is
the same whichever worker serves it: each shows the changelogs up to the offsets it has
read, a fraction of a second behind the agents that write them. (Faust's GlobalTable would
do the same job but is known to stall in recovery with several workers: faust-notes §2.)

The changelog topics are the tables' own (``Table.changelog_topic_name``), handed over by the
assembly (worker/main.py): nothing here rebuilds Faust's naming.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from alerts.board.view import Board
from alerts.messages import JOB_DECODER
from worker.records import decode_alert_record, decode_case

log = logging.getLogger(__name__)
Holds = Literal["case", "alert", "delivery"]
"""What a changelog holds: case states, alert records, or pending deliveries."""


@dataclass
class BoardFeed:
    board: Board
    changelogs: Mapping[str, Holds]
    """Changelog topic -> what it holds."""
    partitions: int
    """Of every changelog: a table has as many partitions as the topic it is co-partitioned with."""
    publish: Callable[[str, Any, str | None], None]
    """Tell the open event streams what changed, and the area it is about (worker/web/console.py,
    ``Hub.publish``: a person limited to some areas hears only of theirs)."""

    def apply(self, topic: str, key: bytes | None, value: bytes | None, timestamp_ms: int) -> None:
        """One changelog record: decode it, apply it to the board, publish what changed. A record
        that cannot be read is logged by its position only and skipped: the console carries on."""
        name = key.decode() if key else ""
        try:
            match self.changelogs[topic]:
                case "case":
                    area = self.board.area_of_case(name)  # before it may leave the board
                    changed = self.board.apply_case(name, decode_case(value) if value is not None else None)
                    if changed is not None:
                        self.publish("case", changed, changed.area if not isinstance(changed, str) else area)
                case "delivery":
                    queued = dt.datetime.fromtimestamp(timestamp_ms / 1000, dt.UTC)
                    job = JOB_DECODER.decode(value) if value is not None else None
                    if self.board.apply_delivery(name, job, queued):
                        self.publish("delivery", {"webhook_id": name}, None)
                case "alert":
                    view = self.board.apply_alert(name, decode_alert_record(value) if value is not None else None)
                    if view is not None:
                        self.publish("alert", view, view.area)
        except Exception as exc:  # noqa: BLE001 - a record it cannot read must not stop the console
            log.error("board: %s applying a record of %s", type(exc).__name__, topic)

    async def follow(self, bootstrap: str, connection: dict[str, Any]) -> None:
        """Run forever: read every changelog partition from the start, then follow."""
        from aiokafka import AIOKafkaConsumer, TopicPartition

        topics = sorted(self.changelogs)
        log.info("board: waiting for %s", ", ".join(topics))
        consumer: Any = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, **connection
        )
        await consumer.start()
        try:
            while not set(topics) <= set(await consumer.topics()):  # Faust creates them at start-up
                await asyncio.sleep(1)
            partitions = [TopicPartition(t, p) for t in topics for p in range(self.partitions)]
            consumer.assign(partitions)
            log.info("board: following %d changelog partitions of %s", len(partitions), ", ".join(topics))
            await consumer.seek_to_beginning(*partitions)
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=2000)
                for tp, records in batches.items():
                    for record in records:
                        self.apply(tp.topic, record.key, record.value, record.timestamp)
        finally:
            await consumer.stop()
