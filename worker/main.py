"""The one wiring point: ``build(settings)`` assembles a worker, ``run(worker)`` runs it.

``build`` creates the Faust app and registers on it every agent, table, timer, task and web
route, each built from the settings and handed its parts: nothing is created by importing a
module, and nothing but this function and the CLI reads the settings. It returns the parts
(``Worker``), so a test can assemble a worker with its own settings and reach any of them.

Settings that the Faust notes (../shared/reference/faust-notes.md) flag are set deliberately
here: at-least-once processing, table data not served over HTTP, and the replication factor
taken from settings rather than Faust's default of 1.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import faust
from aiohttp import web
from faust.sensors.prometheus import setup_prometheus_sensors
from faust.types import TableT, TopicT
from faust.web.drivers.aiohttp import Web as AiohttpWeb
from prometheus_client import CollectorRegistry

from agents.policy import Policy
from alerts.board.view import Board
from alerts.config import NotifyConfig
from alerts.retry import RetryPolicy
from streams.contract import DOMAINS, Domain
from worker import topics
from worker.broker_outage import StopWatchdog, install_repeat_filter, reconnect_backoff
from worker.channels import acked, produced
from worker.deadletter import DeadLetters
from worker.dispatcher import Dispatcher
from worker.domains import ConsumerOffsets, DomainAgent
from worker.due_index import DueIndex
from worker.health import Health
from worker.lag import ConsumerLag
from worker.metrics import Metrics
from worker.outbox import Outbox
from worker.settings import Settings, input_limits, notify_config_of, policy_of
from worker.silences import SilenceLog
from worker.stall_guard import GapPolicy, RecordProbe, StallGuard, install_gap_policy
from worker.ticks import Ticks
from worker.web import guard
from worker.web.ack import Acknowledgements, AckRoutes
from worker.web.console import CaseViews, ConsoleRoutes, Hub, update_gauges
from worker.web.door import Door
from worker.web.feed import BoardFeed, Holds
from worker.web.ingest import Ingest
from worker.web.silences import SilenceRoutes

STALL_CHECK_SECONDS = 5.0
RESUME_PENDING_SECONDS = 5.0
LAG_SECONDS = 15.0
GAUGE_SECONDS = 5.0


def rocksdb_options(memory_mb: int) -> dict[str, int]:
    """Faust's RocksDB options for one table partition within ``memory_mb``."""
    quarter = memory_mb * 1024 * 1024 // 4
    return {
        "write_buffer_size": quarter,
        "max_write_buffer_number": 2,
        "block_cache_size": 2 * quarter,
        "block_cache_compressed_size": quarter,
    }


@dataclass
class Worker:
    """An assembled worker: the Faust app, and every part registered on it."""

    settings: Settings
    policy: Policy
    notify: NotifyConfig
    app: faust.App
    metrics: Metrics
    domains: dict[Domain, DomainAgent]
    dispatcher: Dispatcher
    outbox: Outbox
    ticks: Ticks
    door: Door
    acknowledgements: Acknowledgements
    gaps: GapPolicy
    stall_guard: StallGuard
    board: Board | None
    """The console's read model; None with ``WATCHKEEPER_CONSOLE=off``."""
    case_views: CaseViews | None
    """Who looked at which case, to the audit topic; None without the console."""
    hub: Hub | None
    """The console's live stream fan-out; None without the console."""
    health: Health
    ingest: Ingest
    silences: SilenceLog

    def routes(self) -> list[str]:
        """Every path the web server answers, Faust's own ``/metrics`` included once it starts."""
        return sorted({r.resource.canonical for r in web_application(self.app).router.routes() if r.resource})


