from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import msgspec
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from alerts.config import Receiver
from alerts.payloads import ALLOWED, redact, render
from tests.alerts.helpers import SECRET_NEW, SECRET_OLD, alert

NOW = dt.datetime.now(dt.UTC)
LINKS = {"acknowledge": "https://wk.example/ack?t=abc"}


def generic(*secrets: str) -> Receiver:
    return Receiver("r", "http://127.0.0.1:9/", "generic", secrets)


def test_generic_payloads_verify_with_the_standard_webhooks_library_under_key_rotation() -> None:
    body, headers = render(generic(SECRET_OLD, SECRET_NEW), "a1.r0t0.r", alert(), "raised", "trigger", LINKS, NOW)
    for secret in (SECRET_OLD, SECRET_NEW):  # a receiver on either key accepts it while both are current
        assert Webhook(secret).verify(body, headers)["data"]["alert_id"] == "a1"
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "c29tZS1vdGhlci1rZXktZW50aXJlbHk=").verify(body, headers)
    assert headers["webhook-id"] == "a1.r0t0.r" and len(headers["webhook-signature"].split(" ")) == 2


def test_a_tampered_body_fails_verification() -> None:
    body, headers = render(generic(SECRET_NEW), "a1.x", alert(), "raised", "trigger", LINKS, NOW)
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET_NEW).verify(body.replace(b"CR-1", b"CR-2"), headers)


def test_the_payload_is_an_allow_list() -> None:
    data = redact(alert(), "raised", LINKS)
    assert set(data) == {*ALLOWED, "state", "status", "timeline", "links"}
    assert "timeline" in data and "policy_note" not in data


def test_receivers_hear_why_an_alert_was_retracted_or_raised_in_hindsight() -> None:
    retracted = msgspec.structs.replace(
        alert(), status="retracted", reason="Retracted: a record entered later shows the AA arrived in time."
    )
    data = redact(retracted, "retracted", LINKS)
    assert data["reason"] == retracted.reason and data["explanation"] == retracted.explanation
    receiver = Receiver("chat", "http://127.0.0.1:9/", "slack", ())
    body, _ = render(receiver, "w1", retracted, "retracted", "resolve", LINKS, NOW)
    assert "the AA arrived in time" in json.loads(body)["text"]


@pytest.mark.parametrize(
    ("fmt", "check"),
    [
        ("slack", lambda p: "Appropriate adult" in p["text"] and LINKS["acknowledge"] in p["text"]),
        ("teams", lambda p: p["attachments"][0]["content"]["type"] == "AdaptiveCard"),
        ("alertmanager", lambda p: p[0]["labels"]["alertname"] == "custody.appropriate_adult.arrival"),
    ],
)
def test_chat_and_alertmanager_formats(fmt: str, check: object) -> None:
    body, _ = render(Receiver("r", "http://x/", fmt), "id", alert(), "raised", "trigger", LINKS, NOW)  # type: ignore[arg-type]
    assert check(json.loads(body))  # type: ignore[operator]


@pytest.mark.parametrize("action", ["trigger", "acknowledge", "resolve"])
def test_pagerduty_follows_the_lifecycle_with_the_alert_id_as_dedup_key(action: str) -> None:
    receiver = Receiver("pd", "http://x/v2/enqueue", "pagerduty", routing_key="R0UT1NGKEY")
    payload = json.loads(render(receiver, "id", alert(), "raised", action, LINKS, NOW)[0])
    assert payload["event_action"] == action and payload["dedup_key"] == "a1" and payload["routing_key"] == "R0UT1NGKEY"
    assert ("payload" in payload) == (action == "trigger")


def test_alertmanager_resolve_sets_ends_at(tmp_path: Path) -> None:
    body, _ = render(Receiver("am", "http://x/", "alertmanager"), "id", alert(), "resolved", "resolve", {}, NOW)
    assert json.loads(body)[0]["endsAt"] == NOW.isoformat()


def test_alertmanager_gets_prometheus_severities_an_ends_at_ahead_while_open_and_the_end_time_when_over() -> None:
    am = Receiver("am", "http://127.0.0.1:9/api/v2/alerts", "alertmanager", resend=dt.timedelta(seconds=30))
    body, _ = render(am, "a1.r0t0.am", alert(severity="high"), "raised", "trigger", {}, NOW)
    (entry,) = json.loads(body)
    assert entry["labels"]["severity"] == "critical" and entry["labels"]["watchkeeper_severity"] == "high"
    assert dt.datetime.fromisoformat(entry["endsAt"]) == NOW + dt.timedelta(minutes=2), "four re-sends ahead"
    assert entry["annotations"]["summary"].startswith("[RAISED breach high]")
    satisfied_at = NOW - dt.timedelta(minutes=7)
    over = alert("satisfied", revision=2, ended_at=satisfied_at)
    body, _ = render(am, "a1.close-2.am", over, "satisfied", "resolve", {}, NOW)
    (entry,) = json.loads(body)
    assert dt.datetime.fromisoformat(entry["endsAt"]) == satisfied_at, "when it ended, not when it was delivered"
    assert entry["annotations"]["summary"].startswith("[SATISFIED breach high]")
    medium, _ = render(am, "w.r0t0.am", alert(severity="medium", stage="warning"), "raised", "trigger", {}, NOW)
    assert json.loads(medium)[0]["labels"]["severity"] == "warning"


def test_pagerduty_links_the_incident_to_the_console_case() -> None:
    pd = Receiver("pd", "http://127.0.0.1:9/", "pagerduty", routing_key="R")
    console = {"console": "https://wk.example/console#case/CR-1"}
    body, _ = render(pd, "a1.r0t0.pd", alert(), "raised", "trigger", console, NOW)
    event = json.loads(body)
    assert event["client"] == "Watchkeeper" and event["client_url"] == console["console"]
