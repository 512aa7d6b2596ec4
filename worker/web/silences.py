"""Silences over HTTP: set, list and end them, from the console or with a bearer token.

- ``GET /silences``, ``POST /silences``, ``POST /silences/{silence_id}/end`` take
  ``Authorization: Bearer <token>`` (a script, a change-management tool);
- ``/console/api/silences`` and ``/console/api/silences/{silence_id}/end`` take the
  console's session and its header.

Anyone signed in may read them: a duty inspector must see what is being held. Only an admin
may set or end one (403 otherwise, counted as a failed attempt). A silence is answered 201
once the broker has it on the silence log and on the audit topic; until then nothing of it
holds anything. The author is the caller, never a field of the body.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, Final

import msgspec
from aiohttp import web

from alerts.config import Access
from alerts.silence import REQUEST_DECODER, SILENCE_ID, Silence, SilenceError
from worker.silences import SilenceLog
from worker.web.door import Door, from_console, may_sign_in

MAX_BODY: Final = 16 * 1024
_MSGSPEC_PATH: Final = re.compile(r" - at `\$\.?(.*)`$")
Handler = Callable[[web.Request, str], Awaitable[web.StreamResponse]]
"""(request, the caller's user name) -> response: what a route does once its caller is known."""
Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


def may_silence(access: Access) -> bool:
    return access == "admin"


def view(silence: Silence, log: SilenceLog) -> dict[str, Any]:
    shown: dict[str, Any] = msgspec.to_builtins(silence)
    shown["status"] = silence.status(log.clock())
    return shown


def _refused(status: int, error: str) -> web.Response:
    return web.json_response({"error": error}, status=status)


class SilenceRoutes:
    def __init__(self, door: Door, log: SilenceLog) -> None:
        self.door, self.log = door, log

    def install(self, router: web.UrlDispatcher) -> None:
        router.add_get("/silences", self._bearer(may_sign_in, "read silences", self.listing))
        router.add_post("/silences", self._bearer(may_silence, "set a silence", self.create))
        router.add_post("/silences/{silence_id}/end", self._bearer(may_silence, "end a silence", self.end))
        router.add_get("/console/api/silences", self._session(may_sign_in, self.listing))
        router.add_post("/console/api/silences", self._session(may_silence, self.create))
        router.add_post("/console/api/silences/{silence_id}/end", self._session(may_silence, self.end))

    # ------------------------------------------------------------------ who may call
    def _bearer(self, allowed: Callable[[Access], bool], job: str, handler: Handler) -> Route:
        async def checked(request: web.Request) -> web.StreamResponse:
            caller = self.door.bearer(request, allowed, job)
            return caller if isinstance(caller, web.Response) else await handler(request, caller[0])

        return checked

    def _session(self, allowed: Callable[[Access], bool], handler: Handler) -> Route:
        async def checked(request: web.Request) -> web.StreamResponse:
            session = self.door.signed_in(request)
            if session is None:
                return _refused(401, "sign in")
            if not allowed(session.access):
                self.door.failed(request, session.user)
                return _refused(403, "only an admin can set or end a silence")
            if request.method == "POST" and not from_console(request):
                return _refused(403, "missing console header")
            return await handler(request, session.user)

        return checked

    # ------------------------------------------------------------------ what they do
    async def listing(self, request: web.Request, user: str) -> web.StreamResponse:
        now = self.log.clock()
        return web.json_response([view(s, self.log) for s in self.log.silences.listing(now)])

    async def create(self, request: web.Request, user: str) -> web.StreamResponse:
        if (request.content_length or 0) > MAX_BODY:
            return _refused(413, f"a silence request is at most {MAX_BODY} bytes")
        body = await request.content.read(MAX_BODY + 1)
        try:
            silence = await self.log.create(REQUEST_DECODER.decode(body), user)
        except msgspec.DecodeError as exc:
            return _refused(400, _field_error(exc))
        except SilenceError as exc:
            return _refused(400, str(exc))
        return web.json_response(view(silence, self.log), status=201)

    async def end(self, request: web.Request, user: str) -> web.StreamResponse:
        silence_id = request.match_info["silence_id"]
        if not SILENCE_ID.fullmatch(silence_id):
            return _refused(404, "no such silence")
        try:
            silence = await self.log.end(silence_id, user)
        except LookupError:
            return _refused(404, "no such silence")
        except SilenceError as exc:
            return _refused(409, str(exc))
        return web.json_response(view(silence, self.log))


def _field_error(exc: msgspec.DecodeError) -> str:
    """The decoder's complaint, naming the field as the rest of the API does."""
    text = str(exc)
    found = _MSGSPEC_PATH.search(text)
    if found is None:
        return "the body must be a JSON object: reason, rules, areas, domains, starts_at, ends_at or duration"
    where = f"field '{found.group(1)}'" if found.group(1) else "the body"
    return f"{where}: {text[: found.start()][:200]}"
