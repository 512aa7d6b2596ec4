"""The duty inspectors' console on the worker's web server: pages, JSON, live updates, sign-in.

- ``/console``: one page (HTML, CSS and JavaScript from ``static/``, no build step) with
  three views: the board of open alerts, every running clock by child, and a case.
- ``/console/api/stream``: Server-Sent Events. A snapshot, then each change to an alert or a
  case as it is read from the changelogs (worker/web/feed.py). Countdowns tick in the
  browser from the deadlines. The only poll is the failing-deliveries banner, every 30 s,
  because a page becomes "failing" by time passing, not by an event.
- Sign-in takes the same generated per-user tokens as the ack API and starts a server-side
  session (worker/web/door.py, alerts/access.py): a signed, Secure, HttpOnly, SameSite=Strict
  cookie names it, so the event stream is authenticated too. Signing out, an admin's
  revocation, a user removed or given another role end it on every worker within seconds.
  Access: viewer (read), inspector (also acknowledge), admin (also revoke). No session is
  401; a viewer who tries to acknowledge is 403. Security headers (a CSP with no inline
  script, no framing) are on every response (worker/web/guard.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path
from typing import Any, Final

import msgspec
from aiohttp import web

from agents.alert import ALERT_ID
from alerts.access import SessionRecord
from alerts.audit import VIEW_REPEAT, CaseViewed, view_key
from alerts.board.view import Board, Scope, measures, visible
from alerts.config import NotifyConfig
from alerts.tokens import user_for_token
from worker.channels import Send
from worker.clock import utcnow
from worker.metrics import Metrics
from worker.web.ack import Acknowledgements
from worker.web.door import COOKIE, Door, from_console, may_acknowledge, may_sign_in, too_many

log = logging.getLogger(__name__)
STATIC: Final = Path(__file__).with_name("static")
FILES: Final = {
    "console.js": "text/javascript",
    "console.css": "text/css",
}
ENCODER: Final = msgspec.json.Encoder()
STREAM_RECHECK_SECONDS: Final = 1.0
"""How often an open event stream re-checks its session, so a revocation closes it too."""


Frame = tuple[bool, str | None, bytes]
"""(about a case?, its area, the SSE frame): a stream limited to some areas gets a case's frames
only for those areas."""


class Hub:
    """Fans board changes out to every open event stream; a stream that falls behind is dropped."""

    def __init__(self) -> None:
        self.queues: set[asyncio.Queue[Frame]] = set()

    def publish(self, kind: str, item: Any, area: str | None = None) -> None:
        """A changed case view, a case key that left the board (with the area it had), an alert
        view, a delivery or a change of silences."""
        if isinstance(item, str):
            kind, item = "case-removed", {"case": item}
        frame = b"event: " + kind.encode() + b"\ndata: " + ENCODER.encode(item) + b"\n\n"
        about_a_case = kind in ("case", "case-removed", "alert")
        for queue in list(self.queues):
            try:
                queue.put_nowait((about_a_case, area, frame))
            except asyncio.QueueFull:
                self.queues.discard(queue)


def _sign_in_first() -> web.Response:
    return web.json_response({"error": "sign in"}, status=401)


def _dump(data: Any) -> Any:
    return msgspec.to_builtins(data)


class CaseViews:
    """Records each person's view of a case on the audit topic, once per ``VIEW_REPEAT`` per
    worker, before the case is shown."""

    def __init__(self, send_audit: Send, clock: Any = utcnow) -> None:
        self.send_audit, self.clock = send_audit, clock
        self.last: dict[tuple[str, str], dt.datetime] = {}

    async def record(self, case: str, session: SessionRecord) -> None:
        now = self.clock()
        seen = self.last.get((session.user, case))
        if seen is not None and now - seen < VIEW_REPEAT:
            return
        view = CaseViewed(case, session.user, session.access, now)
        await self.send_audit(view_key(case), msgspec.json.encode(view))
        self.last[(session.user, case)] = now
        if len(self.last) > 10_000:
            self.last = {k: t for k, t in self.last.items() if now - t < VIEW_REPEAT}


class ConsoleRoutes:
    def __init__(
        self,
        config: NotifyConfig,
        door: Door,
        acknowledgements: Acknowledgements,
        board: Board,
        hub: Hub,
        views: CaseViews,
    ) -> None:
        self.config, self.door, self.acks, self.board, self.hub = config, door, acknowledgements, board, hub
        self.views = views

    def scope(self, session: SessionRecord) -> Scope:
        """What this person may see: the configuration is the authority, read on every request."""
        return self.config.user_areas.get(session.user)

    def install(self, router: web.UrlDispatcher) -> None:
        router.add_get("/console", self.page)
        router.add_get("/console/static/{name}", self.static)
        router.add_post("/console/login", self.login)
        router.add_post("/console/logout", self.logout)
        router.add_get("/console/api/me", self.me)
        router.add_post("/console/api/users/{user}/revoke", self.revoke)
        router.add_get("/console/api/board", self.open_alerts)
        router.add_get("/console/api/clocks", self.clocks)
        router.add_get("/console/api/deliveries", self.deliveries)
        router.add_get("/console/api/cases/{case}", self.case)
        router.add_post("/console/api/alerts/{alert_id}/ack", self.acknowledge)
        router.add_get("/console/api/stream", self.stream)

    # ------------------------------------------------------------------ pages
    async def page(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text=(STATIC / "index.html").read_text(encoding="utf-8"), content_type="text/html")

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in FILES:
            return web.Response(text="not found", status=404)
        return web.Response(body=(STATIC / name).read_bytes(), content_type=FILES[name])

    # ------------------------------------------------------------------ sessions
    async def login(self, request: web.Request) -> web.StreamResponse:
        if not from_console(request):
            return web.json_response({"error": "sign in from the console page"}, status=403)
        if (wait := self.door.retry_after(request)) is not None:
            return too_many(wait)
        form: Any = await request.post()
        user = user_for_token(str(form.get("token", "")), self.config.user_credentials)
        if user is None or self.config.session_secret is None:
            self.door.failed(request)
            return web.json_response({"error": "unknown token"}, status=401)
        access = self.config.user_access.get(user, "viewer")
        if not may_sign_in(access):
            self.door.failed(request)
            return web.json_response({"error": "an ingest token cannot sign in"}, status=403)
        response = web.json_response({"user": user, "access": access})
        response.set_cookie(
            COOKIE,
            await self.door.start_session(user, access),
            httponly=True,
            secure=True,
            samesite="Strict",
            path="/",
            max_age=int(self.config.session_lifetime.total_seconds()),
        )
        return response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        if not from_console(request):
            return web.json_response({"error": "sign out from the console page"}, status=403)
        found = self.door.who(request)
        if found is not None:
            await self.door.end_session(found[0])
        response = web.json_response({"signed_out": True})
        response.del_cookie(COOKIE, path="/")
        return response

    async def me(self, request: web.Request) -> web.StreamResponse:
        session = self.door.signed_in(request)
        if session is None:
            return _sign_in_first()
        return web.json_response(
            {"user": session.user, "access": session.access, "expires": session.expires.isoformat()}
        )

    async def revoke(self, request: web.Request) -> web.StreamResponse:
        """An admin ends every session of a user at once, on every worker (a lost device, a leaver)."""
        session = self.door.signed_in(request)
        if session is None:
            return _sign_in_first()
        if session.access != "admin" or not from_console(request):
            self.door.failed(request, session.user)
            return web.json_response({"error": "only an admin can revoke sessions"}, status=403)
        user = request.match_info["user"]
        if user not in self.config.user_access:
            return web.json_response({"error": "no such user"}, status=404)
        await self.door.revoke(user, session.user)
        return web.json_response({"revoked": user}, status=202)

    # ------------------------------------------------------------------ the read model
    async def open_alerts(self, request: web.Request) -> web.StreamResponse:
        session = self.door.signed_in(request)
        if session is None:
            return _sign_in_first()
        q = request.query
        domain, area, severity = q.get("domain") or None, q.get("area") or None, q.get("severity") or None
        alerts = self.board.open_alerts(domain, area, severity, self.scope(session))
        return web.json_response(_dump(alerts))

    async def clocks(self, request: web.Request) -> web.StreamResponse:
        session = self.door.signed_in(request)
        if session is None:
            return _sign_in_first()
        return web.json_response(_dump(self.board.clocks_by_child(self.scope(session))))

    async def deliveries(self, request: web.Request) -> web.StreamResponse:
        """Receivers with pages still undelivered after a minute: failing, or far behind."""
        session = self.door.signed_in(request)
        if session is None:
            return _sign_in_first()
        return web.json_response(_dump(self.board.failing_deliveries(dt.datetime.now(dt.UTC), self.scope(session))))

    async def case(self, request: web.Request) -> web.StreamResponse:
        """A case page: recorded on the audit topic (who looked at which child's case, when)
        before it is shown. Outside the person's areas it does not exist for them."""
        session = self.door.signed_in(request)
        if session is None:
            return _sign_in_first()
        key = request.match_info["case"]
        found = self.board.case(key, self.scope(session))
        if found is None:
            return web.json_response({"error": "no such case on the board"}, status=404)
        await self.views.record(key, session)
        return web.json_response(_dump(found))

    async def acknowledge(self, request: web.Request) -> web.StreamResponse:
        session = self.door.signed_in(request)
        if session is None:
            return _sign_in_first()
        if not may_acknowledge(session.access):
            self.door.failed(request, session.user)
            return web.json_response({"error": f"a {session.access} cannot acknowledge"}, status=403)
        if not from_console(request):
            return web.json_response({"error": "missing console header"}, status=403)
        alert_id = request.match_info["alert_id"]
        shown = self.board.alerts.get(alert_id)
        if not ALERT_ID.fullmatch(alert_id) or (shown is not None and not visible(shown.area, self.scope(session))):
            return web.json_response({"error": "not an alert id"}, status=404)
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return web.json_response({"error": "the body must be a JSON object"}, status=400)
        note = " ".join(str(body.get("note", "")).split())[:280]
        await self.acks.record(alert_id, session.user, f"console: {note}" if note else "console")
        return web.json_response({"accepted": True}, status=202)

    async def stream(self, request: web.Request) -> web.StreamResponse:
        session = self.door.signed_in(request)
        if session is None:
            return _sign_in_first()
        scope = self.scope(session)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        queue: asyncio.Queue[Frame] = asyncio.Queue(maxsize=1000)
        self.hub.queues.add(queue)
        try:
            await response.write(b"event: hello\ndata: {}\n\n")
            idle = 0.0
            while True:
                try:
                    about_a_case, area, frame = await asyncio.wait_for(queue.get(), timeout=STREAM_RECHECK_SECONDS)
                    if about_a_case and not visible(area, scope):
                        frame = b""
                    idle = 0.0
                except TimeoutError:
                    idle += STREAM_RECHECK_SECONDS
                    frame = b": keep-alive\n\n" if idle >= 15 else b""
                if self.door.signed_in(request) is None:  # signed out, revoked or expired: the stream ends too
                    await response.write(b"event: signed-out\ndata: {}\n\n")
                    break
                if frame:
                    idle = 0.0 if frame.startswith(b":") else idle
                    await response.write(frame)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            self.hub.queues.discard(queue)
        return response


def update_gauges(board: Board, metrics: Metrics) -> None:
    """Cluster-wide figures for custody managers, from this worker's copy of the board."""
    metrics.reset_now()
    for measure, key, value in measures(board):
        gauge = metrics.now[measure]
        if not key:
            gauge.set(value)
        else:
            label = (
                metrics.bounded_area(key)
                if measure in ("children_in_custody", "child_protection_investigations_open")
                else key
            )
            gauge.labels(label).set(value)
