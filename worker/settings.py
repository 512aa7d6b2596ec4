"""Settings from environment variables, with documented defaults, validated on load.

Each setting is declared once, as a field of ``Settings``: its default, its variable, how it
is parsed and checked, and what it means. ``Settings.from_env`` reads them,
``settings_table()`` documents them (the README's table is checked against it), and a bad
value fails at start-up with the variable's name, never later.

The shell alone reads settings. What the pure core needs from them is handed over as data:
the policy (``policy_of``), the notification configuration (``notify_config_of``) and the
input limits (``input_limits``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from agents.policy import Policy, load_policy
from alerts.config import ConfigError, NotifyConfig, from_settings, load, parse_console_users
from streams.validation import InputLimits


class SettingsError(ValueError):
    """An environment variable holds a value Watchkeeper cannot use."""


@dataclass(frozen=True)
class _Spec:
    env: str
    doc: str
    parse: Callable[[str], Any]
    check: Callable[[Any], bool] | None
    hint: str
    shown: str | None
    """The default as the documentation shows it, where its value does not say it well."""


def _setting(
    env: str,
    default: Any,
    doc: str,
    parse: Callable[[str], Any] = str,
    check: Callable[[Any], bool] | None = None,
    hint: str = "",
    shown: str | None = None,
) -> Any:
    return dataclasses.field(default=default, metadata={"spec": _Spec(env, doc, parse, check, hint, shown)})


def _paths(text: str) -> tuple[Path, ...]:
    return tuple(Path(p) for p in text.split(os.pathsep) if p.strip())


def _day(text: str) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(), dt.UTC)


def _switch(text: str) -> bool:
    """on or off, and their usual spellings; anything else is an error, never a silent off."""
    word = text.strip().lower()
    if word not in ("on", "1", "true", "yes", "off", "0", "false", "no"):
        raise ValueError(text)
    return word in ("on", "1", "true", "yes")


def _console_users_ok(value: str) -> bool:
    try:
        parse_console_users(value)
    except ConfigError:
        return False
    return True


def _url(value: str) -> bool:
    return value.startswith(("http://", "https://"))


_POSITIVE: Final = "a number greater than zero"
_SECONDS_OR_MORE: Final = "seconds, zero or more"


@dataclass(frozen=True)
class Settings:
    bootstrap_servers: str = _setting(
        "WATCHKEEPER_BOOTSTRAP_SERVERS",
        "127.0.0.1:19092",
        "Kafka bootstrap servers. Set it to use an existing cluster instead of the local broker.",
        check=lambda v: ":" in v,
        hint="host:port[,host:port...]",
    )
    topic_prefix: str = _setting(
        "WATCHKEEPER_TOPIC_PREFIX",
        "watchkeeper",
        "Prefix of every topic Watchkeeper owns.",
        check=lambda v: v.replace("-", "").replace("_", "").replace(".", "").isalnum(),
        hint="letters, digits, '.', '_' and '-' only",
    )
    app_id: str = _setting(
        "WATCHKEEPER_APP_ID",
        "watchkeeper",
        "Faust application id: consumer group and table changelog names.",
        shown="(the topic prefix)",
    )
    partitions: int = _setting(
        "WATCHKEEPER_PARTITIONS",
        8,
        "Partitions of the input, ticks and alerts topics (the unit of scaling).",
        int,
        lambda v: 1 <= v <= 1024,
        "a whole number from 1 to 1024",
    )
    replication_factor: int = _setting(
        "WATCHKEEPER_REPLICATION_FACTOR",
        1,
        "Replication factor of every topic; use 3 on a production cluster.",
        int,
        lambda v: 1 <= v <= 7,
        "a whole number from 1 to 7",
    )
    retention_days: float = _setting(
        "WATCHKEEPER_RETENTION_DAYS",
        30.0,
        "Retention of input, alerts and dead-letter topics.",
        float,
        lambda v: v > 0,
        _POSITIVE,
        shown="30",
    )
    record_retention_days: float = _setting(
        "WATCHKEEPER_RECORD_RETENTION_DAYS",
        0.0,
        "Retention of the record: alerts, the audit (alert-transitions), acknowledgements and delivery "
        "receipts. 0 keeps them for ever; a force sets its own custody-record retention (docs/operations.md).",
        float,
        lambda v: v == 0 or v >= 7 * 365,
        "0 (for ever) or at least 2555 (7 years): the record outlives the custody record it explains",
        shown="0 (for ever)",
    )
    tick_seconds: float = _setting(
        "WATCHKEEPER_TICK_SECONDS",
        0.5,
        "How often each worker checks its partitions for due deadlines: a deadline waits up to this "
        "long after its instant, so 0.5 s keeps the 99th percentile deadline-to-alert lag under 1 s.",
        float,
        lambda v: 0.05 <= v <= 60,
        "seconds from 0.05 to 60",
    )
    max_future_seconds: float = _setting(
        "WATCHKEEPER_MAX_FUTURE_SECONDS",
        300.0,
        "An event timed further ahead of the worker's clock than this is dead-lettered.",
        float,
        lambda v: v >= 0,
        _SECONDS_OR_MORE,
        shown="300",
    )
    max_event_bytes: int = _setting(
        "WATCHKEEPER_MAX_EVENT_BYTES",
        65536,
        "An input message larger than this is dead-lettered unread.",
        int,
        lambda v: 1024 <= v <= 10_000_000,
        "bytes, 1024 to 10000000",
    )
    ingest_max_bytes: int = _setting(
        "WATCHKEEPER_INGEST_MAX_BYTES",
        1_048_576,
        "The largest body POST /events reads (a batch); a larger one is refused with 413.",
        int,
        lambda v: 1024 <= v <= 100_000_000,
        "bytes, 1024 to 100000000",
    )
    ingest_in_flight: int = _setting(
        "WATCHKEEPER_INGEST_IN_FLIGHT",
        1000,
        "Events POST /events may have waiting for the broker at once; beyond it, 429 with Retry-After.",
        int,
        lambda v: 1 <= v <= 1_000_000,
        "events, 1 to 1000000",
    )
    earliest_event_time: dt.datetime = _setting(
        "WATCHKEEPER_EARLIEST_EVENT_TIME",
        dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
        "An event (or a time inside its data) dated before this day, UTC, is dead-lettered as out of range.",
        _day,
        lambda v: v.year >= 1900,
        "a date as YYYY-MM-DD, 1900 or later",
        shown="2000-01-01",
    )
    recorded_skew_seconds: float = _setting(
        "WATCHKEEPER_RECORDED_SKEW_SECONDS",
        60.0,
        "A recordedtime earlier than the event's time by more than this is dead-lettered.",
        float,
        lambda v: v >= 0,
        _SECONDS_OR_MORE,
        shown="60",
    )
    policy: tuple[Path, ...] = _setting(
        "WATCHKEEPER_POLICY",
        (),
        "Policy pack YAML files, separated by ':'.",
        _paths,
        shown="(the built-in packs: custody, protection, missing, incidents, first_contact, investigations, offenders)",
    )
    policy_overrides: tuple[Path, ...] = _setting(
        "WATCHKEEPER_POLICY_OVERRIDES",
        (),
        "Force override YAML files, separated by ':'; later files win.",
        _paths,
        shown="(none)",
    )
    notify: Path | None = _setting(
        "WATCHKEEPER_NOTIFY",
        None,
        "Notification file: receivers, escalation policies by role, routes, users, heartbeat (docs/notifications.md).",
        Path,
        lambda v: v.is_file(),
        "an existing file",
    )
    webhook_url: str | None = _setting(
        "WATCHKEEPER_WEBHOOK_URL",
        None,
        "Without WATCHKEEPER_NOTIFY: one generic receiver that gets every alert, signed if "
        "WATCHKEEPER_WEBHOOK_SECRET is set.",
        check=_url,
        hint="an http:// or https:// URL",
    )
    webhook_secret: str | None = _setting(
        "WATCHKEEPER_WEBHOOK_SECRET", None, "Standard Webhooks secret (whsec_...) for WATCHKEEPER_WEBHOOK_URL."
    )
    webhook_fallback_url: str | None = _setting(
        "WATCHKEEPER_WEBHOOK_FALLBACK_URL",
        None,
        "Without WATCHKEEPER_NOTIFY: where a page goes, with a delivery-failure notice, when WATCHKEEPER_WEBHOOK_URL "
        "has failed past the retry budget (the page keeps being retried there too).",
        check=_url,
        hint="an http:// or https:// URL",
    )
    console_users: str = _setting(
        "WATCHKEEPER_CONSOLE_USERS",
        "",
        "Without WATCHKEEPER_NOTIFY: console users as user:viewer|inspector|admin:credential, comma-separated "
        "(credentials from `watchkeeper users add`).",
        check=_console_users_ok,
        hint="user:viewer|inspector|admin|ingest:credential entries, comma-separated, each credential from "
        "`watchkeeper users add`",
    )
    session_secret: str | None = _setting(
        "WATCHKEEPER_SESSION_SECRET",
        None,
        "Without WATCHKEEPER_NOTIFY: the key that signs console sessions (at least 32 random bytes, the same "
        "on every worker); required when WATCHKEEPER_CONSOLE_USERS is set.",
    )
    metrics_token: str | None = _setting(
        "WATCHKEEPER_METRICS_TOKEN",
        None,
        "If set, /metrics answers only requests with Authorization: Bearer <this token> (set it in production).",
        check=lambda v: len(v) >= 32,
        hint="at least 32 characters",
    )
    retry_base_seconds: float = _setting(
        "WATCHKEEPER_RETRY_BASE_SECONDS",
        1.0,
        "First retry backoff of a webhook delivery; doubles each attempt.",
        float,
        lambda v: v > 0,
        "seconds above 0",
    )
    retry_cap_seconds: float = _setting(
        "WATCHKEEPER_RETRY_CAP_SECONDS",
        60.0,
        "Longest backoff between two delivery attempts.",
        float,
        lambda v: v > 0,
        "seconds above 0",
        shown="60",
    )
    retry_attempts: int = _setting(
        "WATCHKEEPER_RETRY_ATTEMPTS",
        8,
        "Attempts per delivery before it goes to the fallback receiver.",
        int,
        lambda v: 1 <= v <= 100,
        "from 1 to 100",
    )
    delivery_concurrency: int = _setting(
        "WATCHKEEPER_DELIVERY_CONCURRENCY",
        16,
        "Deliveries in flight at once to one receiver; each case's deliveries stay in order.",
        int,
        lambda v: 1 <= v <= 256,
        "a whole number from 1 to 256",
    )
    slow_delivery_seconds: float = _setting(
        "WATCHKEEPER_SLOW_DELIVERY_SECONDS",
        60.0,
        "A page undelivered for this long is shown on the console as failing, with its receiver.",
        float,
        lambda v: v >= 1,
        "seconds, 1 or more",
        shown="60",
    )
    breaker_cooldown_seconds: float = _setting(
        "WATCHKEEPER_BREAKER_COOLDOWN_SECONDS",
        30.0,
        "How long a receiver's circuit breaker stays open.",
        float,
        lambda v: v >= 0,
        _SECONDS_OR_MORE,
        shown="30",
    )
    web_port: int = _setting(
        "WATCHKEEPER_WEB_PORT",
        6066,
        "Port of the worker's web server (/metrics, /console, acks).",
        int,
        lambda v: 0 <= v <= 65535,
        "a TCP port",
    )
    web_host: str = _setting(
        "WATCHKEEPER_WEB_HOST",
        "127.0.0.1",
        "Address the web server binds to; 0.0.0.0 in a container, behind a TLS-terminating proxy.",
    )
    console: bool = _setting(
        "WATCHKEEPER_CONSOLE",
        True,
        "Serve the duty inspectors' console at /console; off skips building its read model (benchmarks).",
        _switch,
        hint="on or off",
        shown="on",
    )
    data_dir: Path = _setting(
        "WATCHKEEPER_DATA_DIR",
        Path("/tmp/watchkeeper/watchkeeper"),
        "Worker state directory (table stores).",
        Path,
        shown="/tmp/watchkeeper/<app id>",
    )
    store: str = _setting(
        "WATCHKEEPER_STORE",
        "rocksdb://",
        "Faust table store. rocksdb:// keeps tables on disk under the data directory, so a restart "
        "reads only the changelog written since; memory:// replays the whole changelog into RAM.",
        check=lambda v: v in ("memory://", "rocksdb://"),
        hint="memory:// or rocksdb://",
    )
    rocksdb_memory_mb: int = _setting(
        "WATCHKEEPER_ROCKSDB_MEMORY_MB",
        16,
        "Memory each table partition's RocksDB may hold, in MB: half for its two write buffers, half "
        "for its block cache. Faust's defaults (three 64 MB write buffers and a 2 GB cache per "
        "partition) let a worker grow with its tables' partitions, not with its cases.",
        int,
        lambda v: 4 <= v <= 4096,
        "a whole number of MB from 4 to 4096",
    )
    recovery_delay_seconds: float = _setting(
        "WATCHKEEPER_RECOVERY_DELAY_SECONDS",
        3.0,
        "Wait after a rebalance before recovering tables (Faust stream_recovery_delay).",
        float,
        lambda v: v >= 0,
        _SECONDS_OR_MORE,
    )
    session_timeout_seconds: float = _setting(
        "WATCHKEEPER_SESSION_TIMEOUT_SECONDS",
        30.0,
        "How long a silent (crashed) worker keeps its partitions before the group moves them.",
        float,
        lambda v: 6 <= v <= 300,
        "seconds from 6 to 300",
        shown="30",
    )
    log_level: str = _setting(
        "WATCHKEEPER_LOG_LEVEL",
        "warning",
        "Worker log level.",
        str.lower,
        lambda v: v in ("debug", "info", "warning", "error"),
        "debug, info, warning or error",
    )
    stop_timeout_seconds: float = _setting(
        "WATCHKEEPER_STOP_TIMEOUT_SECONDS",
        10.0,
        "After SIGTERM, a worker that has not stopped cleanly in this time (brokers down) exits anyway.",
        float,
        lambda v: 1 <= v <= 600,
        "seconds from 1 to 600",
        shown="10",
    )
    kafka_reconnect_cap_seconds: float = _setting(
        "WATCHKEEPER_KAFKA_RECONNECT_CAP_SECONDS",
        10.0,
        "Longest wait between two attempts to reach a broker that is down (doubling from 0.1 s).",
        float,
        lambda v: 0.1 <= v <= 300,
        "seconds, 0.1 to 300",
        shown="10",
    )
    kafka_security_protocol: str = _setting(
        "WATCHKEEPER_KAFKA_SECURITY_PROTOCOL",
        "PLAINTEXT",
        "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL for every connection to the brokers.",
        str.upper,
        lambda v: v in ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"),
        "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
    )
    kafka_sasl_mechanism: str = _setting(
        "WATCHKEEPER_KAFKA_SASL_MECHANISM",
        "SCRAM-SHA-512",
        "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.",
        str.upper,
        lambda v: v in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"),
        "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
    )
    kafka_sasl_username: str | None = _setting("WATCHKEEPER_KAFKA_SASL_USERNAME", None, "SASL user name.")
    kafka_sasl_password: str | None = _setting(
        "WATCHKEEPER_KAFKA_SASL_PASSWORD", None, "SASL password (from a secret, never a file in the repository)."
    )
    kafka_ca_file: Path | None = _setting(
        "WATCHKEEPER_KAFKA_CA_FILE",
        None,
        "CA bundle that signed the brokers' certificates.",
        Path,
        lambda v: v.is_file(),
        "an existing file",
        shown="(system CAs)",
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            spec: _Spec = f.metadata["spec"]
            raw = environ.get(spec.env, "").strip()
            if raw:
                values[f.name] = _parse(spec, raw)
        # Two defaults follow other settings: the app id is the prefix, and each app its own data.
        values.setdefault("app_id", values.get("topic_prefix", cls.topic_prefix))
        values.setdefault("data_dir", Path("/tmp/watchkeeper") / values["app_id"])
        return cls(**values)

    # ------------------------------------------------------------------ connections
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

    def aiokafka_options(self) -> dict[str, Any]:
        """Connection options for the workers' own aiokafka consumers (console feed, access log,
        probe): kafka-python's, with an SSL context instead of a CA file."""
        shared = ("security_protocol", "sasl_mechanism", "sasl_plain_username", "sasl_plain_password")
        connection: dict[str, Any] = {k: v for k, v in self.kafka_python_options().items() if k in shared}
        if (context := self.ssl_context()) is not None:
            connection["ssl_context"] = context
        return connection

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.kafka_security_protocol.endswith("SSL"):
            return None
        return ssl.create_default_context(cafile=str(self.kafka_ca_file) if self.kafka_ca_file else None)


