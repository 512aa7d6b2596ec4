"""The Faust application: one per worker process, configured from the environment.

Importing this module creates the app; ``agents`` and ``alerts`` (dispatch, outbox, ack) register their
agents on it. Settings that the Faust notes (../shared/reference/faust-notes.md) flag are
set deliberately here: at-least-once processing, table data not served over HTTP, and the
replication factor taken from settings rather than Faust's default of 1.
"""

from __future__ import annotations

from typing import Any

import faust
from faust.sensors.prometheus import setup_prometheus_sensors

from agents.policy import Policy, load_policy
from alerts.config import NotifyConfig, for_settings
from streams import web_guard
from streams.contract import DOMAINS
from streams.stall_guard import RecordProbe, refuse_gaps, verify_gaps
from streams.topics import input_topic, internal_topics
from streams.validation import InputLimits, input_limits
from watchkeeper.settings import Settings

RAW_TABLE = {"key_type": bytes, "value_type": bytes}
"""Tables whose keys and values we encode ourselves. Faust derives a table's *changelog*
serializers from key_type/value_type (bytes → raw) and ignores ``schema`` for that, so a
Schema alone writes and recovers the changelog as JSON and recovery fails after a restart."""

settings: Settings = Settings.from_env()
policy: Policy = load_policy(settings.policy or None, settings.policy_overrides)
limits: InputLimits = input_limits(settings)
notify_config: NotifyConfig = for_settings(settings)


def broker_credentials(settings: Settings) -> faust.types.auth.CredentialsT | None:
    """SASL and/or TLS to the brokers, from WATCHKEEPER_KAFKA_* (docs/operations.md)."""
    context = settings.ssl_context()
    if settings.kafka_security_protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=settings.kafka_sasl_username,
            password=settings.kafka_sasl_password,
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=context,
        )
    return faust.SSLCredentials(context) if context is not None else None


app = faust.App(
    settings.app_id,
    broker=[f"kafka://{server.strip()}" for server in settings.bootstrap_servers.split(",")],
    store=settings.store,
    datadir=str(settings.data_dir),
    autodiscover=False,
    processing_guarantee="at_least_once",
    topic_partitions=settings.partitions,
    topic_replication_factor=settings.replication_factor,
    topic_allow_declare=True,  # Faust's own changelog and leader topics
    consumer_auto_offset_reset="earliest",
    stream_recovery_delay=settings.recovery_delay_seconds,
    broker_session_timeout=settings.session_timeout_seconds,
    broker_heartbeat_interval=settings.session_timeout_seconds / 10,
    web_port=settings.web_port,
    web_host=settings.web_host,
    web_bind=settings.web_host,
    web_tables_enabled=False,
    web_router_enabled=False,
    producer_acks=-1,
    broker_credentials=broker_credentials(settings),
    web_application_options={"middlewares": [web_guard.middleware(settings.metrics_token)]},
)
web_guard.install(app.web.web_app)

# /metrics: Faust's Prometheus sensor (streams, tables, commits, rebalances, as faust_*) and
# Watchkeeper's own metrics (streams/metrics.py, as watchkeeper_*), from one registry.
setup_prometheus_sensors(app, pattern="/metrics", name_prefix="faust")


def aiokafka_options() -> dict[str, Any]:
    """Connection options for the workers' own aiokafka consumers (console feed, access log)."""
    options = settings.kafka_python_options()
    connection: dict[str, Any] = {"security_protocol": options["security_protocol"]}
    if settings.kafka_security_protocol.startswith("SASL"):
        connection |= {k: options[k] for k in ("sasl_mechanism", "sasl_plain_username", "sasl_plain_password")}
    if (context := settings.ssl_context()) is not None:
        connection["ssl_context"] = context
    return connection


# Faust may not treat skipped offsets as processed: never on internal topics, and on input
# topics only once a check finds no record there (streams/stall_guard.py, docs/design.md).
record_probe = RecordProbe(settings.bootstrap_servers, **aiokafka_options())
"""Whether records (not just markers) lie in an offset range: gaps, stalls and backlogs ask it."""
refuse_gaps(internal_topics(settings))
verify_gaps([input_topic(settings, domain) for domain in DOMAINS], record_probe)
