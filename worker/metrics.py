"""Prometheus metrics of the pipeline, one ``Metrics`` per assembled worker, on its own registry.

Labels are bounded vocabularies: never a case id. ``/metrics`` serves the registry, Faust's
own sensor (``faust_*``) included. A registry per worker, rather than the process-wide
default, is what lets a test assemble several workers in one process.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from agents.measures import Observation

HOURS: Final = (900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 12 * 3600, 18 * 3600, 24 * 3600, 36 * 3600, 72 * 3600)
AREA_LIMIT: Final = 200
UNLABELLED_NOW: Final = frozenset({"children_in_police_protection", "high_risk_missing_children"})


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        # long: one declaration per metric, read as the table of what a worker exposes.
        self.registry = registry
        self._areas: dict[str, None] = {}
        self._children: dict[tuple[str, str, str], Counter] = {}
        counter, gauge, histogram = self._counter, self._gauge, self._histogram
        # ------------------------------------------------------------ input and engine
        self.events = counter("events", "Input events by domain and outcome.", "domain", "outcome")
        self.dead_letters = counter(
            "dead_letters", "Input refused to the dead-letter topic, by reason.", "domain", "reason"
        )
        self.events_by_type = counter("events_by_type", "Input events by contract type and outcome.", "type", "outcome")
        self.alerts = counter(
            "alerts",
            "Alert messages emitted, by rule, stage, status, area (bounded) and severity.",
            "rule",
            "stage",
            "status",
            "area",
            "severity",
        )
        self.alert_lag = Histogram(
            "watchkeeper_deadline_to_alert_seconds",
            "From a stage's time to the alert raised for it (hindsight alerts included).",
            buckets=(0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600, 86400),
            registry=registry,
        )
        self.open_deadlines = gauge(
            "open_deadlines", "Cases with a pending deadline in this worker's due index.", "domain"
        )
        self.consumer_lag = gauge(
            "consumer_lag", "End offset minus committed offset of the worker group.", "topic", "partition"
        )
        # ------------------------------------------------------------ what custody managers measure
        self.aa_wait = histogram("aa_wait_seconds", "A child's wait from AA request to arrival.")
        self.hcp_wait = histogram("hcp_wait_seconds", "A child's wait from health care request to being seen.")
        self.detention = histogram("child_detention_seconds", "A child's detention, from the relevant time to release.")
        self.protection_duration = histogram(
            "police_protection_seconds", "Police protection, from initiation to its end."
        )
        self.reviews = counter(
            "child_reviews", "Children's detention reviews, by mode and whether awake.", "mode", "awake"
        )
        self.postponed_reviews = counter(
            "detention_reviews_postponed",
            "Detention reviews postponed with a recorded reason (PACE s.40(4)), by reason: lawful, unlike a "
            "missed review.",
            "reason",
        )
        # What is open now, cluster-wide: every worker reads all changelogs, so use max, not sum.
        self.now: dict[str, Gauge] = {
            "open_alerts": gauge("open_alerts", "Open alerts now, by severity (cluster-wide: use max).", "severity"),
            "open_clocks": gauge("open_clocks", "Running clocks now, by rule (cluster-wide: use max).", "rule"),
            "children_in_custody": gauge(
                "children_in_custody", "Children in custody now, by custody suite (cluster-wide: use max).", "area"
            ),
            "children_in_police_protection": gauge(
                "children_in_police_protection", "Children in police protection now (cluster-wide: use max)."
            ),
            "high_risk_missing_children": gauge(
                "high_risk_missing_children", "Children missing at high risk now (cluster-wide: use max)."
            ),
            "child_protection_investigations_open": gauge(
                "child_protection_investigations_open",
                "Open child protection investigations, by area (cluster-wide: use max).",
                "area",
            ),
        }
        # ------------------------------------------------------------ alerts out
        self.transitions = counter("alert_transitions", "Alert lifecycle transitions, by the state entered.", "state")
        self.historical = counter(
            "historical_alerts",
            "Alerts raised after their route's horizon (history loaded, a long backlog): recorded, never paged.",
            "rule",
        )
        self.silences = gauge(
            "silences", "Silences now, by status (active, pending), from this worker's log.", "status"
        )
        self.silence_changes = counter("silence_changes", "Silences created or ended early, by change.", "change")
        self.silence_holds = counter(
            "silence_holds", "Alerts whose pages a silence held, and held alerts released, by event.", "event"
        )
        self.ack_latency = Histogram(
            "watchkeeper_alert_ack_seconds",
            "From an alert being raised to its acknowledgement.",
            buckets=(30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400),
            registry=registry,
        )
        self.dispatch_seconds = Histogram(
            "watchkeeper_dispatch_seconds",
            "Time to handle one alert, acknowledgement or tick in the dispatcher.",
            registry=registry,
        )
        self.deliveries = counter(
            "delivery_attempts", "Webhook delivery attempts, by receiver and verdict.", "receiver", "verdict"
        )
        self.delivery_seconds = Histogram(
            "watchkeeper_delivery_seconds",
            "One delivery attempt's HTTP round trip, by receiver.",
            ["receiver"],
            registry=registry,
        )
        self.delivery_failures = counter(
            "delivery_failures",
            "Deliveries that failed for good and went to the fallback receiver, by receiver.",
            "receiver",
        )
        self.deliveries_failing = gauge(
            "deliveries_failing",
            "Deliveries past their retry budget that are still being retried, by receiver (each one pages late).",
            "receiver",
        )
        self.heartbeats = counter("heartbeats", "Heartbeats sent, by receiver and verdict.", "receiver", "verdict")
        self.auth_failures = counter(
            "auth_failures",
            "Refused sign-ins, acknowledgements and admin calls (bad token, wrong role, spent link), and throttled "
            "ones.",
            "path",
            "outcome",
        )
        # ------------------------------------------------------------ hand-offs Faust could drop
        self.gaps_refused = counter(
            "offset_gaps_refused",
            "Skipped offsets on an internal topic that Faust would have treated as processed, by topic.",
            "topic",
        )
        self.gaps_verified = counter(
            "offset_gaps_verified",
            "Skipped offsets on an input topic, checked: 'markers' (no record there; Faust may pass them) or "
            "'dropped'.",
            "topic",
            "outcome",
        )
        self.ingested = counter(
            "ingest",
            "Events posted to POST /events, by outcome (accepted, duplicate, rejected, unavailable) and the "
            "rejection's dead-letter reason ('none' otherwise).",
            "outcome",
            "reason",
        )
        self.repairs = counter(
            "stalled_partitions_repaired",
            "Partitions whose fetched records never reached a stream, re-read by the stall guard.",
            "topic",
        )

    def _counter(self, name: str, doc: str, *labels: str) -> Counter:
        return Counter(f"watchkeeper_{name}_total", doc, labels, registry=self.registry)

    def _gauge(self, name: str, doc: str, *labels: str) -> Gauge:
        return Gauge(f"watchkeeper_{name}", doc, labels, registry=self.registry)

    def _histogram(self, name: str, doc: str) -> Histogram:
        return Histogram(f"watchkeeper_{name}", doc, buckets=HOURS, registry=self.registry)

    def reset_now(self) -> None:
        """Before the figures of now are set again: a label no longer seen must not linger."""
        for measure, gauge in self.now.items():
            if measure in UNLABELLED_NOW:
                gauge.set(0)
            else:
                gauge.clear()

    # ------------------------------------------------------------ helpers on hot paths
    def event_counter(self, domain: str, outcome: str) -> Counter:
        """The labelled child for one (domain, outcome): looked up once, not on every event."""
        child = self._children.get(("events", domain, outcome))
        if child is None:
            child = self._children[("events", domain, outcome)] = self.events.labels(domain, outcome)
        return child

    def type_counter(self, event_type: str, outcome: str) -> Counter:
        """As ``event_counter``, by contract type (bounded: callers pass "invalid" for unknown types)."""
        child = self._children.get(("types", event_type, outcome))
        if child is None:
            child = self._children[("types", event_type, outcome)] = self.events_by_type.labels(event_type, outcome)
        return child

    def bounded_area(self, area: str | None) -> str:
        """An area or custody suite as a label: the first ``AREA_LIMIT`` seen, then "other"."""
        if not area:
            return "none"
        if area in self._areas or len(self._areas) < AREA_LIMIT:
            self._areas.setdefault(area, None)
            return area
        return "other"

    def observe(self, observation: Observation) -> None:
        match observation.measure:
            case "aa_wait":
                self.aa_wait.observe(observation.seconds or 0.0)
            case "hcp_wait":
                self.hcp_wait.observe(observation.seconds or 0.0)
            case "child_detention":
                self.detention.observe(observation.seconds or 0.0)
            case "police_protection":
                self.protection_duration.observe(observation.seconds or 0.0)
            case "child_review":
                self.reviews.labels(*observation.labels).inc()
            case "review_postponed":
                self.postponed_reviews.labels(*observation.labels).inc()
