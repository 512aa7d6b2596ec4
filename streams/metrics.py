"""Prometheus metrics of the pipeline. Labels are bounded vocabularies: never a case id."""

from __future__ import annotations

from functools import cache
from typing import Final

from prometheus_client import Counter, Gauge

EVENTS: Final = Counter("watchkeeper_events_total", "Input events by domain and outcome.", ["domain", "outcome"])
DEAD_LETTERS: Final = Counter(
    "watchkeeper_dead_letters_total", "Input refused to the dead-letter topic, by reason.", ["domain", "reason"]
)
ALERTS: Final = Counter(
    "watchkeeper_alerts_total", "Alerts emitted, by rule, stage and status.", ["rule", "stage", "status"]
)
OPEN_DEADLINES: Final = Gauge(
    "watchkeeper_open_deadlines", "Cases with a pending deadline in this worker's due index.", ["domain"]
)
NOTIFICATIONS: Final = Counter(
    "watchkeeper_notifications_total", "Alert notifications by channel and outcome.", ["channel", "outcome"]
)


@cache
def event_counter(domain: str, outcome: str) -> Counter:
    """The labelled child for one (domain, outcome): looked up once, not on every event."""
    return EVENTS.labels(domain, outcome)
