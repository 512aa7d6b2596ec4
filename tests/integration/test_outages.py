"""A page is never dropped: a receiver out of service for longer than the whole retry budget
still gets every page once it is back, with or without a fallback. Real broker, real HTTP."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from alerts.tokens import credential_for, generate_token
from tests.alerts.helpers import SESSION_KEY
from tests.conftest import REPO, Deployment, Receiver, cloudevent, detention, free_port, wait_until

pytestmark = pytest.mark.broker
AA_4S = str(REPO / "tests" / "integration" / "aa-4s.yaml")
TOKEN = generate_token()
SHORT_BUDGET = {
    "WATCHKEEPER_POLICY_OVERRIDES": AA_4S,
    "WATCHKEEPER_RETRY_BASE_SECONDS": "0.2",
    "WATCHKEEPER_RETRY_CAP_SECONDS": "1",
    "WATCHKEEPER_RETRY_ATTEMPTS": "2",  # the budget is spent in about a second
    "WATCHKEEPER_BREAKER_COOLDOWN_SECONDS": "0.5",
}


@pytest.fixture
def hooks() -> Iterator[tuple[Receiver, Receiver]]:
    primary, fallback = Receiver(), Receiver()
    yield primary, fallback
    for r in (primary, fallback):
        with contextlib.suppress(OSError):
            r.down()


def firing_ids(d: Deployment, cases: int) -> set[str]:
    alerts = d.read("alerts", until=lambda r: sum(a["stage"] == "breach" for a in r) >= cases, timeout=60)
    return {a["alert_id"] for a in alerts if a["status"] == "firing"}


def bring_in(d: Deployment, case: str) -> None:
    now = dt.datetime.now(dt.UTC)
    d.send(detention(case, at=now))
    d.send(cloudevent(case, "custody.appropriate_adult.requested", at=now))


def test_a_receiver_down_past_the_retry_budget_gets_every_page_when_back_and_the_fallback_hears_at_once(
    deployment: Callable[..., Deployment], hooks: tuple[Receiver, Receiver]
) -> None:
    primary, fallback = hooks
    primary.down()  # connection refused
    port = free_port()
    d = deployment(
        WATCHKEEPER_WEBHOOK_URL=primary.url,
        WATCHKEEPER_WEBHOOK_FALLBACK_URL=fallback.url,
        WATCHKEEPER_WEB_PORT=str(port),
        WATCHKEEPER_CONSOLE_USERS=f"insp-1:inspector:{credential_for(TOKEN)}",
        WATCHKEEPER_SESSION_SECRET=SESSION_KEY,
        WATCHKEEPER_SLOW_DELIVERY_SECONDS="3",
        **SHORT_BUDGET,
    )
    worker = d.start_worker()
    for i in range(2):
        bring_in(d, f"CR-DOWN-{i}")
    ids = firing_ids(d, 2)
    # The single-receiver set-up names a fallback too: it hears of the failure at once.
    wait_until(lambda: any(h["webhook-id"].endswith(".failure") for h, _ in fallback.received), timeout=60)
    time.sleep(6)  # several times the whole retry budget
    assert primary.received == []
    # The duty inspector's console says which receiver is not getting its pages.
    cookie = sign_in(port)
    failing = console_get(port, "/console/api/deliveries", cookie)
    assert [d["receiver"] for d in failing] == ["webhook"] and failing[0]["pending"] >= 1
    primary.up()
    wait_until(lambda: {p["data"]["alert_id"] for p in primary.bodies()} >= ids, timeout=90)
    per_id = Counter(h["webhook-id"] for h, _ in primary.received)
    assert max(per_id.values()) == 1, "a webhook-id delivered twice"
    assert "DELIVERED LATE | receiver webhook" in worker.output()
    wait_until(lambda: console_get(port, "/console/api/deliveries", cookie) == [], timeout=30)


def sign_in(port: int) -> str:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/console/login",
        data=urllib.parse.urlencode({"token": TOKEN}).encode(),
        headers={"X-Watchkeeper": "console"},
    )
    with urllib.request.urlopen(request, timeout=10) as reply:
        return str(reply.headers["Set-Cookie"]).split(";", 1)[0]


def console_get(port: int, path: str, cookie: str) -> Any:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Cookie": cookie})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return json.loads(reply.read())


def test_without_a_fallback_a_receiver_answering_503_for_long_still_gets_every_page(
    deployment: Callable[..., Deployment], hooks: tuple[Receiver, Receiver]
) -> None:
    primary, _ = hooks
    primary.script += [(503, {})] * 12  # a dozen refusals: many budgets' worth
    d = deployment(WATCHKEEPER_WEBHOOK_URL=primary.url, WATCHKEEPER_WEB_PORT=str(free_port()), **SHORT_BUDGET)
    d.start_worker()
    bring_in(d, "CR-503")
    ids = firing_ids(d, 1)
    wait_until(lambda: {p["data"]["alert_id"] for p in primary.bodies()} >= ids, timeout=90)
    assert primary.script == [], "every refusal was answered by another attempt"
    receipts = d.read("deliveries", until=lambda r: any(x["verdict"] == "delivered" for x in r), timeout=30)
    assert sum(x["status"] == 503 for x in receipts) == 12
