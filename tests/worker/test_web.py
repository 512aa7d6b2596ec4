"""The web server's routes on an assembled worker, served over real HTTP on loopback, with the
access log and the alert-commands topic held in memory: who may do what, and what it leaves."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from alerts.tokens import generate_token
from tests.conftest import T0
from tests.worker.helpers import Broker, assemble, assemble_with_users
from worker.main import Worker, web_application

ALERT_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
VIEWER, INSPECTOR, ADMIN = generate_token(), generate_token(), generate_token()
CONSOLE = {"X-Watchkeeper": "console"}


def console_worker(broker: Broker) -> Worker:
    users = [("viewer-1", "viewer", VIEWER), ("insp-1", "inspector", INSPECTOR), ("admin-1", "admin", ADMIN)]
    worker = assemble_with_users("web", users)
    worker.door.send_access = broker.sender("access")
    worker.acknowledgements.send = broker.sender("commands")
    return worker


def serve(worker: Worker, scenario: Callable[[TestClient[Any, Any]], Awaitable[None]]) -> None:
    async def run() -> None:
        async with TestClient(TestServer(web_application(worker.app))) as client:
            await scenario(client)

    asyncio.run(run())


def test_only_an_inspector_s_or_admin_s_bearer_token_acknowledges(tmp_path: Any) -> None:
    broker = Broker()
    worker = console_worker(broker)

    async def scenario(client: TestClient[Any, Any]) -> None:
        path = f"/alerts/{ALERT_ID}/ack"
        assert (await client.post(path)).status == 401
        assert (await client.post(path, headers={"Authorization": f"Bearer {VIEWER}"})).status == 403
        accepted = await client.post(path, headers={"Authorization": f"Bearer {INSPECTOR}"})
        assert accepted.status == 202 and (await accepted.json())["by"] == "insp-1"
        assert (await client.post("/alerts/not-an-id/ack", headers={"Authorization": f"Bearer {ADMIN}"})).status == 404

    serve(worker, scenario)
    (command,) = broker.on("commands")
    assert (command["alert_id"], command["by"], command["how"]) == (ALERT_ID, "insp-1", "bearer token")


def test_a_console_session_is_a_record_on_the_access_log_and_ends_there(tmp_path: Any) -> None:
    broker = Broker()
    worker = console_worker(broker)

    async def scenario(client: TestClient[Any, Any]) -> None:
        refused = await client.post("/console/login", data={"token": VIEWER})  # not from the console page
        assert refused.status == 403
        login = await client.post("/console/login", data={"token": VIEWER}, headers=CONSOLE)
        assert login.status == 200 and await login.json() == {"user": "viewer-1", "access": "viewer"}
        # The cookie is Secure (the console is served behind TLS): the test sends it back by hand.
        session = {"Cookie": f"wk_session={login.cookies['wk_session'].value}"}
        me = await client.get("/console/api/me", headers=session)
        assert me.status == 200 and (await me.json())["access"] == "viewer"
        ack = await client.post(f"/console/api/alerts/{ALERT_ID}/ack", json={}, headers=CONSOLE | session)
        assert ack.status == 403, "a viewer sees, and does not acknowledge"
        revoke = await client.post("/console/api/users/insp-1/revoke", headers=CONSOLE | session)
        assert revoke.status == 403, "only an admin revokes"
        assert (await client.post("/console/logout", headers=CONSOLE | session)).status == 200
        assert (await client.get("/console/api/me", headers=session)).status == 401

    serve(worker, scenario)
    records = [(key.split(b":")[0], json.loads(value)) for topic, key, value in broker.records if topic == "access"]
    assert [(kind, record.get("ended")) for kind, record in records] == [(b"session", False), (b"session", True)]
    assert VIEWER not in json.dumps([r for _, r in records]), "the access log holds no token"
    assert broker.on("commands") == []


def test_failed_sign_ins_are_throttled_with_retry_after_and_counted(tmp_path: Any) -> None:
    broker = Broker()
    worker = console_worker(broker)

    async def scenario(client: TestClient[Any, Any]) -> None:
        for _ in range(10):
            assert (
                await client.post("/console/login", data={"token": "wk_" + "x" * 43}, headers=CONSOLE)
            ).status == 401
        throttled = await client.post("/console/login", data={"token": INSPECTOR}, headers=CONSOLE)
        assert throttled.status == 429 and int(throttled.headers["Retry-After"]) >= 1

    serve(worker, scenario)
    counted = worker.metrics.registry.get_sample_value
    assert counted("watchkeeper_auth_failures_total", {"path": "console", "outcome": "refused"}) == 10
    assert counted("watchkeeper_auth_failures_total", {"path": "console", "outcome": "throttled"}) == 1


def test_the_console_filters_by_every_input_domain() -> None:
    from pathlib import Path

    from streams.contract import DOMAINS

    page = (Path(__file__).resolve().parents[2] / "worker" / "web" / "static" / "index.html").read_text()
    for domain in DOMAINS:
        assert f"<option>{domain}</option>" in page, f"the console cannot show only {domain}"


def test_an_unstarted_worker_is_live_but_not_ready_and_says_which_check_fails() -> None:
    worker = assemble(WATCHKEEPER_TOPIC_PREFIX="health")

    async def scenario(client: TestClient[Any, Any]) -> None:
        live = await client.get("/livez")
        assert live.status == 200 and await live.json() == {"live": True}
        ready = await client.get("/readyz")
        body = await ready.json()
        assert ready.status == 503 and body["ready"] is False
        assert body["checks"]["partitions_assigned"] is False, "never assigned: not ready"

    serve(worker, scenario)
    worker.health.assigned = True  # as the first assignment's signal leaves it
    assert worker.health.checks()["partitions_assigned"] is True


def test_a_person_limited_to_an_area_sees_and_acts_on_nothing_outside_it_and_every_case_view_is_audited() -> None:
    from alerts.lifecycle import AlertRecord, EscalationSnapshot
    from tests.alerts.helpers import alert

    broker = Broker()
    north = generate_token()
    worker = assemble_with_users("web", [("insp-north", "inspector", north)])
    worker.door.send_access = broker.sender("access")
    worker.acknowledgements.send = broker.sender("commands")
    assert worker.case_views is not None and worker.board is not None
    worker.case_views.send_audit = broker.sender("audit")
    worker.notify.user_areas["insp-north"] = frozenset({"suite-north"})  # as users[].areas in the file sets it
    south_id = "0c9e6679-7425-40de-944b-e07fc1f90ae7"
    for alert_id, case, area in ((ALERT_ID, "CR-N", "SUITE-NORTH"), (south_id, "CR-S", "SUITE-SOUTH")):
        record = AlertRecord(
            alert(alert_id=alert_id, case=case, area=area), "raised", EscalationSnapshot("p", [], True, None), T0
        )
        worker.board.apply_alert(alert_id, record)

    async def scenario(client: TestClient[Any, Any]) -> None:
        login = await client.post("/console/login", data={"token": north}, headers=CONSOLE)
        session = {"Cookie": f"wk_session={login.cookies['wk_session'].value}"}
        board = await (await client.get("/console/api/board", headers=session)).json()
        assert [a["case"] for a in board] == ["CR-N"]
        assert (await client.get("/console/api/cases/CR-S", headers=session)).status == 404
        for _ in range(3):  # the page reloads on every change: one view on the record
            assert (await client.get("/console/api/cases/CR-N", headers=session)).status == 200
        ack = await client.post(f"/console/api/alerts/{south_id}/ack", json={}, headers=CONSOLE | session)
        assert ack.status == 404, "an alert outside the person's areas does not exist for them"

    serve(worker, scenario)
    (viewed,) = broker.on("audit")
    assert (viewed["case"], viewed["by"], viewed["access"], viewed["kind"]) == (
        "CR-N",
        "insp-north",
        "inspector",
        "case_viewed",
    )
    assert broker.on("commands") == []


def test_the_live_stream_of_a_person_limited_to_an_area_carries_nothing_of_another() -> None:
    north = generate_token()
    worker = assemble_with_users("web", [("insp-north", "inspector", north)])
    worker.door.send_access = Broker().sender("access")
    worker.notify.user_areas["insp-north"] = frozenset({"suite-north"})
    assert worker.hub is not None
    hub = worker.hub

    async def scenario(client: TestClient[Any, Any]) -> None:
        login = await client.post("/console/login", data={"token": north}, headers=CONSOLE)
        session = {"Cookie": f"wk_session={login.cookies['wk_session'].value}"}
        stream = await client.get("/console/api/stream", headers=session)
        assert await stream.content.readuntil(b"\n\n") == b"event: hello\ndata: {}\n\n"
        hub.publish("alert", {"case": "CR-SOUTH-1"}, "SUITE-SOUTH")
        hub.publish("case-removed", "CR-SOUTH-2", "SUITE-SOUTH")
        hub.publish("alert", {"case": "CR-NORTH-1"}, "SUITE-NORTH")
        hub.publish("silences", {}, None)
        frames = [await asyncio.wait_for(stream.content.readuntil(b"\n\n"), 5) for _ in range(2)]
        assert frames == [b'event: alert\ndata: {"case":"CR-NORTH-1"}\n\n', b"event: silences\ndata: {}\n\n"]
        stream.close()

    serve(worker, scenario)
