"""The topics Watchkeeper owns, with explicit partitions, replication and retention.

Nothing relies on broker auto-creation: ``watchkeeper topics`` (and every worker at start)
creates what is missing and refuses to run on a topic whose partition count differs,
because co-partitioning of input, ticks and table changelogs depends on it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Final

from streams.contract import DOMAINS, Domain
from worker.settings import Settings

DAY_MS: Final = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str] = field(default_factory=dict)
    purpose: str = ""


def input_topic(settings: Settings, domain: Domain) -> str:
    return f"{settings.topic_prefix}.{domain}.events"


def ticks_topic(settings: Settings, domain: Domain) -> str:
    return f"{settings.topic_prefix}.{domain}.ticks"


def alerts_topic(settings: Settings) -> str:
    return f"{settings.topic_prefix}.alerts"


def deadletter_topic(settings: Settings) -> str:
    return f"{settings.topic_prefix}.deadletter"


def alert_commands_topic(settings: Settings) -> str:
    return f"{settings.topic_prefix}.alert-commands"


def alert_transitions_topic(settings: Settings) -> str:
    return f"{settings.topic_prefix}.alert-transitions"


def alert_ticks_topic(settings: Settings) -> str:
    return f"{settings.topic_prefix}.alerts.ticks"


def outbox_topic(settings: Settings) -> str:
    return f"{settings.topic_prefix}.outbox"


def deliveries_topic(settings: Settings) -> str:
    return f"{settings.topic_prefix}.deliveries"


def access_topic(settings: Settings) -> str:
    return f"{settings.topic_prefix}.console-access"


def silences_topic(settings: Settings) -> str:
    return f"{settings.topic_prefix}.silences"


def internal_topics(settings: Settings) -> list[str]:
    """Topics only Watchkeeper writes and reads, without compaction or transactions: an offset
    gap on one of them means records were dropped (worker/stall_guard.py)."""
    alerting = [alerts_topic(settings), alert_commands_topic(settings), alert_ticks_topic(settings)]
    return [*(ticks_topic(settings, domain) for domain in DOMAINS), *alerting, outbox_topic(settings)]


def record_retention_ms(settings: Settings) -> str:
    """Kafka's retention.ms for the record topics: -1 is for ever."""
    days = settings.record_retention_days
    return "-1" if days == 0 else str(int(days * DAY_MS))


CHANGELOG: Final = {
    "cleanup.policy": "compact",
    "segment.bytes": str(16 * 1024 * 1024),
    "segment.ms": str(6 * 3600 * 1000),
    "min.cleanable.dirty.ratio": "0.2",
}
"""A table's changelog holds a record per change, but a worker taking its partitions over needs
only the latest per key. Kafka compacts only closed segments, and by default a segment closes at
1 GB or after 7 days, so a takeover read every change of the past week (at 100k cases, 6.9
records per case). Segments close at 16 MB or after 6 hours, and are cleaned once a fifth of
the log is superseded, so a takeover reads about one record per case plus the last hours."""
TABLES: Final = (*(f"{domain}-cases" for domain in DOMAINS), "alert-records", "outbox-pending")
"""The worker's tables (``worker/main.py``), each with a changelog made here, not by Faust."""

RETAINED: Final = ("retention.ms", "cleanup.policy", "segment.bytes", "segment.ms", "min.cleanable.dirty.ratio")
"""What ``ensure_topics`` brings existing topics in line with: a retention changed in the settings
(the record kept for years, not 30 days) must reach topics made before, and so must the
changelogs' compaction."""


def changelog_topic(settings: Settings, table: str) -> str:
    """Faust's name for a table's changelog."""
    return f"{settings.app_id}-{table}-changelog"


