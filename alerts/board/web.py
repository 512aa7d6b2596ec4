"""The duty inspectors' console on the worker's web server: pages, JSON, live updates, sign-in.

- ``/console``: one page (HTML, CSS and JavaScript from ``static/``, no build step) with
  three views: the board of open alerts, every running clock by child, and a case.
- ``/console/api/stream``: Server-Sent Events. A snapshot, then each change to an alert or a
  case as it is read from the changelogs (alerts/board/feed.py). Countdowns tick in the
  browser from the deadlines. The only poll is the failing-deliveries banner, every 30 s,
  because a page becomes "failing" by time passing, not by an event.
- Sign-in takes the same generated per-user tokens as the ack API and starts a server-side
  session (alerts/auth.py, alerts/access.py): a signed, Secure, HttpOnly, SameSite=Strict
  cookie names it, so the event stream is authenticated too. Signing out, an admin's
  revocation, a user removed or given another role end it on every worker within seconds.
  Roles: viewer (read), inspector (also acknowledge), admin (also revoke). No session is
  401; a viewer who tries to acknowledge is 403. Security headers (a CSP with no inline
  script, no framing) are on every response (streams/web_guard.py).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path
from typing import Any, Final

import msgspec
from aiohttp import web
from faust.web import Request, Response, View

from alerts import auth
from alerts.access import SessionRecord
from alerts.ack import record_ack, too_many
from alerts.board.feed import follow
from alerts.board.view import Board, measures
from agents.alert import ALERT_ID
from alerts.tokens import user_for_token
from streams import metrics
from streams.app import aiokafka_options, app, notify_config, policy, settings

log = logging.getLogger(__name__)
STATIC: Final = Path(__file__).with_name("static")
FILES: Final = {
    "console.js": "text/javascript",
    "console.css": "text/css",
}
ENCODER: Final = msgspec.json.Encoder()
STREAM_RECHECK_SECONDS: Final = 1.0
"""How often an open event stream re-checks its session, so a revocation closes it too."""
board = Board(policy, dt.timedelta(seconds=settings.slow_delivery_seconds))


class Hub:
    """Fans board changes out to every open event stream; a stream that falls behind is dropped."""

    def __init__(self) -> None:
        self.queues: set[asyncio.Queue[bytes]] = set()

    def publish(self, kind: str, item: Any) -> None:
        frame = b"event: " + kind.encode() + b"\ndata: " + ENCODER.encode(item) + b"\n\n"
        for queue in list(self.queues):
            try:
                queue.put_nowait(frame)
            except asyncio.QueueFull:
                self.queues.discard(queue)


hub = Hub()


def _publish(kind: str, item: Any) -> None:
    hub.publish("case-removed" if isinstance(item, str) else kind, {"case": item} if isinstance(item, str) else item)


def signed_in(request: Request) -> SessionRecord | None:
    found = auth.who(request)
    return None if found is None else found[1]


# ----------------------------------------------------------------------------- pages
@app.page("/console")
class ConsolePage(View):
    async def get(self, request: Request) -> Response:
        return self.html((STATIC / "index.html").read_text(encoding="utf-8"))


@app.page("/console/static/{name}")
class ConsoleStatic(View):
    async def get(self, request: Request, name: str) -> Response:
        if name not in FILES:
            return self.text("not found", status=404)
        body = (STATIC / name).read_bytes()
        return self.bytes(body, content_type=FILES[name])


@app.page("/console/login")
class Login(View):
    async def post(self, request: Request) -> Response:
        if not auth.from_console(request):
            return self.json({"error": "sign in from the console page"}, status=403)
        if (wait := auth.retry_after(request)) is not None:
            return too_many(self, wait)
        form: Any = await request.post()
        user = user_for_token(str(form.get("token", "")), notify_config.user_credentials)
        if user is None or notify_config.session_secret is None:
            auth.failed(request)
            return self.json({"error": "unknown token"}, status=401)
        role = notify_config.user_roles.get(user, "viewer")
        response: Response = self.json({"user": user, "role": role})
        response.set_cookie(
            auth.COOKIE,
            await auth.start_session(user, role, dt.datetime.now(dt.UTC)),
            httponly=True,
            secure=True,
            samesite="Strict",
            path="/",
            max_age=int(notify_config.session_lifetime.total_seconds()),
        )
        return response


@app.page("/console/logout")
class Logout(View):
    async def post(self, request: Request) -> Response:
        if not auth.from_console(request):
            return self.json({"error": "sign out from the console page"}, status=403)
        found = auth.who(request)
        if found is not None:
            await auth.end_session(found[0])
        response: Response = self.json({"signed_out": True})
        response.del_cookie(auth.COOKIE, path="/")
        return response


@app.page("/console/api/me")
class Me(View):
    async def get(self, request: Request) -> Response:
        session = signed_in(request)
        if session is None:
            return self.json({"error": "sign in"}, status=401)
        return self.json({"user": session.user, "role": session.role, "expires": session.expires.isoformat()})


@app.page("/console/api/users/{user}/revoke")
class Revoke(View):
    """An admin ends every session of a user at once, on every worker (a lost device, a leaver)."""

    async def post(self, request: Request, user: str) -> Response:
        session = signed_in(request)
        if session is None:
            return self.json({"error": "sign in"}, status=401)
        if session.role != "admin" or not auth.from_console(request):
            auth.failed(request, session.user)
            return self.json({"error": "only an admin can revoke sessions"}, status=403)
        if user not in notify_config.user_roles:
            return self.json({"error": "no such user"}, status=404)
        await auth.revoke(user, session.user, dt.datetime.now(dt.UTC))
        return self.json({"revoked": user}, status=202)


def _dump(data: Any) -> Any:
    return msgspec.to_builtins(data)


@app.page("/console/api/board")
class BoardApi(View):
    async def get(self, request: Request) -> Response:
        if signed_in(request) is None:
            return self.json({"error": "sign in"}, status=401)
        q = request.query
        alerts = board.open_alerts(q.get("domain") or None, q.get("area") or None, q.get("severity") or None)
        return self.json(_dump(alerts))


@app.page("/console/api/clocks")
class ClocksApi(View):
    async def get(self, request: Request) -> Response:
        if signed_in(request) is None:
            return self.json({"error": "sign in"}, status=401)
        return self.json(_dump(board.clocks_by_child()))


@app.page("/console/api/deliveries")
class DeliveriesApi(View):
    """Receivers with pages still undelivered after a minute: failing, or far behind."""

    async def get(self, request: Request) -> Response:
        if signed_in(request) is None:
            return self.json({"error": "sign in"}, status=401)
        return self.json(_dump(board.failing_deliveries(dt.datetime.now(dt.UTC))))


@app.page("/console/api/cases/{case}")
class CaseApi(View):
    async def get(self, request: Request, case: str) -> Response:
        if signed_in(request) is None:
            return self.json({"error": "sign in"}, status=401)
        found = board.case(case)
        if found is None:
            return self.json({"error": "no such case on the board"}, status=404)
        return self.json(_dump(found))


@app.page("/console/api/alerts/{alert_id}/ack")
class ConsoleAck(View):
    async def post(self, request: Request, alert_id: str) -> Response:
        session = signed_in(request)
        if session is None:
            return self.json({"error": "sign in"}, status=401)
        if not auth.may_acknowledge(session.role):
            auth.failed(request, session.user)
            return self.json({"error": f"a {session.role} cannot acknowledge"}, status=403)
        if not auth.from_console(request):
            return self.json({"error": "missing console header"}, status=403)
        if not ALERT_ID.fullmatch(alert_id):
            return self.json({"error": "not an alert id"}, status=404)
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return self.json({"error": "the body must be a JSON object"}, status=400)
        note = " ".join(str(body.get("note", "")).split())[:280]
        await record_ack(alert_id, session.user, f"console: {note}" if note else "console")
        return self.json({"accepted": True}, status=202)


@app.page("/console/api/stream")
class Stream(View):
    async def get(self, request: Request) -> Any:
        if signed_in(request) is None:
            return self.json({"error": "sign in"}, status=401)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1000)
        hub.queues.add(queue)
        try:
            await response.write(b"event: hello\ndata: {}\n\n")
            idle = 0.0
            while True:
                try:
                    frame = await asyncio.wait_for(queue.get(), timeout=STREAM_RECHECK_SECONDS)
                    idle = 0.0
                except TimeoutError:
                    idle += STREAM_RECHECK_SECONDS
                    frame = b": keep-alive\n\n" if idle >= 15 else b""
                if signed_in(request) is None:  # signed out, revoked or expired: the stream ends too
                    await response.write(b"event: signed-out\ndata: {}\n\n")
                    break
                if frame:
                    idle = 0.0 if frame.startswith(b":") else idle
                    await response.write(frame)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            hub.queues.discard(queue)
        return response


@app.task
async def board_feed() -> None:
    """Build the board from the changelogs, on every worker (see alerts/board/feed.py)."""
    await follow(settings.bootstrap_servers, settings.app_id, board, _publish, **aiokafka_options())


@app.timer(interval=5.0)
async def board_gauges() -> None:
    """Cluster-wide figures for custody managers, from this worker's copy of the board."""
    metrics.BOARD.clear()
    for measure, key, value in measures(board):
        label = metrics.bounded_area(key) if measure == "children_in_custody" else key
        metrics.BOARD.labels(measure, label).set(value)
