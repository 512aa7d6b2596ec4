"""Silences on the real broker, with a real worker and a real HTTP receiver: a silence holds the
pages of the alerts it matches, and only those, while they fire and are recorded; at its end,
or when an admin ends it early, every one still open is delivered; each silence is on the audit
topic, and a restarted worker still holds what an active silence holds."""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from alerts.tokens import credential_for, generate_token
from tests.alerts.helpers import SESSION_KEY
from tests.conftest import REPO, Deployment, Receiver, cloudevent, detention, free_port, wait_until

pytestmark = pytest.mark.broker
AA_4S = str(REPO / "tests" / "integration" / "aa-4s.yaml")
ADMIN, INSPECTOR = generate_token(), generate_token()


def call(port: int, method: str, path: str, token: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else b""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers, method=method)
    if method == "GET":
        request.data = None
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def bring_in(d: Deployment, case: str, suite: str) -> None:
    now = dt.datetime.now(dt.UTC)
    d.send(detention(case, at=now, suite=suite))
    d.send(cloudevent(case, "custody.appropriate_adult.requested", at=now))


def pages(receiver: Receiver, case: str) -> list[dict[str, Any]]:
    return [b["data"] for b in receiver.bodies() if b.get("data", {}).get("case") == case]


def worker_with_admin(deployment: Callable[..., Deployment], receiver: Receiver) -> tuple[Deployment, int]:
    port = free_port()
    users = f"admin-1:admin:{credential_for(ADMIN)},insp-1:inspector:{credential_for(INSPECTOR)}"
    d = deployment(
        WATCHKEEPER_POLICY_OVERRIDES=AA_4S,
        WATCHKEEPER_WEBHOOK_URL=receiver.url,
        WATCHKEEPER_CONSOLE_USERS=users,
        WATCHKEEPER_SESSION_SECRET=SESSION_KEY,
        WATCHKEEPER_WEB_PORT=str(port),
    )
    d.start_worker()
    wait_until(lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/livez", timeout=5).status == 200)
    return d, port


def test_a_silence_holds_the_pages_it_matches_and_releases_them_at_its_end(
    deployment: Callable[..., Deployment], receiver: Receiver
) -> None:
    d, port = worker_with_admin(deployment, receiver)
    request = {"areas": ["SUITE-NORTH"], "rules": ["custody.*"], "duration": "25s", "reason": "custody system outage"}
    assert call(port, "POST", "/silences", INSPECTOR, request)[0] == 403, "only an admin silences"
    status, silence = call(port, "POST", "/silences", ADMIN, request)
    assert status == 201 and silence["status"] == "active"
    ends = dt.datetime.fromisoformat(silence["ends_at"])

    bring_in(d, "CR-HELD", "SUITE-NORTH")
    bring_in(d, "CR-PAGED", "SUITE-SOUTH")  # another suite: paged as ever
    wait_until(lambda: any(p["stage"] == "breach" for p in pages(receiver, "CR-PAGED")), timeout=30)
    transitions = d.read(
        "alert-transitions", until=lambda r: any(t.get("notifications") == "held" for t in r), timeout=30
    )
    held = [t for t in transitions if t.get("notifications") == "held"]
    assert held and all(t["silence_id"] == silence["silence_id"] for t in held)
    assert pages(receiver, "CR-HELD") == [], "held while the silence lasts"
    assert dt.datetime.now(dt.UTC) < ends, "the test checked inside the silence"

    wait_until(lambda: any(p["stage"] == "breach" for p in pages(receiver, "CR-HELD")), timeout=60)
    released_after = dt.datetime.now(dt.UTC) - ends
    assert dt.timedelta(0) <= released_after < dt.timedelta(seconds=10), released_after
    audit = d.read("alert-transitions", until=lambda r: any(t.get("notifications") == "released" for t in r))
    assert any(t.get("change") == "created" and t.get("by") == "admin-1" for t in audit), "on the audit topic"
    assert any(t.get("notifications") == "released" for t in audit)
    # The alert stayed on the record throughout: raised, held, released, in that order.
    held_alert = held[0]["alert_id"]
    lines = [t.get("notifications") or t["state"] for t in audit if t.get("alert_id") == held_alert]
    assert lines[:3] == ["raised", "held", "released"]


def test_a_silence_ended_early_releases_what_it_held_at_once_and_survives_a_restart(
    deployment: Callable[..., Deployment], receiver: Receiver
) -> None:
    d, port = worker_with_admin(deployment, receiver)
    request = {"areas": ["SUITE-EAST"], "duration": "1h", "reason": "planned upgrade"}
    status, silence = call(port, "POST", "/silences", ADMIN, request)
    assert status == 201
    bring_in(d, "CR-EARLY", "SUITE-EAST")
    d.read("alert-transitions", until=lambda r: sum(t.get("notifications") == "held" for t in r) >= 1, timeout=30)

    # A restarted worker reads the silence log before it decides anything: still held.
    d.workers[0].stop()
    d.start_worker(data_slot=0)
    wait_until(lambda: call(port, "GET", "/silences", INSPECTOR)[0] == 200, timeout=60)
    time.sleep(6)
    assert pages(receiver, "CR-EARLY") == []

    status, ended = call(port, "POST", f"/silences/{silence['silence_id']}/end", ADMIN)
    assert status == 200 and ended["status"] == "ended" and ended["ended_by"] == "admin-1"
    asked = time.monotonic()
    wait_until(lambda: any(p["stage"] == "breach" for p in pages(receiver, "CR-EARLY")), timeout=60)
    assert time.monotonic() - asked < 10, "an early end releases at once, not at the silence's old end"
    audit = d.read("alert-transitions", until=lambda r: any(t.get("change") == "ended" for t in r))
    assert [t["change"] for t in audit if "change" in t] == ["created", "ended"]
