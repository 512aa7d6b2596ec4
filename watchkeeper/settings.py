"""Settings from environment variables, with documented defaults, validated on load.

Every variable is listed in ``SETTINGS_DOC`` (printed by ``watchkeeper --help-settings``) and
in the README. A bad value fails at start-up with the variable's name, never later.
"""

from __future__ import annotations

import datetime as dt
import os
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

from agents.policy import Policy, load_policy

T = TypeVar("T")


class SettingsError(ValueError):
    """An environment variable holds a value Watchkeeper cannot use."""


SETTINGS_DOC: Final[tuple[tuple[str, str, str], ...]] = (
    (
        "WATCHKEEPER_BOOTSTRAP_SERVERS",
        "127.0.0.1:19092",
        "Kafka bootstrap servers. Set it to use an existing cluster instead of the local broker.",
    ),
    ("WATCHKEEPER_TOPIC_PREFIX", "watchkeeper", "Prefix of every topic Watchkeeper owns."),
    ("WATCHKEEPER_APP_ID", "(the topic prefix)", "Faust application id: consumer group and table changelog names."),
    ("WATCHKEEPER_PARTITIONS", "8", "Partitions of the input, ticks and alerts topics (the unit of scaling)."),
    ("WATCHKEEPER_REPLICATION_FACTOR", "1", "Replication factor of every topic; use 3 on a production cluster."),
    ("WATCHKEEPER_RETENTION_DAYS", "30", "Retention of input, alerts and dead-letter topics."),
    ("WATCHKEEPER_TICK_SECONDS", "1.0", "How often each worker checks its partitions for due deadlines."),
    (
        "WATCHKEEPER_MAX_FUTURE_SECONDS",
        "300",
        "An event timed further ahead of the worker's clock than this is dead-lettered.",
    ),
    ("WATCHKEEPER_MAX_EVENT_BYTES", "65536", "An input message larger than this is dead-lettered unread."),
    (
        "WATCHKEEPER_EARLIEST_EVENT_TIME",
        "2000-01-01",
        "An event (or a time inside its data) dated before this day, UTC, is dead-lettered as out of range.",
    ),
    (
        "WATCHKEEPER_RECORDED_SKEW_SECONDS",
        "60",
        "A recordedtime earlier than the event's time by more than this is dead-lettered.",
    ),
    (
        "WATCHKEEPER_POLICY",
        "(the built-in packs: custody, protection, missing, incidents)",
        "Policy pack YAML files, separated by ':'.",
    ),
    ("WATCHKEEPER_POLICY_OVERRIDES", "(none)", "Force override YAML files, separated by ':'; later files win."),
    (
        "WATCHKEEPER_NOTIFY",
        "(none)",
        "Notification file: receivers, escalation policies by role, routes, users, heartbeat (docs/notifications.md).",
    ),
    (
        "WATCHKEEPER_WEBHOOK_URL",
        "(none)",
        "Without WATCHKEEPER_NOTIFY: one generic receiver that gets every alert, signed if "
        "WATCHKEEPER_WEBHOOK_SECRET is set.",
    ),
    ("WATCHKEEPER_WEBHOOK_SECRET", "(none)", "Standard Webhooks secret (whsec_...) for WATCHKEEPER_WEBHOOK_URL."),
    (
        "WATCHKEEPER_WEBHOOK_FALLBACK_URL",
        "(none)",
        "Without WATCHKEEPER_NOTIFY: where a page goes, with a delivery-failure notice, when WATCHKEEPER_WEBHOOK_URL "
        "has failed past the retry budget (the page keeps being retried there too).",
    ),
    (
        "WATCHKEEPER_CONSOLE_USERS",
        "(none)",
        "Without WATCHKEEPER_NOTIFY: console users as user:viewer|inspector|admin:credential, comma-separated "
        "(credentials from `watchkeeper users add`).",
    ),
    (
        "WATCHKEEPER_SESSION_SECRET",
        "(none)",
        "Without WATCHKEEPER_NOTIFY: the key that signs console sessions (at least 32 random bytes, the same "
        "on every worker); required when WATCHKEEPER_CONSOLE_USERS is set.",
    ),
    (
        "WATCHKEEPER_METRICS_TOKEN",
        "(none)",
        "If set, /metrics answers only requests with Authorization: Bearer <this token> (set it in production).",
    ),
    ("WATCHKEEPER_RETRY_BASE_SECONDS", "1.0", "First retry backoff of a webhook delivery; doubles each attempt."),
    ("WATCHKEEPER_RETRY_CAP_SECONDS", "60", "Longest backoff between two delivery attempts."),
    ("WATCHKEEPER_RETRY_ATTEMPTS", "8", "Attempts per delivery before it goes to the fallback receiver."),
    (
        "WATCHKEEPER_DELIVERY_CONCURRENCY",
        "16",
        "Deliveries in flight at once to one receiver; each case's deliveries stay in order.",
    ),
    (
        "WATCHKEEPER_SLOW_DELIVERY_SECONDS",
        "60",
        "A page undelivered for this long is shown on the console as failing, with its receiver.",
    ),
    ("WATCHKEEPER_BREAKER_COOLDOWN_SECONDS", "30", "How long a receiver's circuit breaker stays open."),
    ("WATCHKEEPER_WEB_PORT", "6066", "Port of the worker's web server (/metrics, /console, acks)."),
    (
        "WATCHKEEPER_WEB_HOST",
        "127.0.0.1",
        "Address the web server binds to; 0.0.0.0 in a container, behind a TLS-terminating proxy.",
    ),
    (
        "WATCHKEEPER_CONSOLE",
        "on",
        "Serve the duty inspectors' console at /console; off skips building its read model (benchmarks).",
    ),
    ("WATCHKEEPER_DATA_DIR", "/tmp/watchkeeper/<app id>", "Worker state directory (table stores)."),
    (
        "WATCHKEEPER_STORE",
        "rocksdb://",
        "Faust table store. rocksdb:// keeps tables on disk under the data directory, so a restart "
        "reads only the changelog written since; memory:// replays the whole changelog into RAM.",
    ),
    (
        "WATCHKEEPER_RECOVERY_DELAY_SECONDS",
        "3.0",
        "Wait after a rebalance before recovering tables (Faust stream_recovery_delay).",
    ),
    (
        "WATCHKEEPER_SESSION_TIMEOUT_SECONDS",
        "30",
        "How long a silent (crashed) worker keeps its partitions before the group moves them.",
    ),
    ("WATCHKEEPER_LOG_LEVEL", "warning", "Worker log level."),
    (
        "WATCHKEEPER_STOP_TIMEOUT_SECONDS",
        "10",
        "After SIGTERM, a worker that has not stopped cleanly in this time (brokers down) exits anyway.",
    ),
    (
        "WATCHKEEPER_KAFKA_RECONNECT_CAP_SECONDS",
        "10",
        "Longest wait between two attempts to reach a broker that is down (doubling from 0.1 s).",
    ),
    (
        "WATCHKEEPER_KAFKA_SECURITY_PROTOCOL",
        "PLAINTEXT",
        "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL for every connection to the brokers.",
    ),
    ("WATCHKEEPER_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512."),
    ("WATCHKEEPER_KAFKA_SASL_USERNAME", "(none)", "SASL user name."),
    ("WATCHKEEPER_KAFKA_SASL_PASSWORD", "(none)", "SASL password (from a secret, never a file in the repository)."),
    ("WATCHKEEPER_KAFKA_CA_FILE", "(system CAs)", "CA bundle that signed the brokers' certificates."),
)