def topic_specs(settings: Settings) -> list[TopicSpec]:
    n, rf = settings.partitions, settings.replication_factor
    keep = {"cleanup.policy": "delete", "retention.ms": str(int(settings.retention_days * DAY_MS))}
    record = {"cleanup.policy": "delete", "retention.ms": record_retention_ms(settings)}
    an_hour = {"cleanup.policy": "delete", "retention.ms": str(3600 * 1000)}
    specs = []
    for domain in DOMAINS:
        specs += [
            TopicSpec(
                input_topic(settings, domain), n, rf, keep, f"{domain} events, keyed by case (CloudEvents subject)"
            ),
            TopicSpec(
                ticks_topic(settings, domain),
                n,
                rf,
                an_hour,
                f"wall-clock ticks that fire {domain} deadlines on the partition that owns them",
            ),
        ]
    specs += [
        TopicSpec(changelog_topic(settings, table), n, rf, dict(CHANGELOG), f"the {table} table's changelog")
        for table in TABLES
    ]
    return [
        *specs,
        TopicSpec(alerts_topic(settings), n, rf, record, "alerts, keyed by alert id: the record"),
        TopicSpec(deadletter_topic(settings), n, rf, keep, "refused input with a machine-readable reason"),
        TopicSpec(alert_commands_topic(settings), n, rf, record, "acknowledgements from people, keyed by alert id"),
        TopicSpec(
            alert_transitions_topic(settings),
            n,
            rf,
            record,
            "every lifecycle transition (who, when, why) and every silence: the audit log",
        ),
        TopicSpec(
            alert_ticks_topic(settings), n, rf, an_hour, "wall-clock ticks that drive escalation and ack timeouts"
        ),
        TopicSpec(outbox_topic(settings), n, rf, keep, "deliveries to make, keyed by receiver: the durable outbox"),
        TopicSpec(deliveries_topic(settings), n, rf, record, "a receipt for every delivery attempt"),
        TopicSpec(
            access_topic(settings),
            1,
            rf,
            {"cleanup.policy": "compact"},
            "console sessions, revocations and used ack links, read by every worker",
        ),
        TopicSpec(
            silences_topic(settings),
            1,
            rf,
            {"cleanup.policy": "compact"},
            "silences (the latest record of each), read by every worker; their history is on the audit topic",
        ),
    ]


@dataclass(frozen=True)
class TopicReport:
    created: list[str]
    present: list[str]
    problems: list[str]
    updated: list[str] = field(default_factory=list)
    """Existing topics whose retention was brought in line with the settings."""
    warnings: list[str] = field(default_factory=list)
    """What could not be checked or changed, and does not stop a worker (a principal without
    the right to alter topic configs: its retention is then the operators' to set)."""


def ensure_topics(settings: Settings, timeout_s: float = 30.0) -> TopicReport:
    """Create missing topics and verify existing ones; idempotent, safe for every worker to call."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=settings.bootstrap_servers,
                client_id=f"{settings.app_id}-admin",
                request_timeout_ms=10000,
                **settings.kafka_python_options(),
            )
            break
        except KafkaError as exc:
            if time.monotonic() > deadline:
                raise ConnectionError(f"cannot reach Kafka at {settings.bootstrap_servers}: {exc}") from exc
            time.sleep(1)
    try:
        specs = topic_specs(settings)
        existing = set(admin.list_topics())
        created, present, problems = [], [], []
        missing = [s for s in specs if s.name not in existing]
        for spec in missing:
            try:
                admin.create_topics(
                    [NewTopic(spec.name, spec.partitions, spec.replication_factor, topic_configs=spec.config)]
                )
                created.append(spec.name)
            except TopicAlreadyExistsError:  # another worker won the race
                present.append(spec.name)
        for spec in specs:
            if spec.name in existing:
                present.append(spec.name)
        described = {
            t.get("name") or t.get("topic"): t
            for t in admin.describe_topics([s.name for s in specs if s.name in present])
        }
        for spec in specs:
            info = described.get(spec.name)
            if info is None:
                continue
            partitions = len(info.get("partitions") or [])
            if partitions != spec.partitions:
                problems.append(
                    f"{spec.name} has {partitions} partitions, expected {spec.partitions} "
                    "(WATCHKEEPER_PARTITIONS): co-partitioning would break"
                )
        updated, warnings = [], []
        try:
            updated = _align_retention(admin, [s for s in specs if s.name in existing])
        except KafkaError as exc:
            warnings.append(f"retention of existing topics not checked ({type(exc).__name__}): set it by hand")
        return TopicReport(created, present, problems, updated, warnings)
    finally:
        admin.close()


def _align_retention(admin: Any, specs: list[TopicSpec]) -> list[str]:
    """Set ``RETAINED`` configs that differ from the spec on existing topics (incrementally:
    nothing else a force's operators set is touched). Returns the topics changed."""
    from kafka.admin import ConfigResource, ConfigResourceType

    if not specs:
        return []
    resources = [ConfigResource(ConfigResourceType.TOPIC, s.name) for s in specs]
    described = admin.describe_configs(resources, config_filter="all").get("topic", {})
    changes = []
    for spec in specs:
        now = described.get(spec.name, {})
        wanted = {k: v for k, v in spec.config.items() if k in RETAINED and now.get(k, {}).get("value") != v}
        if wanted:
            changes.append(ConfigResource(ConfigResourceType.TOPIC, spec.name, configs=wanted))
    if changes:
        admin.alter_configs(changes, incremental=True)
    return [c.name for c in changes]