def build(
    settings: Settings,
    *,
    policy: Policy | None = None,
    notify: NotifyConfig | None = None,
    registry: CollectorRegistry | None = None,
) -> Worker:
    """Assemble a worker. ``policy`` and ``notify`` default to what the settings name; a fresh
    metrics ``registry`` is made unless one is given."""
    policy = policy if policy is not None else policy_of(settings)
    notify = notify if notify is not None else notify_config_of(settings)
    metrics = Metrics(registry if registry is not None else CollectorRegistry())
    app = faust_app(settings)
    parts = _Assembly(settings, policy, notify, metrics, app)
    domains, case_tables = parts.domain_agents()
    silences = parts.silence_log()
    dispatcher, records = parts.dispatcher(silences)
    outbox, pending = parts.outbox()
    door, acknowledgements = parts.door()
    SilenceRoutes(door, silences).install(parts.web_app.router)
    board, case_views, hub = None, None, None
    if settings.console:
        changelogs: dict[str, Holds] = {t.changelog_topic.get_topic_name(): "case" for t in case_tables}
        changelogs[records.changelog_topic.get_topic_name()] = "alert"
        changelogs[pending.changelog_topic.get_topic_name()] = "delivery"
        board, case_views, hub = parts.console(door, acknowledgements, changelogs, silences)
    gaps, stall_guard = parts.guards()
    health = parts.health(silences)
    ingest = parts.ingest(door)
    return Worker(
        settings,
        policy,
        notify,
        app,
        metrics,
        domains,
        dispatcher,
        outbox,
        parts.ticks,
        door,
        acknowledgements,
        gaps,
        stall_guard,
        board,
        case_views,
        hub,
        health,
        ingest,
        silences,
    )