@dataclass(frozen=True)
class Settings:
    bootstrap_servers: str = "127.0.0.1:19092"
    topic_prefix: str = "watchkeeper"
    app_id: str = "watchkeeper"
    partitions: int = 8
    replication_factor: int = 1
    retention_days: float = 30.0
    tick_seconds: float = 1.0
    max_future_seconds: float = 300.0
    max_event_bytes: int = 65536
    earliest_event_time: dt.datetime = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    recorded_skew_seconds: float = 60.0
    policy: tuple[Path, ...] = ()
    """Policy packs; empty means the built-in packs."""
    policy_overrides: tuple[Path, ...] = ()
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_fallback_url: str | None = None
    console_users: str = ""
    session_secret: str | None = None
    metrics_token: str | None = None
    console: bool = True
    notify: Path | None = None
    retry_base_seconds: float = 1.0
    retry_cap_seconds: float = 60.0
    retry_attempts: int = 8
    breaker_cooldown_seconds: float = 30.0
    delivery_concurrency: int = 16
    slow_delivery_seconds: float = 60.0
    web_port: int = 6066
    web_host: str = "127.0.0.1"
    data_dir: Path = Path("/tmp/watchkeeper/watchkeeper")
    store: str = "rocksdb://"
    recovery_delay_seconds: float = 3.0
    session_timeout_seconds: float = 30.0
    log_level: str = "warning"
    stop_timeout_seconds: float = 10.0
    kafka_reconnect_cap_seconds: float = 10.0
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: str | None = None
    kafka_ca_file: Path | None = None

    def kafka_python_options(self) -> dict[str, object]:
        """Connection options for kafka-python clients (admin, CLI, demo, lag)."""
        options: dict[str, object] = {"security_protocol": self.kafka_security_protocol}
        if self.kafka_security_protocol.startswith("SASL"):
            options |= {
                "sasl_mechanism": self.kafka_sasl_mechanism,
                "sasl_plain_username": self.kafka_sasl_username,
                "sasl_plain_password": self.kafka_sasl_password,
            }
        if self.kafka_ca_file is not None:
            options["ssl_cafile"] = str(self.kafka_ca_file)
        return options

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.kafka_security_protocol.endswith("SSL"):
            return None
        return ssl.create_default_context(cafile=str(self.kafka_ca_file) if self.kafka_ca_file else None)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        def get(
            name: str,
            parse: Callable[[str], T],
            default: T,
            check: Callable[[T], bool] = lambda _: True,
            hint: str = "",
        ) -> T:
            raw = environ.get(name, "").strip()
            if not raw:
                return default
            try:
                value = parse(raw)
            except ValueError:
                raise SettingsError(f"{name}={raw!r}: {hint or 'invalid value'}") from None
            if not check(value):
                raise SettingsError(f"{name}={raw!r}: {hint or 'out of range'}")
            return value

        prefix = get(
            "WATCHKEEPER_TOPIC_PREFIX",
            str,
            "watchkeeper",
            lambda v: v.replace("-", "").replace("_", "").replace(".", "").isalnum(),
            "letters, digits, '.', '_' and '-' only",
        )
        app_id = get("WATCHKEEPER_APP_ID", str, prefix)
        positive = "a number greater than zero"
        return cls(
            bootstrap_servers=get(
                "WATCHKEEPER_BOOTSTRAP_SERVERS", str, "127.0.0.1:19092", lambda v: ":" in v, "host:port[,host:port...]"
            ),
            topic_prefix=prefix,
            app_id=app_id,
            partitions=get("WATCHKEEPER_PARTITIONS", int, 8, lambda v: 1 <= v <= 1024, "a whole number from 1 to 1024"),
            replication_factor=get(
                "WATCHKEEPER_REPLICATION_FACTOR", int, 1, lambda v: 1 <= v <= 7, "a whole number from 1 to 7"
            ),
            retention_days=get("WATCHKEEPER_RETENTION_DAYS", float, 30.0, lambda v: v > 0, positive),
            tick_seconds=get(
                "WATCHKEEPER_TICK_SECONDS", float, 1.0, lambda v: 0.05 <= v <= 60, "seconds from 0.05 to 60"
            ),
            max_future_seconds=get(
                "WATCHKEEPER_MAX_FUTURE_SECONDS", float, 300.0, lambda v: v >= 0, "seconds, zero or more"
            ),
            max_event_bytes=get(
                "WATCHKEEPER_MAX_EVENT_BYTES", int, 65536, lambda v: 1024 <= v <= 10_000_000, "bytes, 1024 to 10000000"
            ),
            earliest_event_time=get(
                "WATCHKEEPER_EARLIEST_EVENT_TIME",
                lambda v: dt.datetime.combine(dt.date.fromisoformat(v), dt.time(), dt.UTC),
                dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
                lambda v: v.year >= 1900,
                "a date as YYYY-MM-DD, 1900 or later",
            ),
            recorded_skew_seconds=get(
                "WATCHKEEPER_RECORDED_SKEW_SECONDS", float, 60.0, lambda v: v >= 0, "seconds, zero or more"
            ),
            policy=tuple(Path(p) for p in environ.get("WATCHKEEPER_POLICY", "").split(os.pathsep) if p.strip()),
            policy_overrides=tuple(
                Path(p) for p in environ.get("WATCHKEEPER_POLICY_OVERRIDES", "").split(os.pathsep) if p.strip()
            ),
            webhook_url=get(
                "WATCHKEEPER_WEBHOOK_URL",
                str,
                None,
                lambda v: v is not None and v.startswith(("http://", "https://")),
                "an http:// or https:// URL",
            ),
            webhook_secret=get("WATCHKEEPER_WEBHOOK_SECRET", str, None),
            webhook_fallback_url=get(
                "WATCHKEEPER_WEBHOOK_FALLBACK_URL",
                str,
                None,
                lambda v: v is not None and v.startswith(("http://", "https://")),
                "an http:// or https:// URL",
            ),
            console_users=get("WATCHKEEPER_CONSOLE_USERS", str, ""),
            session_secret=get("WATCHKEEPER_SESSION_SECRET", str, None),
            metrics_token=get(
                "WATCHKEEPER_METRICS_TOKEN",
                str,
                None,
                lambda v: v is not None and len(v) >= 32,
                "at least 32 characters",
            ),
            console=get("WATCHKEEPER_CONSOLE", lambda v: v.lower() in ("on", "1", "true", "yes"), True),
            notify=get("WATCHKEEPER_NOTIFY", Path, None, lambda v: v is not None and v.is_file(), "an existing file"),
            retry_base_seconds=get("WATCHKEEPER_RETRY_BASE_SECONDS", float, 1.0, lambda v: v > 0, "seconds above 0"),
            retry_cap_seconds=get("WATCHKEEPER_RETRY_CAP_SECONDS", float, 60.0, lambda v: v > 0, "seconds above 0"),
            retry_attempts=get("WATCHKEEPER_RETRY_ATTEMPTS", int, 8, lambda v: 1 <= v <= 100, "from 1 to 100"),
            breaker_cooldown_seconds=get(
                "WATCHKEEPER_BREAKER_COOLDOWN_SECONDS", float, 30.0, lambda v: v >= 0, "seconds, zero or more"
            ),
            delivery_concurrency=get(
                "WATCHKEEPER_DELIVERY_CONCURRENCY", int, 16, lambda v: 1 <= v <= 256, "a whole number from 1 to 256"
            ),
            slow_delivery_seconds=get(
                "WATCHKEEPER_SLOW_DELIVERY_SECONDS", float, 60.0, lambda v: v >= 1, "seconds, 1 or more"
            ),
            web_port=get("WATCHKEEPER_WEB_PORT", int, 6066, lambda v: 0 <= v <= 65535, "a TCP port"),
            web_host=get("WATCHKEEPER_WEB_HOST", str, "127.0.0.1"),
            data_dir=get("WATCHKEEPER_DATA_DIR", Path, Path("/tmp/watchkeeper") / app_id),
            store=get(
                "WATCHKEEPER_STORE",
                str,
                "rocksdb://",
                lambda v: v in ("memory://", "rocksdb://"),
                "memory:// or rocksdb://",
            ),
            recovery_delay_seconds=get(
                "WATCHKEEPER_RECOVERY_DELAY_SECONDS", float, 3.0, lambda v: v >= 0, "seconds, zero or more"
            ),
            session_timeout_seconds=get(
                "WATCHKEEPER_SESSION_TIMEOUT_SECONDS", float, 30.0, lambda v: 6 <= v <= 300, "seconds from 6 to 300"
            ),
            kafka_security_protocol=get(
                "WATCHKEEPER_KAFKA_SECURITY_PROTOCOL",
                str.upper,
                "PLAINTEXT",
                lambda v: v in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"),
                "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
            ),
            kafka_sasl_mechanism=get(
                "WATCHKEEPER_KAFKA_SASL_MECHANISM",
                str.upper,
                "SCRAM-SHA-512",
                lambda v: v in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"),
                "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
            ),
            kafka_sasl_username=get("WATCHKEEPER_KAFKA_SASL_USERNAME", str, None),
            kafka_sasl_password=get("WATCHKEEPER_KAFKA_SASL_PASSWORD", str, None),
            kafka_ca_file=get(
                "WATCHKEEPER_KAFKA_CA_FILE", Path, None, lambda v: v is not None and v.is_file(), "an existing file"
            ),
            stop_timeout_seconds=get(
                "WATCHKEEPER_STOP_TIMEOUT_SECONDS", float, 10.0, lambda v: 1 <= v <= 600, "seconds from 1 to 600"
            ),
            kafka_reconnect_cap_seconds=get(
                "WATCHKEEPER_KAFKA_RECONNECT_CAP_SECONDS", float, 10.0, lambda v: 0.1 <= v <= 300, "seconds, 0.1 to 300"
            ),
            log_level=get(
                "WATCHKEEPER_LOG_LEVEL",
                str.lower,
                "warning",
                lambda v: v in ("debug", "info", "warning", "error"),
                "debug, info, warning or error",
            ),
        )


def policy_of(settings: Settings) -> Policy:
    """The policy a worker with these settings runs: its packs (the built-in ones by default)
    and its force overrides."""
    return load_policy(settings.policy or None, settings.policy_overrides)


def settings_help() -> str:
    width = max(len(name) for name, _, _ in SETTINGS_DOC)
    return "\n".join(f"  {name:<{width}}  {text} Default: {default}." for name, default, text in SETTINGS_DOC)
