"""The duty inspectors' console on the worker's web server: pages, JSON, live updates, sign-in.

- ``/console``: one page (HTML, CSS and JavaScript from ``static/``, no build step) with
  three views: the board of open alerts, every running clock by child, and a case.
- ``/console/api/stream``: Server-Sent Events. A snapshot, then each change to an alert or a
  case as it is read from the changelogs (alerts/board/feed.py). Countdowns tick in the
  browser from the deadlines; nothing polls.
- Sign-in takes the same per-user tokens as the ack API and sets a signed, HttpOnly,
  SameSite=Strict session cookie, so the event stream is authenticated too. Roles:
  viewer (read), inspector (also acknowledge), admin. No session is 401; a viewer who
  tries to acknowledge is 403. Every response carries a Content-Security-Policy with no
  inline script and no framing.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import logging
from pathlib import Path
from typing import Any, Final

import msgspec
from aiohttp import web
from faust.web import Request, Response, View

from alerts.ack import record_ack
from alerts.board.feed import follow
from alerts.board.view import Board, measures
from alerts.tokens import user_for_bearer
from streams import metrics
from streams.app import app, notify_config, policy, settings

log = logging.getLogger(__name__)
STATIC: Final = Path(__file__).with_name("static")
FILES: Final = {
    "console.js": "text/javascript",
    "console.css": "text/css",
}
SESSION_HOURS: Final = 12
COOKIE: Final = "wk_session"
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
ENCODER: Final = msgspec.json.Encoder()
board = Board(policy)


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


# ----------------------------------------------------------------------------- sessions
def _sign(text: str) -> str:
    secret = notify_config.session_secret or b""
    return base64.urlsafe_b64encode(hmac.new(secret, text.encode(), hashlib.sha256).digest()).decode().rstrip("=")


def make_session(user: str, role: str, now: dt.datetime) -> str:
    claim = f"{user}|{role}|{int((now + dt.timedelta(hours=SESSION_HOURS)).timestamp())}"
    return f"{claim}|{_sign(claim)}"


def read_session(cookie: str | None, now: dt.datetime) -> tuple[str, str] | None:
    if not cookie or notify_config.session_secret is None:
        return None
    try:
        user, role, expires, signature = cookie.rsplit("|", 3)
    except ValueError:
        return None
    claim = f"{user}|{role}|{expires}"
    if not hmac.compare_digest(signature, _sign(claim)) or now.timestamp() > int(expires):
        return None
    return user, role


def secured(response: Any) -> Any:
    response.headers.update(SECURITY_HEADERS)
    return response


def who(request: Request) -> tuple[str, str] | None:
    return read_session(request.cookies.get(COOKIE), dt.datetime.now(dt.UTC))


# ----------------------------------------------------------------------------- pages
@app.page("/console")
class ConsolePage(View):
    async def get(self, request: Request) -> Response:
        return secured(self.html((STATIC / "index.html").read_text(encoding="utf-8")))


@app.page("/console/static/{name}")
class ConsoleStatic(View):
    async def get(self, request: Request, name: str) -> Response:
        if name not in FILES:
            return secured(self.text("not found", status=404))
        body = (STATIC / name).read_bytes()
        return secured(self.bytes(body, content_type=FILES[name]))


@app.page("/console/login")
class Login(View):
    async def post(self, request: Request) -> Response:
        form: Any = await request.post()
        token = str(form.get("token", ""))
        user = user_for_bearer(f"Bearer {token}", notify_config.user_tokens)
        if user is None or notify_config.session_secret is None:
            return secured(self.json({"error": "unknown token"}, status=401))
        role = notify_config.user_roles.get(user, "viewer")
        response = secured(self.json({"user": user, "role": role}))
        response.set_cookie(
            COOKIE,
            make_session(user, role, dt.datetime.now(dt.UTC)),
            httponly=True,
            samesite="Strict",
            path="/",
            max_age=SESSION_HOURS * 3600,
        )
        return response


@app.page("/console/logout")
class Logout(View):
    async def post(self, request: Request) -> Response:
        response = secured(self.json({"signed_out": True}))
        response.del_cookie(COOKIE, path="/")
        return response


@app.page("/console/api/me")
class Me(View):
    async def get(self, request: Request) -> Response:
        session = who(request)
        if session is None:
            return secured(self.json({"error": "sign in"}, status=401))
        return secured(self.json({"user": session[0], "role": session[1]}))


def _dump(data: Any) -> Any:
    return msgspec.to_builtins(data)


@app.page("/console/api/board")
class BoardApi(View):
    async def get(self, request: Request) -> Response:
        if who(request) is None:
            return secured(self.json({"error": "sign in"}, status=401))
        q = request.query
        alerts = board.open_alerts(q.get("domain") or None, q.get("area") or None, q.get("severity") or None)
        return secured(self.json(_dump(alerts)))


@app.page("/console/api/clocks")
class ClocksApi(View):
    async def get(self, request: Request) -> Response:
        if who(request) is None:
            return secured(self.json({"error": "sign in"}, status=401))
        return secured(self.json(_dump(board.clocks_by_child())))


@app.page("/console/api/cases/{case}")
class CaseApi(View):
    async def get(self, request: Request, case: str) -> Response:
        if who(request) is None:
            return secured(self.json({"error": "sign in"}, status=401))
        found = board.case(case)
        if found is None:
            return secured(self.json({"error": "no such case on the board"}, status=404))
        return secured(self.json(_dump(found)))


@app.page("/console/api/alerts/{alert_id}/ack")
class ConsoleAck(View):
    async def post(self, request: Request, alert_id: str) -> Response:
        session = who(request)
        if session is None:
            return secured(self.json({"error": "sign in"}, status=401))
        user, role = session
        if role not in ("inspector", "admin"):
            return secured(self.json({"error": f"a {role} cannot acknowledge"}, status=403))
        if request.headers.get("X-Watchkeeper") != "console":
            return secured(self.json({"error": "missing console header"}, status=403))
        body: Any = await request.json()
        note = " ".join(str(body.get("note", "")).split())[:280]
        await record_ack(alert_id, user, f"console: {note}" if note else "console")
        return secured(self.json({"accepted": True}, status=202))


@app.page("/console/api/stream")
class Stream(View):
    async def get(self, request: Request) -> Any:
        if who(request) is None:
            return secured(self.json({"error": "sign in"}, status=401))
        response = secured(web.StreamResponse(headers={"Content-Type": "text/event-stream"}))
        await response.prepare(request)
        queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=1000)
        hub.queues.add(queue)
        try:
            await response.write(b"event: hello\ndata: {}\n\n")
            while True:
                try:
                    frame = await asyncio.wait_for(queue.get(), timeout=15)
                except TimeoutError:
                    frame = b": keep-alive\n\n"
                await response.write(frame)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            hub.queues.discard(queue)
        return response


@app.task
async def board_feed() -> None:
    """Build the board from the changelogs, on every worker (see alerts/board/feed.py)."""
    options = settings.kafka_python_options()
    connection: dict[str, Any] = {"security_protocol": options["security_protocol"]}
    if settings.kafka_security_protocol.startswith("SASL"):
        connection |= {k: options[k] for k in ("sasl_mechanism", "sasl_plain_username", "sasl_plain_password")}
    if (context := settings.ssl_context()) is not None:
        connection["ssl_context"] = context
    await follow(settings.bootstrap_servers, settings.app_id, board, _publish, **connection)


@app.timer(interval=5.0)
async def board_gauges() -> None:
    """Cluster-wide figures for custody managers, from this worker's copy of the board."""
    metrics.BOARD.clear()
    for measure, key, value in measures(board):
        label = metrics.bounded_area(key) if measure == "children_in_custody" else key
        metrics.BOARD.labels(measure, label).set(value)
