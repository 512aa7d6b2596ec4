"""Durability on the real broker: a worker killed with -9 mid-stream, and a rebalance.

Delivery is at-least-once with deterministic alert ids: a worker killed between sending an
alert and recording that it did may send it again after restart. Such a copy carries the
same alert id and revision, so it is harmless (the notifier drops it). These tests check
that every due alert arrives, that no breach gets two different ids or revisions, and report
how many exact copies a crash produced.
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import REPO, Deployment, cloudevent, free_port

pytestmark = pytest.mark.broker
UTC = dt.UTC
AA_10S = str(REPO / "tests" / "integration" / "aa-10s.yaml")


def request(d: Deployment, case: str) -> None:
    now = dt.datetime.now(UTC)
    d.send(cloudevent(case, "custody.appropriate_adult.requested", at=now))


def breaches(alerts: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {a["case"]: a for a in alerts if a["stage"] == "breach" and a["status"] == "firing"}


def assert_harmless_duplicates(alerts: list[dict[str, Any]]) -> int:
    """Copies are allowed only as exact repeats of (id, revision, status); returns how many."""
    seen: dict[tuple[str, int], str] = {}
    for a in alerts:
        key = (a["alert_id"], a["revision"])
        assert seen.setdefault(key, a["status"]) == a["status"], f"two different messages for {key}"
    per_id = Counter(a["alert_id"] for a in alerts)
    return sum(per_id.values()) - len(per_id)


def test_kill_9_mid_stream_loses_no_due_alert(deployment: Callable[..., Deployment]) -> None:
    d = deployment(
        WATCHKEEPER_POLICY_OVERRIDES=AA_10S,
        WATCHKEEPER_PARTITIONS="4",
        WATCHKEEPER_SESSION_TIMEOUT_SECONDS="6",
        WATCHKEEPER_WEB_PORT=str(free_port()),
    )
    worker = d.start_worker()
    cases = [f"CR-K{i:03d}" for i in range(240)]

    def produce() -> None:
        for i, case in enumerate(cases):
            request(d, case)
            if i % 20 == 19:
                time.sleep(0.5)

    producer = threading.Thread(target=produce)
    producer.start()
    time.sleep(3.0)
    worker.stop(signal.SIGKILL)  # mid-stream: events still arriving, none of the deadlines due yet
    assert worker.proc.returncode == -signal.SIGKILL
    producer.join()

    d.env["WATCHKEEPER_WEB_PORT"] = str(free_port())
    d.start_worker(data_slot=0)  # same host: RocksDB files left by the killed worker
    alerts = d.read("alerts", until=lambda r: len(breaches(r)) >= len(cases), timeout=90, settle=5)

    assert set(breaches(alerts)) == set(cases), f"missing: {sorted(set(cases) - set(breaches(alerts)))[:10]}"
    for case in cases:  # one id per breach; a warning due while the worker was down is superseded
        ids = {(a["stage"], a["alert_id"]) for a in alerts if a["case"] == case}
        assert len({i for stage, i in ids if stage == "breach"}) == 1
        assert len({i for stage, i in ids if stage == "warning"}) <= 1
    copies = assert_harmless_duplicates(alerts)
    print(f"kill -9: {len(cases)} cases, {len(alerts)} alert messages, {copies} exact copies")


def test_when_one_of_two_workers_stops_the_other_fires_its_deadlines_on_time(
    deployment: Callable[..., Deployment],
) -> None:
    d = deployment(
        WATCHKEEPER_POLICY_OVERRIDES=str(REPO / "tests" / "integration" / "aa-20s.yaml"),
        WATCHKEEPER_PARTITIONS="4",
        WATCHKEEPER_WEB_PORT=str(free_port()),
    )
    first = d.start_worker()
    d.env["WATCHKEEPER_WEB_PORT"] = str(free_port())
    second = d.start_worker()
    time.sleep(4)  # let the group settle with both members
    cases = [f"CR-R{i:02d}" for i in range(40)]  # spread over all four partitions
    for case in cases:
        request(d, case)
    time.sleep(3)
    first.stop()  # graceful: its partitions move to the second worker
    alerts = d.read("alerts", until=lambda r: len(breaches(r)) >= len(cases), timeout=90, settle=2)

    found = breaches(alerts)
    assert set(found) == set(cases)
    lags = sorted(
        (dt.datetime.fromisoformat(a["raised_at"]) - dt.datetime.fromisoformat(a["deadline"])).total_seconds()
        for a in found.values()
    )
    assert lags[-1] <= 5.0, f"breaches fired late after the rebalance: worst {lags[-1]:.1f}s"
    assert "BREACH" in second.output()
    assert_harmless_duplicates(alerts)
