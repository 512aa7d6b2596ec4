"""Acknowledging an alert over HTTP, on the worker's web server.

- ``POST /alerts/{alert_id}/ack`` with ``Authorization: Bearer <token>``: the token must match
  a user's stored credential, and the user's access must be inspector or admin (a viewer gets
  403 and nothing changes). The ack is recorded under that user.
- ``GET /ack?token=…`` (the signed, expiring, single-use link in a page to a person's
  channel) shows a confirmation page naming the alert and who the link was sent to; its
  button POSTs the same token to ``/ack``. A GET never acknowledges, so a chat app that
  previews the link cannot ack a page nobody has read. A second POST of the same link gets
  an "already used" page: the access log (alerts/access.py) records every spent link.

A missing or unknown bearer token is 401, a bad or expired link 403, a spent link 409;
none changes anything, and each counts towards the caller's throttle (429 with
Retry-After). An accepted ack is 202: it goes on the alert-commands topic, keyed by alert
id, and the dispatcher that owns the alert applies it.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any, Final
from zoneinfo import ZoneInfo

from aiohttp import web

from agents.alert import ALERT_ID
from alerts.access import LinkUsed, record_key
from alerts.config import NotifyConfig
from alerts.messages import COMMAND_ENCODER, AckCommand
from alerts.tokens import check_ack_token
from worker.channels import Send
from worker.web.door import Door, may_acknowledge, too_many

LONDON: Final = ZoneInfo("Europe/London")


class Acknowledgements:
    """Puts a person's acknowledgement on the alert-commands topic, keyed by alert id: the
    dispatcher that owns the alert applies it, whichever worker took the request."""

    def __init__(self, send: Send) -> None:
        self.send = send

    async def record(self, alert_id: str, by: str, how: str) -> None:
        command = AckCommand(alert_id, by, how, dt.datetime.now(dt.UTC))
        await self.send(alert_id.encode(), COMMAND_ENCODER.encode(command))


class AckRoutes:
    def __init__(self, config: NotifyConfig, door: Door, acknowledgements: Acknowledgements) -> None:
        self.config, self.door, self.acks = config, door, acknowledgements

    def install(self, router: web.UrlDispatcher) -> None:
        router.add_post("/alerts/{alert_id}/ack", self.bearer_ack)
        router.add_get("/ack", self.link_page)
        router.add_post("/ack", self.link_ack)

    async def bearer_ack(self, request: web.Request) -> web.StreamResponse:
        caller = self.door.bearer(request, may_acknowledge, "acknowledge")
        if isinstance(caller, web.Response):
            return caller
        user, _ = caller
        alert_id = request.match_info["alert_id"]
        if not ALERT_ID.fullmatch(alert_id):
            return web.json_response({"error": "not an alert id"}, status=404)
        await self.acks.record(alert_id, user, "bearer token")
        return web.json_response({"accepted": True, "alert_id": alert_id, "by": user}, status=202)

    def _check(self, token: str) -> tuple[str, dict[str, str]]:
        if self.config.ack_link_secret is None or len(token) > 2000:
            return "invalid", {}
        verdict, claim = check_ack_token(self.config.ack_link_secret, token, self.config.ack_link_ttl)
        if verdict == "ok" and not ALERT_ID.fullmatch(claim["alert_id"]):
            return "invalid", {}
        if verdict == "ok" and claim["link_id"] in self.door.access.used_links:
            return "used", claim
        return verdict, claim

    def _refuse(self, request: web.Request, verdict: str, claim: dict[str, str]) -> web.Response:
        self.door.failed(request)
        if verdict == "used":
            spent = self.door.access.used_links[claim["link_id"]]
            when = spent.at.astimezone(LONDON).strftime("%d %b %Y %H:%M %Z")
            text = f"This acknowledgement link has already been used ({when}): alert {claim['alert_id']} "
            return web.Response(text=text + "is already acknowledged. Nothing was changed.\n", status=409)
        return web.Response(text=f"This acknowledgement link is {verdict}. Nothing was changed.\n", status=403)

    async def link_page(self, request: web.Request) -> web.StreamResponse:
        if (wait := self.door.retry_after(request)) is not None:
            return too_many(wait)
        token = request.query.get("token", "")
        verdict, claim = self._check(token)
        if verdict != "ok":
            return self._refuse(request, verdict, claim)
        page = (
            "<!doctype html><title>Acknowledge alert</title>"
            f"<p>Acknowledge alert {html.escape(claim['alert_id'])}? This link was sent to "
            f"{html.escape(claim['role'])} through {html.escape(claim['receiver'])}, and works once.</p>"
            "<p>Acknowledging says you have seen it. The legal clock keeps running until the required "
            "action is recorded.</p>"
            f'<form method="post" action="/ack"><input type="hidden" name="token" value="{html.escape(token)}">'
            '<button type="submit">Acknowledge</button></form>'
        )
        return web.Response(text=page, content_type="text/html")

    async def link_ack(self, request: web.Request) -> web.StreamResponse:
        if (wait := self.door.retry_after(request)) is not None:
            return too_many(wait)
        form: Any = await request.post()
        verdict, claim = self._check(str(form.get("token", "")))
        if verdict != "ok":
            return self._refuse(request, verdict, claim)
        by = f"{claim['role']} (link sent to {claim['receiver']})"
        now = dt.datetime.now(dt.UTC)
        await self.door.write(record_key("link", claim["link_id"]), LinkUsed(claim["alert_id"], now, by))
        await self.acks.record(claim["alert_id"], by, "signed link")
        return web.Response(
            text=f"Acknowledged alert {claim['alert_id']}. The legal clock keeps running.\n", status=202
        )