@dataclass
class _Assembly:
    """What every part of one worker is built from, and the registrations they share."""

    settings: Settings
    policy: Policy
    notify: NotifyConfig
    metrics: Metrics
    app: faust.App
    ticks: Ticks = field(init=False)
    probe: RecordProbe = field(init=False)
    dead_letters: DeadLetters = field(init=False)
    web_app: web.Application = field(init=False)

    def __post_init__(self) -> None:
        self.web_app = web_application(self.app)
        guard.install(self.web_app)
        # /metrics: Faust's Prometheus sensor (streams, tables, commits, rebalances, as faust_*) and
        # Watchkeeper's own metrics (worker/metrics.py, as watchkeeper_*), from one registry.
        setup_prometheus_sensors(self.app, pattern="/metrics", registry=self.metrics.registry, name_prefix="faust")
        self.ticks = Ticks(self.app)
        self.probe = RecordProbe(self.settings.bootstrap_servers, **self.settings.aiokafka_options())
        self.dead_letters = DeadLetters(acked(self.channel(topics.deadletter_topic(self.settings))), self.metrics)

    def channel(self, *names: str) -> TopicT:
        """One topic, or several read as one stream, of raw bytes: we encode our own records."""
        return self.app.topic(*names, key_serializer="raw", value_serializer="raw")

    def table(self, name: str) -> TableT[bytes, bytes]:
        # Faust derives a table's *changelog* serializers from key_type/value_type (bytes: raw)
        # and ignores ``schema`` for that; a Schema alone writes and recovers the changelog as
        # JSON, and recovery fails after a restart.
        if name not in topics.TABLES:
            raise ValueError(f"table {name!r} is not in worker.topics.TABLES, which makes its changelog")
        table = self.app.Table(
            name,
            partitions=self.settings.partitions,
            key_type=bytes,
            value_type=bytes,
            options=rocksdb_options(self.settings.rocksdb_memory_mb) if self.settings.store == "rocksdb://" else None,
            extra_topic_configs=topics.CHANGELOG,  # made by ensure_topics first; this if Faust makes it
        )
        made = topics.changelog_topic(self.settings, name)
        if table.changelog_topic.get_topic_name() != made:  # else ensure_topics would configure another topic
            raise ValueError(
                f"Faust names {name!r}'s changelog {table.changelog_topic.get_topic_name()!r}, not {made!r}"
            )
        return table

    def every(self, seconds: float, fun: Callable[[], Awaitable[None]]) -> None:
        """Run ``fun`` every ``seconds`` on this worker, from when it is ready until it stops."""
        self.app.timer(interval=seconds)(fun)

    def owned(self, topic: str) -> Callable[[], list[int]]:
        return lambda: self.ticks.owned(topic)

    def domain_agents(self) -> tuple[dict[Domain, DomainAgent], list[TableT[bytes, bytes]]]:
        """One agent per domain, reading its input topic and its ticks topic as one stream."""
        settings = self.settings
        domains: dict[Domain, DomainAgent] = {}
        tables: list[TableT[bytes, bytes]] = []
        send_alert = produced(self.channel(topics.alerts_topic(settings)))
        for domain in DOMAINS:
            events_name, ticks_name = topics.input_topic(settings, domain), topics.ticks_topic(settings, domain)
            cases = self.table(f"{domain}-cases")
            domains[domain] = agent = DomainAgent(
                domain=domain,
                policy=self.policy,
                limits=input_limits(settings),
                cases=cases,
                index=DueIndex(),
                offsets=ConsumerOffsets(self.app, events_name, self.probe),
                owned=self.owned(events_name),
                send_alert=send_alert,
                forward=produced(self.channel(events_name)),
                dead_letters=self.dead_letters,
                metrics=self.metrics,
                ticks_topic=ticks_name,
            )
            self.app.agent(self.channel(events_name, ticks_name), name=f"{domain}-agent", concurrency=1)(agent.consume)
            self.ticks.register(events_name, self.channel(ticks_name), agent.index)
            tables.append(cases)
        return domains, tables

    def silence_log(self) -> SilenceLog:
        """Every silence, read by every worker from its log; set and ended through the web routes."""
        settings = self.settings
        name = topics.silences_topic(settings)
        silences = SilenceLog(
            produce_silence=produced(self.channel(name)),
            produce_audit=produced(self.channel(topics.alert_transitions_topic(settings))),
            metrics=self.metrics,
        )

        async def follow_silences() -> None:
            await silences.follow(settings.bootstrap_servers, name, settings.aiokafka_options())

        async def silence_upkeep() -> None:
            silences.upkeep()

        self.app.task(follow_silences)
        self.every(GAUGE_SECONDS, silence_upkeep)
        return silences

    def dispatcher(self, silences: SilenceLog) -> tuple[Dispatcher, TableT[bytes, bytes]]:
        settings = self.settings
        alerts_name, commands_name = topics.alerts_topic(settings), topics.alert_commands_topic(settings)
        ticks_name = topics.alert_ticks_topic(settings)
        records = self.table("alert-records")
        dispatcher = Dispatcher(
            config=self.notify,
            records=records,
            index=DueIndex(),
            owned=self.owned(alerts_name),
            produce_job=produced(self.channel(topics.outbox_topic(settings))),
            produce_transition=produced(self.channel(topics.alert_transitions_topic(settings))),
            dead_letters=self.dead_letters,
            metrics=self.metrics,
            commands_topic=commands_name,
            ticks_topic=ticks_name,
            silences=silences.silences,
            silences_loaded=silences.loaded,
        )
        silences.listeners.append(dispatcher.silences_changed)
        stream = self.channel(alerts_name, commands_name, ticks_name)
        self.app.agent(stream, name="dispatcher", concurrency=1)(dispatcher.consume)
        self.ticks.register(alerts_name, self.channel(ticks_name), dispatcher.index)
        return dispatcher, records

    def outbox(self) -> tuple[Outbox, TableT[bytes, bytes]]:
        settings, notify = self.settings, self.notify
        jobs = self.channel(topics.outbox_topic(settings))
        pending = self.table("outbox-pending")
        outbox = Outbox(
            config=notify,
            retry=RetryPolicy(settings.retry_base_seconds, settings.retry_cap_seconds, settings.retry_attempts),
            breaker_cooldown=settings.breaker_cooldown_seconds,
            pending=pending,
            send_job=acked(jobs),
            produce_receipt=produced(self.channel(topics.deliveries_topic(settings))),
            dead_letters=self.dead_letters,
            metrics=self.metrics,
            width=settings.delivery_concurrency,
            rebalancing=lambda: bool(self.app.rebalancing),
            worker=f"{socket.gethostname()}:{os.getpid()}",
        )
        self.app.agent(jobs, name="outbox", concurrency=1)(outbox.consume)
        self.every(RESUME_PENDING_SECONDS, outbox.resume_pending)
        if notify.heartbeat_interval is not None and notify.heartbeat_receivers:
            self.every(notify.heartbeat_interval.total_seconds(), outbox.heartbeat)
        return outbox, pending

    def door(self) -> tuple[Door, Acknowledgements]:
        """Who may call the web server, the ack endpoints, and the access log every worker follows."""
        settings = self.settings
        access_name = topics.access_topic(settings)
        door = Door(self.notify, acked(self.channel(access_name)), self.metrics)
        acknowledgements = Acknowledgements(acked(self.channel(topics.alert_commands_topic(settings))))
        AckRoutes(self.notify, door, acknowledgements).install(self.web_app.router)

        async def follow_access_log() -> None:
            await door.follow(settings.bootstrap_servers, access_name, settings.aiokafka_options())

        self.app.task(follow_access_log)
        return door, acknowledgements

    def console(
        self, door: Door, acknowledgements: Acknowledgements, changelogs: dict[str, Holds], silences: SilenceLog
    ) -> tuple[Board, CaseViews, Hub]:
        """The duty inspectors' console: its read model, the feed that keeps it, its routes and gauges."""
        settings = self.settings
        board = Board(self.policy, dt.timedelta(seconds=settings.slow_delivery_seconds))
        hub = Hub()
        views = CaseViews(acked(self.channel(topics.alert_transitions_topic(settings))))
        ConsoleRoutes(self.notify, door, acknowledgements, board, hub, views).install(self.web_app.router)
        feed = BoardFeed(board, changelogs, settings.partitions, hub.publish)
        silences.listeners.append(lambda: hub.publish("silences", {}, None))

        async def board_feed() -> None:
            await feed.follow(settings.bootstrap_servers, settings.aiokafka_options())

        async def board_gauges() -> None:
            update_gauges(board, self.metrics)

        self.app.task(board_feed)
        self.every(GAUGE_SECONDS, board_gauges)
        return board, views, hub

    def ingest(self, door: Door) -> Ingest:
        """POST /events: records over HTTP, onto the input topics once the broker has them."""
        settings = self.settings
        producers = {domain: produced(self.channel(topics.input_topic(settings, domain))) for domain in DOMAINS}
        ingest = Ingest(
            door,
            producers.__getitem__,
            input_limits(settings),
            self.metrics,
            settings.ingest_max_bytes,
            settings.ingest_in_flight,
        )
        ingest.install(self.web_app.router)
        return ingest

    def health(self, silences: SilenceLog) -> Health:
        """/livez and /readyz, for the probes (deploy/k8s, docker-compose.yml)."""
        health = Health(self.app, self.ticks, silences.loaded)
        health.connect()
        health.install(self.web_app.router)
        return health

    def guards(self) -> tuple[GapPolicy, StallGuard]:
        """What keeps every hand-off from trusting Faust's commits alone, ticks, and lag."""
        settings, metrics = self.settings, self.metrics
        # Faust may not treat skipped offsets as processed: never on internal topics, and on input
        # topics only once a check finds no record there (worker/stall_guard.py, docs/design.md).
        inputs = [topics.input_topic(settings, domain) for domain in DOMAINS]
        gaps = GapPolicy(topics.internal_topics(settings), inputs, self.probe, metrics)
        install_gap_policy(self.app, gaps)
        stall_guard = StallGuard({*inputs, *topics.internal_topics(settings)}, metrics, self.probe)

        async def guard_against_stalled_partitions() -> None:
            await stall_guard.check(self.app)

        def forget_due_indexes(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
            self.ticks.forget()

        self.every(STALL_CHECK_SECONDS, guard_against_stalled_partitions)
        self.every(settings.tick_seconds, self.ticks.send)
        self.app.on_partitions_revoked.connect(forget_due_indexes)
        self.app.on_partitions_assigned.connect(forget_due_indexes)
        lag = ConsumerLag(settings.bootstrap_servers, settings.app_id, settings.kafka_python_options(), metrics)
        self.every(LAG_SECONDS, lag.read)
        return gaps, stall_guard


def faust_app(settings: Settings) -> faust.App:
    return faust.App(
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
        web_application_options={"middlewares": [guard.middleware(settings.metrics_token)]},
    )


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


def web_application(app: faust.App) -> web.Application:
    """The aiohttp application behind the worker's web server (Faust's aiohttp driver, the
    default). Watchkeeper's routes are plain aiohttp handlers on it, next to Faust's /metrics."""
    return cast(AiohttpWeb, app.web).web_app


# ----------------------------------------------------------------------------- running
def run(worker: Worker) -> None:
    """Run the assembled worker until it is stopped."""
    settings = worker.settings
    reconnect_backoff(cap=settings.kafka_reconnect_cap_seconds)
    watchdog = StopWatchdog(settings.stop_timeout_seconds)

    async def announce_ready() -> None:
        print(
            f"watchkeeper: worker ready (app {settings.app_id}, topics {settings.topic_prefix}.*, "
            f"broker {settings.bootstrap_servers})",
            flush=True,
        )

    worker.app.task(announce_ready)

    class FaustWorker(faust.Worker):
        """Faust's worker, plus a bounded stop and a log that does not flood during an outage."""

        def on_setup_root_logger(self, logger: Any, level: int) -> None:
            super().on_setup_root_logger(logger, level)
            install_repeat_filter()

        def _schedule_shutdown(self, signal: Any) -> None:
            watchdog.start()
            super()._schedule_shutdown(signal)

    running = FaustWorker(worker.app, loglevel=settings.log_level, quiet=True, redirect_stdouts=False)
    running.spinner = None  # stdout carries alert lines only, no terminal control codes
    running.execute_from_commandline()