def _parse(spec: _Spec, raw: str) -> Any:
    try:
        value = spec.parse(raw)
    except ValueError:
        raise SettingsError(f"{spec.env}={raw!r}: {spec.hint or 'invalid value'}") from None
    if spec.check is not None and not spec.check(value):
        raise SettingsError(f"{spec.env}={raw!r}: {spec.hint or 'out of range'}")
    return value


def _shown(field: dataclasses.Field[Any]) -> str:
    spec: _Spec = field.metadata["spec"]
    if spec.shown is not None:
        return spec.shown
    return "(none)" if field.default is None or field.default == "" else str(field.default)


SETTINGS_DOC: Final[tuple[tuple[str, str, str], ...]] = tuple(
    (f.metadata["spec"].env, _shown(f), f.metadata["spec"].doc) for f in dataclasses.fields(Settings)
)
"""(variable, default as shown, meaning) of every setting, in declaration order."""


def settings_help() -> str:
    width = max(len(name) for name, _, _ in SETTINGS_DOC)
    return "\n".join(f"  {name:<{width}}  {text} Default: {default}." for name, default, text in SETTINGS_DOC)


def settings_table() -> str:
    """The README's settings table, as Markdown."""
    rows = [f"| `{name}` | `{default}` | {text} |" for name, default, text in SETTINGS_DOC]
    return "\n".join(["| variable | default | meaning |", "|---|---|---|", *rows])


