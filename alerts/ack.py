"""Acknowledging an alert over HTTP, on the worker's web server.

- ``POST /alerts/{alert_id}/ack`` with ``Authorization: Bearer <token>``: the token's SHA-256
  must be a user's in the notification file; the ack is recorded under that user.
- ``GET /ack?token=…`` (the signed, expiring link in every page) shows a confirmation page;
  its button POSTs the same token to ``/ack``. A GET never acknowledges, so a chat app
  that previews the link cannot ack a page nobody has read.

A missing or unknown bearer token is 401, a bad or expired link 403; neither changes
anything. An accepted ack is 202: it goes on the alert-commands topic, keyed by alert id, and
the dispatcher that owns the alert applies it (an alert already satisfied stays satisfied).
"""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import faust
import msgspec
from faust.web import Request, Response, View

from alerts.dispatch import AckCommand, commands_channel
from alerts.tokens import check_ack_token, user_for_bearer
from streams.app import app, notify_config

_ALERT_ID = re.compile(r"^[0-9a-f-]{36}$")


async def record_ack(alert_id: str, by: str, how: str) -> None:
    command = AckCommand(alert_id, by, how, dt.datetime.now(dt.UTC))
    fut = await commands_channel.send(key=alert_id.encode(), value=msgspec.json.encode(command))
    await fut


@app.page("/alerts/{alert_id}/ack")
class BearerAck(View):
    async def post(self, request: Request, alert_id: str) -> Response:
        user = user_for_bearer(request.headers.get("Authorization"), notify_config.user_tokens)
        if user is None:
            return self.json({"error": "a valid bearer token is required"}, status=401)
        if not _ALERT_ID.match(alert_id):
            return self.json({"error": "not an alert id"}, status=404)
        await record_ack(alert_id, user, "bearer token")
        return self.json({"accepted": True, "alert_id": alert_id, "by": user}, status=202)


@app.page("/ack")
class LinkAck(View):
    def _check(self, token: str) -> tuple[str, str, str]:
        if notify_config.ack_link_secret is None:
            return "invalid", "", ""
        return check_ack_token(notify_config.ack_link_secret, token, dt.datetime.now(dt.UTC))

    async def get(self, request: Request) -> Response:
        token = request.query.get("token", "")
        verdict, alert_id, role = self._check(token)
        if verdict != "ok":
            return self.text(f"This acknowledgement link is {verdict}. Nothing was changed.\n", status=403)
        page = (
            "<!doctype html><title>Acknowledge alert</title>"
            f"<p>Acknowledge alert {html.escape(alert_id)} for {html.escape(role)}?</p>"
            "<p>Acknowledging says you have seen it. The legal clock keeps running until the required "
            "action is recorded.</p>"
            f'<form method="post" action="/ack"><input type="hidden" name="token" value="{html.escape(token)}">'
            '<button type="submit">Acknowledge</button></form>'
        )
        return self.html(page)

    async def post(self, request: Request) -> Response:
        form: Any = await request.post()
        verdict, alert_id, role = self._check(str(form.get("token", "")))
        if verdict != "ok":
            return self.text(f"This acknowledgement link is {verdict}. Nothing was changed.\n", status=403)
        await record_ack(alert_id, f"link:{role}", "signed link")
        return self.text(f"Acknowledged alert {alert_id}. The legal clock keeps running.\n", status=202)


__all__ = ["BearerAck", "LinkAck", "faust"]
