"""Consumer lag per partition: end offsets minus the group's committed offsets.

Read with kafka-python's admin client in a thread, every 15 s, on every worker. Every worker
reports the same group-wide figures, so dashboards take ``max`` across workers.
"""

from __future__ import annotations

import asyncio
import logging

from streams import metrics
from streams.app import app, settings

log = logging.getLogger(__name__)


def read_lag(bootstrap: str, group: str, options: dict[str, object] | None = None) -> dict[tuple[str, int], int]:
    from kafka import KafkaConsumer
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id=f"{group}-lag", **(options or {}))
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, **(options or {}))
    try:
        committed = admin.list_group_offsets(group).get(group, {})
        ends = consumer.end_offsets(list(committed))
        return {
            (tp.topic, tp.partition): max(0, ends[tp] - meta.offset) for tp, meta in committed.items() if tp in ends
        }
    finally:
        consumer.close()
        admin.close()


@app.timer(interval=15.0)
async def consumer_lag() -> None:
    try:
        lag = await asyncio.get_running_loop().run_in_executor(
            None, read_lag, settings.bootstrap_servers, settings.app_id
        )
    except Exception as exc:  # the broker being briefly away must not stop the worker
        log.warning("consumer lag not read: %s", exc)
        return
    for (topic, partition), value in lag.items():
        metrics.CONSUMER_LAG.labels(topic, str(partition)).set(value)