# ----------------------------------------------------------------------------- what the core gets
def policy_of(settings: Settings) -> Policy:
    """The policy a worker with these settings runs: its packs (the built-in ones by default)
    and its force overrides, in order."""
    return load_policy(settings.policy or None, settings.policy_overrides)


FILE_INSTEAD: Final = (
    ("webhook_url", "WATCHKEEPER_WEBHOOK_URL"),
    ("webhook_secret", "WATCHKEEPER_WEBHOOK_SECRET"),
    ("webhook_fallback_url", "WATCHKEEPER_WEBHOOK_FALLBACK_URL"),
    ("console_users", "WATCHKEEPER_CONSOLE_USERS"),
    ("session_secret", "WATCHKEEPER_SESSION_SECRET"),
)
"""Settings a notification file replaces: set beside one, they would be ignored without a word."""


def notify_config_of(settings: Settings, environ: Mapping[str, str] = os.environ) -> NotifyConfig:
    """The notification file if ``WATCHKEEPER_NOTIFY`` names one, else the settings' minimal one."""
    if settings.notify:
        ignored = [env for name, env in FILE_INSTEAD if getattr(settings, name)]
        if ignored:
            raise ConfigError(
                f"{', '.join(ignored)}: not used with WATCHKEEPER_NOTIFY ({settings.notify}): "
                "put receivers, users and keys in that file"
            )
        return load(settings.notify, environ)
    return from_settings(
        settings.webhook_url,
        settings.webhook_secret,
        settings.console_users,
        settings.session_secret,
        settings.webhook_fallback_url,
    )


def input_limits(settings: Settings) -> InputLimits:
    return InputLimits(
        max_bytes=settings.max_event_bytes,
        earliest=settings.earliest_event_time,
        max_future=dt.timedelta(seconds=settings.max_future_seconds),
        recorded_skew=dt.timedelta(seconds=settings.recorded_skew_seconds),
    )
