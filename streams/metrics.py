"""Prometheus metrics of the pipeline. Labels are bounded vocabularies: never a case id."""

from __future__ import annotations

from functools import cache
from typing import Final

from prometheus_client import Counter, Gauge, Histogram

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

TRANSITIONS: Final = Counter(
    "watchkeeper_alert_transitions_total", "Alert lifecycle transitions, by the state entered.", ["state"]
)
DELIVERIES: Final = Counter(
    "watchkeeper_delivery_attempts_total",
    "Webhook delivery attempts, by receiver and verdict.",
    ["receiver", "verdict"],
)
DELIVERY_FAILURES: Final = Counter(
    "watchkeeper_delivery_failures_total",
    "Deliveries that failed for good and went to the fallback receiver, by receiver.",
    ["receiver"],
)
HEARTBEATS: Final = Counter(
    "watchkeeper_heartbeats_total", "Heartbeats sent, by receiver and verdict.", ["receiver", "verdict"]
)
DISPATCH_SECONDS: Final = Histogram(
    "watchkeeper_dispatch_seconds", "Time to handle one alert, acknowledgement or tick in the dispatcher."
)


@cache
def event_counter(domain: str, outcome: str) -> Counter:
    """The labelled child for one (domain, outcome): looked up once, not on every event."""
    return EVENTS.labels(domain, outcome)
