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

import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
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
from worker.lag import ConsumerLag
from worker.metrics import Metrics
from worker.outbox import Outbox
from worker.settings import Settings, input_limits, notify_config_of, policy_of
from worker.stall_guard import GapPolicy, RecordProbe, StallGuard, install_gap_policy
from worker.ticks import Ticks
from worker.web import guard
from worker.web.ack import Acknowledgements, AckRoutes
from worker.web.console import ConsoleRoutes, Hub, update_gauges
from worker.web.door import Door
from worker.web.feed import BoardFeed, Holds

STALL_CHECK_SECONDS = 5.0
RESUME_PENDING_SECONDS = 5.0
LAG_SECONDS = 15.0
GAUGE_SECONDS = 5.0


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
    gaps: GapPolicy
    stall_guard: StallGuard
    board: Board | None
    """The console's read model; None with ``WATCHKEEPER_CONSOLE=off``."""

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
    web_app = web_application(app)
    guard.install(web_app)
    # /metrics: Faust's Prometheus sensor (streams, tables, commits, rebalances, as faust_*) and
    # Watchkeeper's own metrics (worker/metrics.py, as watchkeeper_*), from one registry.
    setup_prometheus_sensors(app, pattern="/metrics", registry=metrics.registry, name_prefix="faust")

    def channel(name: str) -> TopicT:
        return app.topic(name, key_serializer="raw", value_serializer="raw")

    def table(name: str) -> TableT[bytes, bytes]:
        # Faust derives a table's *changelog* serializers from key_type/value_type (bytes: raw)
        # and ignores ``schema`` for that; a Schema alone writes and recovers the changelog as
        # JSON, and recovery fails after a restart.
        return app.Table(name, partitions=settings.partitions, key_type=bytes, value_type=bytes)

    probe = RecordProbe(settings.bootstrap_servers, **settings.aiokafka_options())
    ticks = Ticks(app)
    dead_letters = DeadLetters(acked(channel(topics.deadletter_topic(settings))), metrics)
    send_alert = acked(channel(topics.alerts_topic(settings)))
    case_tables: dict[Domain, TableT[bytes, bytes]] = {}
    domains: dict[Domain, DomainAgent] = {}
    for domain in DOMAINS:
        events_name, ticks_name = topics.input_topic(settings, domain), topics.ticks_topic(settings, domain)
        case_tables[domain] = table(f"{domain}-cases")
        index = DueIndex()
        domains[domain] = agent = DomainAgent(
            domain=domain,
            policy=policy,
            limits=input_limits(settings),
            cases=case_tables[domain],
            index=index,
            offsets=ConsumerOffsets(app, events_name, probe),
            owned=_owned(ticks, events_name),
            send_alert=send_alert,
            forward=acked(channel(events_name)),
            dead_letters=dead_letters,
            metrics=metrics,
            ticks_topic=ticks_name,
        )
        stream = app.topic(events_name, ticks_name, key_serializer="raw", value_serializer="raw")
        app.agent(stream, name=f"{domain}-agent", concurrency=1)(agent.consume)
        ticks.register(events_name, channel(ticks_name), index)

    alerts_name, commands_name = topics.alerts_topic(settings), topics.alert_commands_topic(settings)
    alert_ticks_name = topics.alert_ticks_topic(settings)
    records = table("alert-records")
    dispatcher = Dispatcher(
        config=notify,
        records=records,
        index=DueIndex(),
        owned=_owned(ticks, alerts_name),
        produce_job=produced(channel(topics.outbox_topic(settings))),
        produce_transition=produced(channel(topics.alert_transitions_topic(settings))),
        dead_letters=dead_letters,
        metrics=metrics,
        commands_topic=commands_name,
        ticks_topic=alert_ticks_name,
    )
    dispatched = app.topic(alerts_name, commands_name, alert_ticks_name, key_serializer="raw", value_serializer="raw")
    app.agent(dispatched, name="dispatcher", concurrency=1)(dispatcher.consume)
    ticks.register(alerts_name, channel(alert_ticks_name), dispatcher.index)

    outbox_channel = channel(topics.outbox_topic(settings))
    pending = table("outbox-pending")
    outbox = Outbox(
        config=notify,
        retry=RetryPolicy(settings.retry_base_seconds, settings.retry_cap_seconds, settings.retry_attempts),
        breaker_cooldown=settings.breaker_cooldown_seconds,
        pending=pending,
        send_job=acked(outbox_channel),
        produce_receipt=produced(channel(topics.deliveries_topic(settings))),
        dead_letters=dead_letters,
        metrics=metrics,
        width=settings.delivery_concurrency,
        rebalancing=lambda: bool(app.rebalancing),
        worker=f"{socket.gethostname()}:{os.getpid()}",
    )
    app.agent(outbox_channel, name="outbox", concurrency=1)(outbox.consume)
    _every(app, RESUME_PENDING_SECONDS, outbox.resume_pending)
    if notify.heartbeat_interval is not None and notify.heartbeat_receivers:
        _every(app, notify.heartbeat_interval.total_seconds(), outbox.heartbeat)

    access_name = topics.access_topic(settings)
    door = Door(notify, acked(channel(access_name)), metrics)
    acknowledgements = Acknowledgements(acked(channel(commands_name)))
    AckRoutes(notify, door, acknowledgements).install(web_app.router)

    async def follow_access_log() -> None:
        await door.follow(settings.bootstrap_servers, access_name, settings.aiokafka_options())

    app.task(follow_access_log)

    board = None
    if settings.console:
        changelogs: dict[str, Holds] = {t.changelog_topic.get_topic_name(): "case" for t in case_tables.values()}
        changelogs[records.changelog_topic.get_topic_name()] = "alert"
        changelogs[pending.changelog_topic.get_topic_name()] = "delivery"
        board = _console(app, web_app, settings, notify, door, acknowledgements, policy, metrics, changelogs)

    # Faust may not treat skipped offsets as processed: never on internal topics, and on input
    # topics only once a check finds no record there (worker/stall_guard.py, docs/design.md).
    inputs = [topics.input_topic(settings, domain) for domain in DOMAINS]
    gaps = GapPolicy(topics.internal_topics(settings), inputs, probe, metrics)
    install_gap_policy(app, gaps)
    watched = {*inputs, *(topics.ticks_topic(settings, d) for d in DOMAINS), *topics.internal_topics(settings)}
    stall_guard = StallGuard(watched, metrics, probe)

    async def guard_against_stalled_partitions() -> None:
        await stall_guard.check(app)

    _every(app, STALL_CHECK_SECONDS, guard_against_stalled_partitions)
    _every(app, settings.tick_seconds, ticks.send)

    def forget_due_indexes(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        ticks.forget()

    app.on_partitions_revoked.connect(forget_due_indexes)
    app.on_partitions_assigned.connect(forget_due_indexes)
    lag = ConsumerLag(settings.bootstrap_servers, settings.app_id, settings.kafka_python_options(), metrics)
    _every(app, LAG_SECONDS, lag.read)
    return Worker(
        settings, policy, notify, app, metrics, domains, dispatcher, outbox, ticks, door, gaps, stall_guard, board
    )


def _console(
    app: faust.App,
    web_app: web.Application,
    settings: Settings,
    notify: NotifyConfig,
    door: Door,
    acknowledgements: Acknowledgements,
    policy: Policy,
    metrics: Metrics,
    changelogs: dict[str, Holds],
) -> Board:
    """The duty inspectors' console: its read model, the feed that keeps it, its routes and gauges."""
    import datetime as dt

    board = Board(policy, dt.timedelta(seconds=settings.slow_delivery_seconds))
    hub = Hub()
    ConsoleRoutes(notify, door, acknowledgements, board, hub).install(web_app.router)
    feed = BoardFeed(board, changelogs, settings.partitions, hub.publish)

    async def board_feed() -> None:
        await feed.follow(settings.bootstrap_servers, settings.aiokafka_options())

    async def board_gauges() -> None:
        update_gauges(board, metrics)

    app.task(board_feed)
    _every(app, GAUGE_SECONDS, board_gauges)
    return board


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


def _owned(ticks: Ticks, topic: str) -> Callable[[], list[int]]:
    return lambda: ticks.owned(topic)


def _every(app: faust.App, seconds: float, fun: Callable[[], Awaitable[None]]) -> None:
    """Run ``fun`` every ``seconds`` on this worker, from when it is ready until it stops."""
    app.timer(interval=seconds)(fun)


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
