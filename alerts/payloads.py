"""What a receiver gets: the redacted alert, in the receiver's format, signed where it can be.

Every payload is built from ``redact``, an allow-list: pseudonymous ids, area or suite, the
rule, times, the action to take and links. Nothing else from an alert or an event can
reach a receiver, whatever the event carried.

Formats: generic JSON signed per Standard Webhooks (with every current secret, so a
receiver can rotate keys), Slack and Microsoft Teams incoming webhooks, PagerDuty Events v2
(``dedup_key`` is the alert id; trigger, acknowledge and resolve follow the lifecycle), and
the Prometheus Alertmanager v2 alerts API.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Final

from standardwebhooks import Webhook

from agents.alert import Alert
from alerts.config import Receiver
from alerts.lifecycle import Action, State
from alerts.text import london, what_happened

ALLOWED: Final = (
    "alert_id",
    "revision",
    "stage",
    "stage_name",
    "severity",
    "rule_id",
    "rule_version",
    "rule_title",
    "legal_basis",
    "local_standard",
    "grade",
    "domain",
    "case",
    "area",
    "clock_started_at",
    "deadline",
    "stage_at",
    "raised_at",
    "ended_at",
    "overdue_seconds",
    "target",
    "hindsight",
    "hindsight_reason",
    "reason",
    "explanation",
    "action",
)
"""The only alert fields a receiver sees. ``case`` is a pseudonymous reference by contract;
the reasons and the explanation are written by the engine from rule text, plain-word event
labels, contract enums and times, so they echo no input."""


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def redact(alert: Alert, state: State, links: dict[str, str]) -> dict[str, Any]:
    body = {name: _plain(getattr(alert, name)) for name in ALLOWED}
    body["state"] = state
    body["status"] = alert.status
    body["timeline"] = [
        {"type": e.type, "label": e.label, "detail": e.detail, "time": e.time.isoformat(), "late": e.late}
        for e in alert.timeline
    ]
    body["links"] = dict(links)
    return body


def summary(alert: Alert, state: State) -> str:
    """The state leads, so a page says what it is now: ``[RAISED breach high]``, then ``[CLOSED breach high]``."""
    where = f" at {alert.area}" if alert.area else ""
    return f"[{state.upper()} {alert.stage} {alert.severity}] {alert.rule_title}: case {alert.case}{where}"


_PD_SEVERITY: Final = {"critical": "critical", "high": "error", "medium": "warning", "low": "info", "info": "info"}


def render(
    receiver: Receiver,
    webhook_id: str,
    alert: Alert,
    state: State,
    action: Action,
    links: dict[str, str],
    now: dt.datetime,
) -> tuple[bytes, dict[str, str]]:
    """(body, headers) for one delivery. ``webhook_id`` is stable across retries and restarts."""
    redacted = redact(alert, state, links)
    payload: Any
    match receiver.format:
        case "generic":
            payload = {"type": f"watchkeeper.alert.{action}", "timestamp": now.isoformat(), "data": redacted}
        case "slack":
            ack = links.get("acknowledge")
            more = f"\n{what_happened(alert)}\nAction: {alert.action}" + (f"\nAcknowledge: {ack}" if ack else "")
            payload = {"text": summary(alert, state) + more}
        case "teams":
            payload = _teams(alert, state, redacted, links)
        case "pagerduty":
            payload = _pagerduty(receiver, alert, state, action, redacted, links)
        case "alertmanager":
            payload = [_alertmanager(receiver, alert, state, action, links, now)]
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    headers = {"content-type": "application/json", "webhook-id": webhook_id}
    if receiver.secrets:
        headers |= sign(receiver.secrets, webhook_id, now, body)
    return body, headers


def _teams(alert: Alert, state: State, redacted: dict[str, Any], links: dict[str, str]) -> dict[str, Any]:
    """A Microsoft Teams message with an Adaptive Card."""
    facts = [{"title": k, "value": str(redacted[k])} for k in ("rule_id", "case", "area", "state")]
    facts.append({"title": "deadline", "value": london(alert.deadline)})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": summary(alert, state), "wrap": True, "weight": "Bolder"},
            {"type": "FactSet", "facts": facts},
            {"type": "TextBlock", "text": what_happened(alert), "wrap": True},
            {"type": "TextBlock", "text": alert.action, "wrap": True},
        ],
    }
    if ack := links.get("acknowledge"):
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Acknowledge", "url": ack}]
    return {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
    }


def _pagerduty(
    receiver: Receiver, alert: Alert, state: State, action: Action, redacted: dict[str, Any], links: dict[str, str]
) -> dict[str, Any]:
    """A PagerDuty Events v2 event: trigger, acknowledge or resolve, deduplicated by alert id."""
    payload: dict[str, Any] = {"routing_key": receiver.routing_key, "event_action": action, "dedup_key": alert.alert_id}
    if action != "trigger":
        return payload
    payload["payload"] = {
        "summary": summary(alert, state)[:1024],
        "source": "watchkeeper",
        "severity": _PD_SEVERITY.get(alert.severity, "error"),
        "timestamp": alert.raised_at.isoformat(),
        "component": alert.rule_id,
        "group": alert.area or alert.domain,
        "custom_details": redacted,
    }
    ack = links.get("acknowledge")
    if where := ack or links.get("console"):
        text = "Acknowledge in Watchkeeper" if ack else "Open the case in the Watchkeeper console"
        payload["links"] = [{"href": where, "text": text}]
    if console := links.get("console"):  # PagerDuty's "View in Watchkeeper" on the incident
        payload["client"], payload["client_url"] = "Watchkeeper", console
    return payload


AM_SEVERITY: Final[dict[str, str]] = {
    "critical": "critical",
    "high": "critical",
    "medium": "warning",
    "low": "info",
    "info": "info",
}
"""Prometheus's severities, which Alertmanager routes are written for: a high or critical breach
pages (critical), a medium one is a warning. Watchkeeper's own is the ``watchkeeper_severity`` label."""
RESENDS_AHEAD: Final = 4
"""An open alert's ``endsAt`` is this many re-sends ahead: three may be lost before it lapses."""


