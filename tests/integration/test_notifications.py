"""Notifications on the real broker to real HTTP receivers: every format, signatures under key
rotation, redaction, escalation and acks, receivers that fail, and a worker killed mid-delivery."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import signal
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from alerts.tokens import credential_for, generate_token
from tests.alerts.helpers import LINK_KEY, SECRET_NEW, SECRET_OLD, SESSION_KEY
from tests.conftest import REPO, Deployment, Receiver, cloudevent, detention, free_port, wait_until

pytestmark = pytest.mark.broker
AA_4S = str(REPO / "tests" / "integration" / "aa-4s.yaml")
TOKEN, VIEWER_TOKEN = generate_token(), generate_token()


@pytest.fixture
def receivers() -> Iterator[dict[str, Receiver]]:
    made = {
        name: Receiver() for name in ("generic", "slack", "teams", "pagerduty", "alertmanager", "inspector", "fallback")
    }
    yield made
    for r in made.values():
        with contextlib.suppress(OSError):
            r.down()


def write_config(tmp: Path, r: dict[str, Receiver], web_port: int, **extra: str) -> Path:
    text = f"""
receivers:
  generic: {{url: "{r["generic"].url}", secrets: ["{SECRET_OLD}", "{SECRET_NEW}"]}}
  slack: {{url: "{r["slack"].url}", format: slack}}
  teams: {{url: "{r["teams"].url}", format: teams}}
  pagerduty: {{url: "{r["pagerduty"].url}", format: pagerduty, routing_key: R0UT1NG}}
  alertmanager: {{url: "{r["alertmanager"].url}", format: alertmanager}}
  inspector: {{url: "{r["inspector"].url}"}}
  fallback: {{url: "{r["fallback"].url}"}}
roles:
  custody_sergeant: [generic, slack, teams, pagerduty, alertmanager]
  duty_inspector: [inspector]
policies:
  ladder:
    tiers: [{{role: custody_sergeant}}, {{role: duty_inspector, after: {extra.get("inspector_after", "8s")}}}]
routes:
  - {{policy: ladder}}
fallback: fallback
users:
  - {{user: insp-4411, token_hash: "{credential_for(TOKEN)}"}}
  - {{user: viewer-1, access: viewer, token_hash: "{credential_for(VIEWER_TOKEN)}"}}
