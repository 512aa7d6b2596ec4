"""Consumer lag read from the real broker: end offsets minus the group's committed offsets."""

from __future__ import annotations

import uuid

import pytest

from worker.lag import read_lag

pytestmark = pytest.mark.broker


def test_lag_is_the_end_offset_minus_the_group_s_commit_per_partition(bootstrap: str) -> None:
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.structs import OffsetAndMetadata

    topic, group = f"lag-{uuid.uuid4().hex[:8]}", f"lag-group-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, 2, 1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for _ in range(5):
        producer.send(topic, value=b"x", partition=0).get(timeout=30)
    for _ in range(2):
        producer.send(topic, value=b"x", partition=1).get(timeout=30)
    producer.close()
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    consumer.commit(
        {TopicPartition(topic, 0): OffsetAndMetadata(2, "", -1), TopicPartition(topic, 1): OffsetAndMetadata(2, "", -1)}
    )
    consumer.close()

    assert read_lag(bootstrap, group) == {(topic, 0): 3, (topic, 1): 0}
    assert read_lag(bootstrap, f"no-such-group-{uuid.uuid4().hex[:8]}") == {}
