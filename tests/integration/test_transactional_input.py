"""A force's producer that writes with Kafka transactions leaves commit markers between its
records: offset gaps that are not lost records. Watchkeeper checks each input-topic gap and
lets it pass, so every event is processed once, the commit keeps up, and nothing is re-read
for ever. (A gap with records in it would be refused and re-read: tests/streams.)"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable

import pytest
from kafka import KafkaProducer

from tests.conftest import REPO, Deployment, cloudevent, detention, free_port
from tests.integration.test_deadletter import metric

pytestmark = pytest.mark.broker
AA_4S = str(REPO / "tests" / "integration" / "aa-4s.yaml")


def test_transactional_input_is_processed_and_its_markers_do_not_stall_the_partition(
    deployment: Callable[..., Deployment],
) -> None:
    d = deployment(
        WATCHKEEPER_POLICY_OVERRIDES=AA_4S, WATCHKEEPER_PARTITIONS="1", WATCHKEEPER_WEB_PORT=str(free_port())
    )
    worker = d.start_worker()
    producer = KafkaProducer(
        bootstrap_servers=d.settings.bootstrap_servers, transactional_id=f"{d.prefix}-source", acks="all"
    )
    producer.init_transactions()
    cases = [f"CR-TX-{i}" for i in range(12)]
    for case in cases:  # one transaction per case: a commit marker after every two records
        now = dt.datetime.now(dt.UTC)
        producer.begin_transaction()
        for event in (detention(case, at=now), cloudevent(case, "custody.appropriate_adult.requested", at=now)):
            producer.send(d.topic("custody"), key=case.encode(), value=json.dumps(event).encode())
        producer.commit_transaction()
        time.sleep(0.3)
    producer.close()

    alerts = d.read("alerts", until=lambda r: {a["case"] for a in r if a["stage"] == "breach"} >= set(cases))
    assert {a["case"] for a in alerts if a["stage"] == "breach"} == set(cases)
    time.sleep(20)  # long enough for the stall guard to act (15 s) if the commit were stuck
    topic = d.topic("custody")
    assert metric(d, "watchkeeper_offset_gaps_verified_total", topic=topic, outcome="markers") >= 1
    assert metric(d, "watchkeeper_offset_gaps_verified_total", topic=topic, outcome="dropped") == 0
    assert metric(d, "watchkeeper_stalled_partitions_repaired_total", topic=topic) == 0
    assert metric(d, "watchkeeper_events_total", domain="custody", outcome="duplicate") == 0
    assert worker.proc.poll() is None
