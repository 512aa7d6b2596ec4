"""A broker outage must not flood the log: Kafka's and Faust's repeated errors pass once per interval."""

from __future__ import annotations

import logging
import time

from worker.broker_outage import RepeatFilter


def record(name: str, msg: str, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, ("x",), None)


def test_a_repeated_library_error_passes_once_per_interval_then_says_how_many_were_held_back() -> None:
    repeat = RepeatFilter(interval=0.2)
    passed = [repeat.filter(record("aiokafka.client", "Unable connect to node %s")) for _ in range(500)]
    assert passed.count(True) == 1
    time.sleep(0.25)
    again = record("aiokafka.client", "Unable connect to node %s")
    assert repeat.filter(again) and "499 more like this" in str(again.msg)


def test_different_messages_and_watchkeepers_own_lines_are_never_held_back() -> None:
    repeat = RepeatFilter(interval=60)
    assert repeat.filter(record("aiokafka.client", "one %s")) and repeat.filter(record("aiokafka.client", "two %s"))
    assert all(repeat.filter(record("alerts.outbox", "delivery %s failed")) for _ in range(10))
    assert all(repeat.filter(record("aiokafka.conn", "debug %s", logging.INFO)) for _ in range(10))
