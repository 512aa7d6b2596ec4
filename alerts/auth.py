"""The web server's door: who is calling, may they, and how often may they fail.

Shared by the ack endpoints (alerts/ack.py) and the console (alerts/board/web.py):
- sessions are server-side records in the access log (alerts/access.py), named by a random
  id in a cookie signed with the session key for the session purpose;
- failed sign-ins and acknowledgements are throttled per client address and per user, and
  counted in ``watchkeeper_auth_failures_total``;
- every state-changing path checks the caller's role here (``may_acknowledge``).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from typing import Any, Final

import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.web import Request

from alerts.access import AccessLog, LinkUsed, Revocation, SessionRecord, record_key
from alerts.throttle import Throttle
from alerts.tokens import read_session_cookie, sign_session
from streams import metrics
from streams.app import aiokafka_options, app, notify_config, settings
from streams.topics import access_topic

log = logging.getLogger(__name__)
COOKIE: Final = "wk_session"
CONSOLE_HEADER: Final = ("X-Watchkeeper", "console")
"""Sent by the console's own script on every state-changing request. A cross-site form cannot
set a header, and a cross-site script would need a CORS preflight this server never grants:
this is the login and ack CSRF defence, with SameSite=Strict cookies."""
ACKNOWLEDGING_ROLES: Final = ("inspector", "admin")

access = AccessLog()
throttle = Throttle(limit=10, window=60.0)
access_channel = app.topic(access_topic(settings), key_serializer="raw", value_serializer="raw")


def may_acknowledge(role: str) -> bool:
    return role in ACKNOWLEDGING_ROLES


def _keys(request: Request, user: str | None) -> tuple[str, ...]:
    client = f"client:{request.remote or 'unknown'}"
    return (client, f"user:{user}") if user else (client,)


def retry_after(request: Request, user: str | None = None) -> float | None:
    """Seconds this client (and user) must wait before trying again, counted as throttled."""
    wait = throttle.retry_after(_keys(request, user), time.monotonic())
    if wait is not None:
        metrics.AUTH_FAILURES.labels(request.path.split("/")[1] or "root", "throttled").inc()
    return wait


def failed(request: Request, user: str | None = None) -> None:
    throttle.failed(_keys(request, user), time.monotonic())
    metrics.AUTH_FAILURES.labels(request.path.split("/")[1] or "root", "refused").inc()


def from_console(request: Request) -> bool:
    """The console's header is present, and the request, if it names an origin, comes from this server."""
    name, value = CONSOLE_HEADER
    origin = request.headers.get("Origin")
    same_origin = origin is None or origin.split("://", 1)[-1] == request.host
    return request.headers.get(name) == value and same_origin


async def write(key: bytes, record: SessionRecord | Revocation | LinkUsed) -> None:
    """Put a record on the access log, wait for the broker, and apply it here at once."""
    value = msgspec.json.encode(record)
    fut = await access_channel.send(key=key, value=value)
    await fut
    access.apply(key, value)


async def start_session(user: str, role: str, now: dt.datetime) -> str:
    """A new session; returns the signed cookie value."""
    assert notify_config.session_secret is not None  # config.load requires one when there are users
    session_id = secrets.token_urlsafe(24)
    await write(record_key("session", session_id), SessionRecord(user, role, now, now + notify_config.session_lifetime))
    return sign_session(notify_config.session_secret, session_id)


def who(request: Request) -> tuple[str, SessionRecord] | None:
    """(session id, record) of the caller's live session, or None."""
    cookie, key = request.cookies.get(COOKIE), notify_config.session_secret
    if not cookie or key is None:
        return None
    session_id = read_session_cookie(key, cookie, notify_config.session_lifetime)
    if session_id is None:
        return None
    record = access.session(session_id, dt.datetime.now(dt.UTC), notify_config.user_roles)
    return None if record is None else (session_id, record)


async def end_session(session_id: str) -> None:
    record = access.sessions.get(session_id)
    if record is not None:
        await write(record_key("session", session_id), msgspec.structs.replace(record, ended=True))


async def revoke(user: str, by: str, now: dt.datetime) -> None:
    """End every session of ``user`` started until now, on every worker."""
    await write(record_key("user", user), Revocation(user, now, by))


@app.task
async def follow_access_log() -> None:
    """Every worker keeps the whole access log (see alerts/access.py): read from the start, then
    followed. Until it has caught up after a start, older sessions are refused (sign in again)."""
    topic = access_topic(settings)
    tp = TopicPartition(topic, 0)
    consumer: Any = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False, group_id=None, **aiokafka_options()
    )
    await consumer.start()
    try:
        consumer.assign([tp])
        await consumer.seek_to_beginning(tp)
        while True:
            batches = await consumer.getmany(timeout_ms=200, max_records=1000)
            for records in batches.values():
                for r in records:
                    try:
                        access.apply(r.key or b"", r.value)
                    except Exception as exc:  # an unreadable record must not stop sign-in on every worker
                        log.error("access log: %s reading %s@%d", type(exc).__name__, topic, r.offset)
    finally:
        await consumer.stop()
