"""Consumer lag per partition: end offsets minus the group's committed offsets.

Read with kafka-python's admin client in a thread, every 15 s, on every worker. Every worker
reports the same group-wide figures, so dashboards take ``max`` across workers.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from worker.metrics import Metrics

log = logging.getLogger(__name__)


def read_lag(bootstrap: str, group: str, options: dict[str, object] | None = None) -> dict[tuple[str, int], int]:
    """One admin client, no consumer: a consumer outside a group logs "group_id is None" on every
    read. ``list_group_offsets`` and ``list_partition_offsets`` are kafka-python 3's admin API."""
    from kafka.admin import KafkaAdminClient, OffsetSpec

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id=f"{group}-lag", **(options or {}))
    try:
        committed = admin.list_group_offsets(group).get(group, {})
        if not committed:
            return {}
        ends = admin.list_partition_offsets(dict.fromkeys(committed, OffsetSpec.LATEST))
        return {
            (tp.topic, tp.partition): max(0, ends[tp].offset - meta.offset)
            for tp, meta in committed.items()
            if tp in ends
        }
    finally:
        admin.close()


@dataclass
class ConsumerLag:
    bootstrap: str
    group: str
    options: dict[str, object]
    metrics: Metrics

    async def read(self) -> None:
        """Every 15 s on every worker (a timer)."""
        try:
            lag = await asyncio.get_running_loop().run_in_executor(
                None, read_lag, self.bootstrap, self.group, self.options
            )
        except Exception as exc:  # noqa: BLE001 - the broker being briefly away must not stop the worker
            log.warning("consumer lag not read: %s", exc)
            return
        for (topic, partition), value in lag.items():
            self.metrics.consumer_lag.labels(topic, str(partition)).set(value)