ack_link_secret: "{LINK_KEY}"
session_secret: "{SESSION_KEY}"
public_url: "http://127.0.0.1:{web_port}"
heartbeat: {{interval: 1s, receivers: [fallback]}}
"""
    path = tmp / "notify.yaml"
    path.write_text(text)
    return path


def bring_in(d: Deployment, case: str, **extra: Any) -> None:
    now = dt.datetime.now(dt.UTC)
    event = detention(case, at=now)
    event["data"].update(extra)
    d.send(event)
    d.send(cloudevent(case, "custody.appropriate_adult.requested", at=now))


def payloads(r: Receiver) -> list[Any]:
    return [json.loads(body) for headers, body in r.received if "heartbeat" not in headers.get("webhook-id", "")]


def http(method: str, url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, reply.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_every_format_is_delivered_verified_redacted_and_follows_the_lifecycle(
    deployment: Callable[..., Deployment], receivers: dict[str, Receiver], tmp_path: Path
) -> None:
    port = free_port()
    config = write_config(tmp_path, receivers, port)
    d = deployment(WATCHKEEPER_POLICY_OVERRIDES=AA_4S, WATCHKEEPER_NOTIFY=str(config), WATCHKEEPER_WEB_PORT=str(port))
    worker = d.start_worker()
    bring_in(d, "CR-PAGED", child_name="Jane Smith", date_of_birth="2010-04-01")
    bring_in(d, "CR-ACKED")
    bring_in(d, "CR-LINKED")
    wait_until(lambda: sum(p["data"]["stage"] == "breach" for p in payloads(receivers["generic"])) >= 3)

    # Standard Webhooks: every generic delivery verifies with either current secret.
    for headers, body in receivers["generic"].received:
        for secret in (SECRET_OLD, SECRET_NEW):
            Webhook(secret).verify(body, headers)
    generic = payloads(receivers["generic"])
    acked_id = next(
        p["data"]["alert_id"] for p in generic if p["data"]["case"] == "CR-ACKED" and p["data"]["stage"] == "breach"
    )

    # Acknowledge one breach with a bearer token before the inspector's tier; a bad token or a
    # viewer's changes nothing.
    assert (
        http("POST", f"http://127.0.0.1:{port}/alerts/{acked_id}/ack", b"", {"Authorization": "Bearer nope"})[0] == 401
    )
    viewer = {"Authorization": f"Bearer {VIEWER_TOKEN}"}
    assert http("POST", f"http://127.0.0.1:{port}/alerts/{acked_id}/ack", b"", viewer)[0] == 403
    status, _ = http(
        "POST", f"http://127.0.0.1:{port}/alerts/{acked_id}/ack", b"", {"Authorization": f"Bearer {TOKEN}"}
    )
    assert status == 202

    # The signed link in a page: GET shows a confirmation, POST acknowledges, a tampered token is refused.
    link = next(p["data"]["links"]["acknowledge"] for p in generic if p["data"]["case"] == "CR-LINKED")
    token = urllib.parse.parse_qs(urllib.parse.urlparse(link).query)["token"][0]
    assert http("GET", link)[0] == 200
    assert http("GET", link.replace(token, token[:-3] + "abc"))[0] == 403
    assert (
        http("POST", f"http://127.0.0.1:{port}/ack", urllib.parse.urlencode({"token": token[:-2]}).encode())[0] == 403
    )
    confirm = urllib.parse.urlencode({"token": token}).encode()
    assert http("POST", f"http://127.0.0.1:{port}/ack", confirm)[0] == 202
    status, page = http("POST", f"http://127.0.0.1:{port}/ack", confirm)
    assert status == 409 and "already been used" in page, "an ack link works once"
    # Machine receivers get the console's case page, behind sign-in, never an ack capability.
    assert all("acknowledge" not in json.dumps(p) for p in payloads(receivers["alertmanager"]))
    am_link = payloads(receivers["alertmanager"])[0][0]["generatorURL"]
    assert "/console#case/" in am_link and "token" not in am_link
    assert all("token=" not in json.dumps(p) for p in payloads(receivers["pagerduty"]))

    # The inspector (tier 2, 8 s) is paged for the unacknowledged breach only.
    wait_until(
        lambda: any(
            p["data"]["case"] == "CR-PAGED" and p["data"]["stage"] == "breach" for p in payloads(receivers["inspector"])
        )
    )
    time.sleep(2)
    assert all(p["data"]["alert_id"] != acked_id for p in payloads(receivers["inspector"]))

    # The AA arrives: the breach is satisfied, and PagerDuty and Alertmanager are told to resolve.
    d.send(cloudevent("CR-PAGED", "custody.appropriate_adult.arrived", at=dt.datetime.now(dt.UTC)))
    wait_until(lambda: any(p["event_action"] == "resolve" for p in payloads(receivers["pagerduty"])))
    pd = payloads(receivers["pagerduty"])
    assert {p["event_action"] for p in pd} == {"trigger", "acknowledge", "resolve"}
    assert {p["dedup_key"] for p in pd} <= {p["data"]["alert_id"] for p in generic}
    wait_until(lambda: any("endsAt" in p[0] for p in payloads(receivers["alertmanager"])))
    assert payloads(receivers["alertmanager"])[0][0]["labels"]["alertname"] == "custody.appropriate_adult.arrival"
    assert all("Appropriate adult" in p["text"] for p in payloads(receivers["slack"]))
    assert all(p["attachments"][0]["content"]["type"] == "AdaptiveCard" for p in payloads(receivers["teams"]))

    # Nothing personal reached any receiver, whatever the event carried.
    everything = b"".join(body for r in receivers.values() for _, body in r.received) + worker.output().encode()
    assert b"Jane" not in everything and b"2010-04-01" not in everything

    # Every transition is on the audit topic, with who and why.
    transitions = d.read("alert-transitions", until=lambda t: any(x["state"] == "satisfied" for x in t), timeout=30)
    assert any(
        t["state"] == "acknowledged" and t["by"] == "insp-4411" and t["alert_id"] == acked_id for t in transitions
    )
    assert any(
        t["state"] == "acknowledged" and t["by"] == "custody_sergeant (link sent to generic)" for t in transitions
    )
    assert not any(t["by"] == "viewer-1" for t in transitions)

    # The heartbeat: the fallback receiver hears the worker every second.
    assert sum("heartbeat" in h.get("webhook-id", "") for h, _ in receivers["fallback"].received) >= 3


def test_a_receiver_down_for_a_while_gets_everything_once_and_a_dead_one_fails_over(
    deployment: Callable[..., Deployment], receivers: dict[str, Receiver], tmp_path: Path
) -> None:
    port = free_port()
    config = write_config(tmp_path, receivers, port, inspector_after="1h")
    receivers["generic"].down()
    receivers["slack"].script += [(500, {})] * 100  # never recovers within the attempts
    d = deployment(
        WATCHKEEPER_POLICY_OVERRIDES=AA_4S,
        WATCHKEEPER_NOTIFY=str(config),
        WATCHKEEPER_WEB_PORT=str(port),
        WATCHKEEPER_RETRY_BASE_SECONDS="0.2",
        WATCHKEEPER_RETRY_CAP_SECONDS="1",
        WATCHKEEPER_RETRY_ATTEMPTS="25",
        WATCHKEEPER_BREAKER_COOLDOWN_SECONDS="1",
    )
    worker = d.start_worker()
    for i in range(3):
        bring_in(d, f"CR-OUT{i}")
    alerts = d.read("alerts", until=lambda r: sum(a["stage"] == "breach" for a in r) >= 3, timeout=60)
    time.sleep(3)
    receivers["generic"].up()
    ids = {a["alert_id"] for a in alerts}
    wait_until(lambda: {p["data"]["alert_id"] for p in payloads(receivers["generic"])} >= ids, timeout=90)
    per_id = Counter(h["webhook-id"] for h, _ in receivers["generic"].received)
    assert max(per_id.values()) == 1, "a webhook-id delivered twice"

    # Slack never answered 2xx: each page went to the fallback, with a delivery-failure notice.
    wait_until(
        lambda: sum(h["webhook-id"].endswith(".failure") for h, _ in receivers["fallback"].received) >= 1, timeout=120
    )
    fallback_ids = [h["webhook-id"] for h, _ in receivers["fallback"].received]
    assert any(i.endswith(".slack.fallback") for i in fallback_ids)
    assert "DELIVERY FAILED | receiver slack" in worker.output()
    receipts = d.read("deliveries", until=lambda r: any(x["verdict"] == "delivered" for x in r), timeout=30)
    assert any(x["receiver"] == "generic" and x["error"] for x in receipts)  # the failed attempts left receipts


def test_a_worker_killed_mid_delivery_resumes_the_outbox_without_loss(
    deployment: Callable[..., Deployment], receivers: dict[str, Receiver], tmp_path: Path
) -> None:
    port = free_port()
    config = write_config(tmp_path, receivers, port, inspector_after="1h")
    receivers["generic"].down()
    env = {
        "WATCHKEEPER_POLICY_OVERRIDES": AA_4S,
        "WATCHKEEPER_NOTIFY": str(config),
        "WATCHKEEPER_WEB_PORT": str(port),
        "WATCHKEEPER_RETRY_BASE_SECONDS": "0.5",
        "WATCHKEEPER_RETRY_ATTEMPTS": "100",
        "WATCHKEEPER_SESSION_TIMEOUT_SECONDS": "6",
    }
    d = deployment(**env)
    first = d.start_worker()
    for i in range(3):
        bring_in(d, f"CR-KILL{i}")
    alerts = d.read("alerts", until=lambda r: sum(a["stage"] == "breach" for a in r) >= 3, timeout=60)
    time.sleep(2)  # the outbox is retrying the generic receiver, which is down
    first.stop(signal.SIGKILL)
    receivers["generic"].up()
    d.env["WATCHKEEPER_WEB_PORT"] = str(free_port())
    d.start_worker(data_slot=0)
    ids = {a["alert_id"] for a in alerts}
    wait_until(lambda: {p["data"]["alert_id"] for p in payloads(receivers["generic"])} >= ids, timeout=120)
    assert set(Counter(h["webhook-id"] for h, _ in receivers["generic"].received).values()) == {1}
