"""Prometheus metrics of the pipeline. Labels are bounded vocabularies: never a case id."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Final

from prometheus_client import Counter, Gauge, Histogram

EVENTS: Final = Counter("watchkeeper_events_total", "Input events by domain and outcome.", ["domain", "outcome"])
DEAD_LETTERS: Final = Counter(
    "watchkeeper_dead_letters_total", "Input refused to the dead-letter topic, by reason.", ["domain", "reason"]
)
ALERTS: Final = Counter(
    "watchkeeper_alerts_total",
    "Alert messages emitted, by rule, stage, status, area (bounded) and severity.",
    ["rule", "stage", "status", "area", "severity"],
)
EVENTS_BY_TYPE: Final = Counter(
    "watchkeeper_events_by_type_total", "Input events by contract type and outcome.", ["type", "outcome"]
)
ALERT_LAG: Final = Histogram(
    "watchkeeper_deadline_to_alert_seconds",
    "From a stage's time to the alert raised for it (hindsight alerts included).",
    buckets=(0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600, 86400),
)
ACK_LATENCY: Final = Histogram(
    "watchkeeper_alert_ack_seconds",
    "From an alert being raised to its acknowledgement.",
    buckets=(30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400),
)
CONSUMER_LAG: Final = Gauge(
    "watchkeeper_consumer_lag", "End offset minus committed offset of the worker group.", ["topic", "partition"]
)
DELIVERY_SECONDS: Final = Histogram(
    "watchkeeper_delivery_seconds", "One delivery attempt's HTTP round trip, by receiver.", ["receiver"]
)
HOURS: Final = (900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 12 * 3600, 18 * 3600, 24 * 3600, 36 * 3600, 72 * 3600)
AA_WAIT: Final = Histogram("watchkeeper_aa_wait_seconds", "A child's wait from AA request to arrival.", buckets=HOURS)
HCP_WAIT: Final = Histogram(
    "watchkeeper_hcp_wait_seconds", "A child's wait from health care request to being seen.", buckets=HOURS
)
DETENTION: Final = Histogram(
    "watchkeeper_child_detention_seconds", "A child's detention, from the relevant time to release.", buckets=HOURS
)
REVIEWS: Final = Counter(
    "watchkeeper_child_reviews_total", "Children's detention reviews, by mode and whether awake.", ["mode", "awake"]
)
POSTPONED_REVIEWS: Final = Counter(
    "watchkeeper_detention_reviews_postponed_total",
    "Detention reviews postponed with a recorded reason (PACE s.40(4)), by reason: lawful, unlike a missed review.",
    ["reason"],
)
PROTECTION_DURATION: Final = Histogram(
    "watchkeeper_police_protection_seconds", "Police protection, from initiation to its end.", buckets=HOURS
)
BOARD: Final = Gauge(
    "watchkeeper_board",
    "What is open now, cluster-wide (every worker reads all changelogs: use max, not sum).",
    ["measure", "key"],
)
OPEN_DEADLINES: Final = Gauge(
    "watchkeeper_open_deadlines", "Cases with a pending deadline in this worker's due index.", ["domain"]
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
DELIVERIES_FAILING: Final = Gauge(
    "watchkeeper_deliveries_failing",
    "Deliveries past their retry budget that are still being retried, by receiver (each one pages late).",
    ["receiver"],
)
HEARTBEATS: Final = Counter(
    "watchkeeper_heartbeats_total", "Heartbeats sent, by receiver and verdict.", ["receiver", "verdict"]
)
AUTH_FAILURES: Final = Counter(
    "watchkeeper_auth_failures_total",
    "Refused sign-ins, acknowledgements and admin calls (bad token, wrong role, spent link), and throttled ones.",
    ["path", "outcome"],
)
DISPATCH_SECONDS: Final = Histogram(
    "watchkeeper_dispatch_seconds", "Time to handle one alert, acknowledgement or tick in the dispatcher."
)


@cache
def event_counter(domain: str, outcome: str) -> Counter:
    """The labelled child for one (domain, outcome): looked up once, not on every event."""
    return EVENTS.labels(domain, outcome)


@cache
def type_counter(event_type: str, outcome: str) -> Counter:
    """As ``event_counter``, by contract type (bounded: callers pass "invalid" for unknown types)."""
    return EVENTS_BY_TYPE.labels(event_type, outcome)


_AREAS: dict[str, None] = {}
AREA_LIMIT: Final = 200


def bounded_area(area: str | None) -> str:
    """An area or custody suite as a label: the first ``AREA_LIMIT`` seen, then "other"."""
    if not area:
        return "none"
    if area in _AREAS or len(_AREAS) < AREA_LIMIT:
        _AREAS.setdefault(area, None)
        return area
    return "other"


if TYPE_CHECKING:
    from agents.measures import Observation


def observe(observation: Observation) -> None:
    match observation.measure:
        case "aa_wait":
            AA_WAIT.observe(observation.seconds or 0.0)
        case "hcp_wait":
            HCP_WAIT.observe(observation.seconds or 0.0)
        case "child_detention":
            DETENTION.observe(observation.seconds or 0.0)
        case "police_protection":
            PROTECTION_DURATION.observe(observation.seconds or 0.0)
        case "child_review":
            REVIEWS.labels(*observation.labels).inc()
        case "review_postponed":
            POSTPONED_REVIEWS.labels(*observation.labels).inc()
