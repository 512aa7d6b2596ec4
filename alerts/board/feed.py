"""Feeds the console's read model on every worker, from the tables' changelogs.

Each worker runs its own Kafka consumer, outside the consumer group, assigned every
partition of the case and alert-record changelogs, read from the start. So every worker
builds the whole board, not only its own partitions, and the console is the same
whichever worker serves it: each shows the changelogs up to the offsets it has read,
a fraction of a second behind the agents that write them. (Faust's GlobalTable would do
the same job but is known to stall in recovery with several workers: faust-notes §2.)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from alerts.board.view import Board
from streams.contract import DOMAINS

log = logging.getLogger(__name__)


def changelog_topics(app_id: str) -> dict[str, str]:
    """Changelog topic -> what it holds ("case", "alert" or "delivery")."""
    topics = {f"{app_id}-{domain}-cases-changelog": "case" for domain in DOMAINS}
    topics[f"{app_id}-alert-records-changelog"] = "alert"
    topics[f"{app_id}-outbox-pending-changelog"] = "delivery"
    return topics


async def follow(
    bootstrap: str, app_id: str, board: Board, publish: Callable[[str, Any], None], **connection: Any
) -> None:
    """Run forever: apply every changelog record to ``board`` and publish what changed."""
    topics = changelog_topics(app_id)
    log.info("board: waiting for %s", ", ".join(sorted(topics)))
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, **connection)
    await consumer.start()
    try:
        partitions: list[TopicPartition] = []
        while len({tp.topic for tp in partitions}) < len(topics):  # Faust creates them at start-up
            cluster = await consumer._client.fetch_all_metadata()
            partitions = [
                TopicPartition(topic, p) for topic in topics for p in cluster.partitions_for_topic(topic) or ()
            ]
            if len({tp.topic for tp in partitions}) < len(topics):
                await asyncio.sleep(1)
        consumer.assign(partitions)
        log.info("board: following %d changelog partitions of %s", len(partitions), ", ".join(sorted(topics)))
        await consumer.seek_to_beginning(*partitions)
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=2000)
            for tp, records in batches.items():
                kind = topics[tp.topic]
                for record in records:
                    key = record.key.decode() if record.key else ""
                    try:
                        if kind == "case":
                            changed = board.apply_case(record.value, key)
                            if changed is not None:
                                publish("case", changed)
                        elif kind == "delivery":
                            queued = dt.datetime.fromtimestamp(record.timestamp / 1000, dt.UTC)
                            if board.apply_delivery(record.value, key, queued):
                                publish("delivery", {"webhook_id": key})
                        else:
                            view = board.apply_alert(record.value, key)
                            if view is not None:
                                publish("alert", view)
                    except Exception:  # a record it cannot read must not stop the console
                        log.exception("board: cannot apply %s[%d]@%d", tp.topic, tp.partition, record.offset)
    finally:
        await consumer.stop()
