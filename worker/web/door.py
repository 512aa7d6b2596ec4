"""The web server's door: who is calling, may they, and how often may they fail.

Shared by the ack endpoints (worker/web/ack.py) and the console (worker/web/console.py):
- sessions are server-side records in the access log (alerts/access.py), named by a random
  id in a cookie signed with the session key for the session purpose;
- failed sign-ins and acknowledgements are throttled per client address and per user, and
  counted in ``watchkeeper_auth_failures_total``;
- every state-changing path checks the caller's access here (``may_acknowledge``).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any, Final

import msgspec
from aiohttp import web

from alerts.access import AccessLog, LinkUsed, Revocation, SessionRecord, record_key
from alerts.config import Access, NotifyConfig
from alerts.throttle import Throttle
from alerts.tokens import read_session_cookie, sign_session, user_for_bearer
from worker.channels import Send
from worker.clock import utcnow
from worker.compacted import follow_compacted
from worker.metrics import Metrics

log = logging.getLogger(__name__)
COOKIE: Final = "wk_session"
CONSOLE_HEADER: Final = ("X-Watchkeeper", "console")
"""Sent by the console's own script on every state-changing request. A cross-site form cannot
set a header, and a cross-site script would need a CORS preflight this server never grants:
this is the login and ack CSRF defence, with SameSite=Strict cookies."""
ACKNOWLEDGING: Final[tuple[Access, ...]] = ("inspector", "admin")
PEOPLE: Final[tuple[Access, ...]] = ("viewer", "inspector", "admin")
"""Who may sign in to the console: not a system's ingest token."""


def may_acknowledge(access: Access) -> bool:
    return access in ACKNOWLEDGING


def may_sign_in(access: Access) -> bool:
    return access in PEOPLE


def may_ingest(access: Access) -> bool:
    return access == "ingest"


def from_console(request: web.Request) -> bool:
    """The console's header is present, and the request, if it names an origin, comes from this server."""
    name, value = CONSOLE_HEADER
    origin = request.headers.get("Origin")
    same_origin = origin is None or origin.split("://", 1)[-1] == request.host
    return request.headers.get(name) == value and same_origin


def too_many(wait: float) -> web.Response:
    response = web.json_response({"error": "too many failed attempts; try again later"}, status=429)
    response.headers["Retry-After"] = str(max(1, int(wait + 0.999)))
    return response


class Door:
    def __init__(
        self, config: NotifyConfig, send_access: Send, metrics: Metrics, clock: Callable[[], dt.datetime] = utcnow
    ) -> None:
        self.config = config
        self.send_access = send_access
        self.metrics = metrics
        self.clock = clock
        self.access = AccessLog()
        self.throttle = Throttle(limit=10, window=60.0)

    # ------------------------------------------------------------------ throttling
    @staticmethod
    def _keys(request: web.Request, user: str | None) -> tuple[str, ...]:
        client = f"client:{request.remote or 'unknown'}"
        return (client, f"user:{user}") if user else (client,)

    def retry_after(self, request: web.Request, user: str | None = None) -> float | None:
        """Seconds this client (and user) must wait before trying again, counted as throttled."""
        wait = self.throttle.retry_after(self._keys(request, user), time.monotonic())
        if wait is not None:
            self.metrics.auth_failures.labels(request.path.split("/")[1] or "root", "throttled").inc()
        return wait

    def bearer(
        self, request: web.Request, allowed: Callable[[Access], bool], job: str
    ) -> tuple[str, Access] | web.Response:
        """The caller of a bearer-token path and their access, or the answer that refuses them:
        429 while throttled, 401 without a valid token, 403 for a token that may not do ``job``
        (counted as a failure too: probing with the wrong token is throttled like guessing)."""
        if (wait := self.retry_after(request)) is not None:
            return too_many(wait)
        user = user_for_bearer(request.headers.get("Authorization"), self.config.user_credentials)
        if user is None:
            self.failed(request)
            return web.json_response({"error": "a valid bearer token is required"}, status=401)
        access = self.config.user_access.get(user, "viewer")
        if not allowed(access):
            self.failed(request, user)
            return web.json_response({"error": f"a {access} token cannot {job}"}, status=403)
        return user, access

    def failed(self, request: web.Request, user: str | None = None) -> None:
        self.throttle.failed(self._keys(request, user), time.monotonic())
        self.metrics.auth_failures.labels(request.path.split("/")[1] or "root", "refused").inc()

    # ------------------------------------------------------------------ sessions
    async def write(self, key: bytes, record: SessionRecord | Revocation | LinkUsed) -> None:
        """Put a record on the access log, wait for the broker, and apply it here at once."""
        value = msgspec.json.encode(record)
        await self.send_access(key, value)
        self.access.apply(key, value)

    async def start_session(self, user: str, access: Access) -> str:
        """A new session; returns the signed cookie value."""
        assert self.config.session_secret is not None  # config.load requires one when there are users
        session_id, now = secrets.token_urlsafe(24), self.clock()
        record = SessionRecord(user, access, now, now + self.config.session_lifetime)
        await self.write(record_key("session", session_id), record)
        return sign_session(self.config.session_secret, session_id)

    def who(self, request: web.Request) -> tuple[str, SessionRecord] | None:
        """(session id, record) of the caller's live session, or None."""
        cookie, key = request.cookies.get(COOKIE), self.config.session_secret
        if not cookie or key is None:
            return None
        session_id = read_session_cookie(key, cookie, self.config.session_lifetime)
        if session_id is None:
            return None
        record = self.access.session(session_id, self.clock(), self.config.user_access)
        return None if record is None else (session_id, record)

    def signed_in(self, request: web.Request) -> SessionRecord | None:
        found = self.who(request)
        return None if found is None else found[1]

    async def end_session(self, session_id: str) -> None:
        record = self.access.sessions.get(session_id)
        if record is not None:
            await self.write(record_key("session", session_id), msgspec.structs.replace(record, ended=True))

    async def revoke(self, user: str, by: str) -> None:
        """End every session of ``user`` started until now, on every worker."""
        await self.write(record_key("user", user), Revocation(user, self.clock(), by))

    async def follow(self, bootstrap: str, topic: str, connection: dict[str, Any]) -> None:
        """Every worker keeps the whole access log (see alerts/access.py): read from the start, then
        followed. Until it has caught up after a start, older sessions are refused (sign in again)."""
        await follow_compacted(bootstrap, topic, connection, self.access.apply, lambda: None)