def _alertmanager(
    receiver: Receiver, alert: Alert, state: State, action: Action, links: dict[str, str], now: dt.datetime
) -> dict[str, Any]:
    """One alert for the Alertmanager v2 API. Alertmanager's clients re-send what still fires:
    an open alert's ``endsAt`` is a few re-sends ahead (the dispatcher re-sends it every
    ``resend``), and a resolve ends it at the time the alert ended, not when it was delivered."""
    labels = {"alertname": alert.rule_id, "alert_id": alert.alert_id, "severity": AM_SEVERITY[alert.severity]}
    labels |= {"watchkeeper_severity": alert.severity, "stage": alert.stage, "case": alert.case, "domain": alert.domain}
    if alert.area:
        labels["area"] = alert.area
    entry: dict[str, Any] = {
        "labels": labels,
        "annotations": {
            "summary": summary(alert, state),
            "description": what_happened(alert),
            "action": alert.action,
            "deadline": london(alert.deadline),
        },
        "startsAt": alert.stage_at.isoformat(),
    }
    if where := links.get("acknowledge") or links.get("console"):
        entry["generatorURL"] = where
    if action == "resolve":
        entry["endsAt"] = min(alert.ended_at or now, now).isoformat()
    else:
        entry["endsAt"] = (now + RESENDS_AHEAD * (receiver.resend or dt.timedelta(minutes=1))).isoformat()
    return entry


def notice(
    receiver: Receiver, webhook_id: str, message: dict[str, Any], now: dt.datetime
) -> tuple[bytes, dict[str, str]]:
    """A message of Watchkeeper's own (heartbeat, delivery failure): JSON, signed if the receiver has secrets."""
    body = json.dumps(message, separators=(",", ":"), sort_keys=True).encode()
    headers = {"content-type": "application/json", "webhook-id": webhook_id}
    return body, headers | (sign(receiver.secrets, webhook_id, now, body) if receiver.secrets else {})


def sign(secrets: tuple[str, ...], webhook_id: str, now: dt.datetime, body: bytes) -> dict[str, str]:
    """Standard Webhooks headers: one ``v1,`` signature per current secret, space-separated."""
    data = body.decode()
    signatures = " ".join(Webhook(secret).sign(webhook_id, now, data) for secret in secrets)
    return {"webhook-timestamp": str(int(now.timestamp())), "webhook-signature": signatures}
