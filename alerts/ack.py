"""Acknowledging an alert over HTTP, on the worker's web server.

- ``POST /alerts/{alert_id}/ack`` with ``Authorization: Bearer <token>``: the token must match
  a user's stored credential, and the user's role must be inspector or admin (a viewer gets
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

import msgspec
from faust.web import Request, Response, View

from alerts import auth
from alerts.access import LinkUsed, record_key
from alerts.dispatch import AckCommand, commands_channel
from agents.alert import ALERT_ID
from alerts.tokens import check_ack_token, user_for_bearer
from streams.app import app, notify_config

LONDON: Final = ZoneInfo("Europe/London")


async def record_ack(alert_id: str, by: str, how: str) -> None:
    command = AckCommand(alert_id, by, how, dt.datetime.now(dt.UTC))
    fut = await commands_channel.send(key=alert_id.encode(), value=msgspec.json.encode(command))
    await fut


def too_many(view: View, wait: float) -> Response:
    response: Response = view.json({"error": "too many failed attempts; try again later"}, status=429)
    response.headers["Retry-After"] = str(max(1, int(wait + 0.999)))
    return response


@app.page("/alerts/{alert_id}/ack")
class BearerAck(View):
    async def post(self, request: Request, alert_id: str) -> Response:
        if (wait := auth.retry_after(request)) is not None:
            return too_many(self, wait)
        user = user_for_bearer(request.headers.get("Authorization"), notify_config.user_credentials)
        if user is None:
            auth.failed(request)
            return self.json({"error": "a valid bearer token is required"}, status=401)
        role = notify_config.user_roles.get(user, "viewer")
        if not auth.may_acknowledge(role):
            auth.failed(request, user)
            return self.json({"error": f"a {role} cannot acknowledge"}, status=403)
        if not ALERT_ID.fullmatch(alert_id):
            return self.json({"error": "not an alert id"}, status=404)
        await record_ack(alert_id, user, "bearer token")
        return self.json({"accepted": True, "alert_id": alert_id, "by": user}, status=202)


@app.page("/ack")
class LinkAck(View):
    def _check(self, token: str) -> tuple[str, dict[str, str]]:
        if notify_config.ack_link_secret is None or len(token) > 2000:
            return "invalid", {}
        verdict, claim = check_ack_token(notify_config.ack_link_secret, token, notify_config.ack_link_ttl)
        if verdict == "ok" and not ALERT_ID.fullmatch(claim["alert_id"]):
            return "invalid", {}
        if verdict == "ok" and claim["link_id"] in auth.access.used_links:
            return "used", claim
        return verdict, claim

    def _refuse(self, request: Request, verdict: str, claim: dict[str, str]) -> Response:
        auth.failed(request)
        if verdict == "used":
            spent = auth.access.used_links[claim["link_id"]]
            when = spent.at.astimezone(LONDON).strftime("%d %b %Y %H:%M %Z")
            text = f"This acknowledgement link has already been used ({when}): alert {claim['alert_id']} "
            return self.text(text + "is already acknowledged. Nothing was changed.\n", status=409)
        return self.text(f"This acknowledgement link is {verdict}. Nothing was changed.\n", status=403)

    async def get(self, request: Request) -> Response:
        if (wait := auth.retry_after(request)) is not None:
            return too_many(self, wait)
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
        return self.html(page)

    async def post(self, request: Request) -> Response:
        if (wait := auth.retry_after(request)) is not None:
            return too_many(self, wait)
        form: Any = await request.post()
        verdict, claim = self._check(str(form.get("token", "")))
        if verdict != "ok":
            return self._refuse(request, verdict, claim)
        by = f"{claim['role']} (link sent to {claim['receiver']})"
        now = dt.datetime.now(dt.UTC)
        await auth.write(record_key("link", claim["link_id"]), LinkUsed(claim["alert_id"], now, by))
        await record_ack(claim["alert_id"], by, "signed link")
        return self.text(f"Acknowledged alert {claim['alert_id']}. The legal clock keeps running.\n", status=202)


__all__ = ["BearerAck", "LinkAck"]
