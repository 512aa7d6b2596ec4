"""Silences on an assembled worker: who may set, read and end them over HTTP, what each leaves on
the silence log and the audit topic, and how the dispatcher holds and releases an alert's pages."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from agents.alert import ALERT_ENCODER
from alerts.silence import SilenceRequest
from alerts.tokens import generate_token
from tests.alerts.helpers import alert as make_alert
from tests.conftest import T0
from tests.worker.helpers import Broker, Message, assemble, assemble_with_users
from tests.worker.test_dispatcher_and_outbox import ALERT_ID, dispatcher
from tests.worker.test_web import CONSOLE, serve
from worker.main import Worker
from worker.silences import SilenceLog

VIEWER, INSPECTOR, ADMIN, INGEST = generate_token(), generate_token(), generate_token(), generate_token()
REQUEST = {"areas": ["SUITE-NORTH"], "rules": ["custody.*"], "duration": "2h", "reason": "custody system outage"}


def silence_worker(broker: Broker, now: dt.datetime = T0) -> Worker:
    users = [("viewer-1", "viewer", VIEWER), ("insp-1", "inspector", INSPECTOR), ("admin-1", "admin", ADMIN)]
    users.append(("force-system", "ingest", INGEST))
    worker = assemble_with_users("silence", users)
    worker.door.send_access = broker.sender("access")
    worker.silences.produce_silence = broker.producer("silences")
    worker.silences.produce_audit = broker.producer("audit")
    worker.silences.clock = lambda: now
    return worker


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_only_an_admin_sets_or_ends_a_silence_and_anyone_signed_in_reads_them() -> None:
    broker = Broker()
    worker = silence_worker(broker)

    async def scenario(client: TestClient[Any, Any]) -> None:
        assert (await client.post("/silences", json=REQUEST)).status == 401
        for token in (VIEWER, INSPECTOR, INGEST):
            assert (await client.post("/silences", json=REQUEST, headers=bearer(token))).status == 403
        made = await client.post("/silences", json=REQUEST, headers=bearer(ADMIN))
        assert made.status == 201
        silence = await made.json()
        assert silence["created_by"] == "admin-1" and silence["status"] == "active"
        assert silence["ends_at"] == (T0 + dt.timedelta(hours=2)).isoformat().replace("+00:00", "Z")
        listed = await client.get("/silences", headers=bearer(VIEWER))
        assert [s["silence_id"] for s in await listed.json()] == [silence["silence_id"]]
        assert (await client.get("/silences", headers=bearer(INGEST))).status == 403
        end = f"/silences/{silence['silence_id']}/end"
        assert (await client.post(end, headers=bearer(INSPECTOR))).status == 403
        ended = await client.post(end, headers=bearer(ADMIN))
        assert ended.status == 200 and (await ended.json())["ended_by"] == "admin-1"
        assert (await client.post(end, headers=bearer(ADMIN))).status == 409, "already ended"
        assert (await client.post(f"/silences/{'0' * 32}/end", headers=bearer(ADMIN))).status == 404

    serve(worker, scenario)
    audit = broker.on("audit")
    assert [(a["change"], a["by"]) for a in audit] == [("created", "admin-1"), ("ended", "admin-1")]
    assert "SUITE-NORTH" in audit[0]["reason"] and "custody system outage" in audit[0]["reason"]
    assert [s.get("ended_by") for s in broker.on("silences")] == [None, "admin-1"]
    assert {key for topic, key, _ in broker.records if topic == "audit"} == {
        b"silence:" + audit[0]["silence_id"].encode()
    }


def test_a_request_that_cannot_be_taken_is_refused_naming_the_field_and_nothing_is_written() -> None:
    broker = Broker()
    worker = silence_worker(broker)

    async def scenario(client: TestClient[Any, Any]) -> None:
        for body, field in (
            ({**REQUEST, "areas": [], "rules": []}, "rules"),
            ({**REQUEST, "created_by": "someone-else"}, "the body"),
            ({**REQUEST, "reason": 5}, "field 'reason'"),
            ({**REQUEST, "duration": "a fortnight"}, "field 'duration'"),
        ):
            refused = await client.post("/silences", json=body, headers=bearer(ADMIN))
            assert refused.status == 400 and field in (await refused.json())["error"]
        big = await client.post("/silences", data=b"x" * 20_000, headers=bearer(ADMIN))
        assert big.status == 413

    serve(worker, scenario)
    assert broker.records == []


def test_the_console_sets_and_ends_silences_for_an_admin_session_only() -> None:
    broker = Broker()
    worker = silence_worker(broker)

    async def scenario(client: TestClient[Any, Any]) -> None:
        async def session(token: str) -> dict[str, str]:
            login = await client.post("/console/login", data={"token": token}, headers=CONSOLE)
            return {"Cookie": f"wk_session={login.cookies['wk_session'].value}"}

        inspector, admin = await session(INSPECTOR), await session(ADMIN)
        assert (await client.get("/console/api/silences")).status == 401
        assert (await client.post("/console/api/silences", json=REQUEST, headers=CONSOLE | inspector)).status == 403
        assert (await client.post("/console/api/silences", json=REQUEST, headers=admin)).status == 403, "no header"
        made = await client.post("/console/api/silences", json=REQUEST, headers=CONSOLE | admin)
        assert made.status == 201
        listed = await (await client.get("/console/api/silences", headers=inspector)).json()
        assert [s["status"] for s in listed] == ["active"]
        end = f"/console/api/silences/{(await made.json())['silence_id']}/end"
        assert (await client.post(end, headers=CONSOLE | admin)).status == 200

    serve(worker, scenario)
    assert [a["change"] for a in broker.on("audit")] == ["created", "ended"]


def test_the_dispatcher_holds_a_matching_alert_and_releases_it_when_the_silence_is_ended(tmp_path: Path) -> None:
    broker = Broker()
    log = silence_worker(broker).silences
    asyncio.run(log.create(SilenceRequest("outage", areas=("SUITE-A",), duration="4h"), "admin-1"))
    shell = dataclasses.replace(dispatcher(broker, tmp_path, now=T0), silences=log.silences)
    shell.index.build([0], [])
    log.listeners.append(shell.silences_changed)
    raised = make_alert(alert_id=ALERT_ID, stage_at=T0, raised_at=T0)
    asyncio.run(shell.on_alert(Message("unit.alerts", ALERT_ENCODER.encode(raised), ALERT_ID.encode())))
    assert broker.on("outbox") == [], "held: no page"
    assert [t.get("notifications") for t in broker.on("transitions")] == [None, "held"]
    (silence_id,) = log.silences.by_id
    assert shell.index.pop_due(0, T0) == [], "held: next looked at in 30 s, or at the silence's end"
    shell.index.set(0, ALERT_ID.encode(), T0 + dt.timedelta(seconds=30))
    asyncio.run(log.end(silence_id, "admin-1"))  # the listener brings every open alert forward
    asyncio.run(shell.on_tick(0))
    assert [j["receiver"] for j in broker.on("outbox")] == ["sergeant-hook"]
    assert broker.on("transitions")[-1]["notifications"] == "released"
    counted = shell.metrics.registry.get_sample_value
    assert counted("watchkeeper_silence_holds_total", {"event": "held"}) == 1
    assert counted("watchkeeper_silence_holds_total", {"event": "released"}) == 1


def test_the_dispatcher_decides_nothing_until_the_silence_log_is_read() -> None:
    worker = assemble(WATCHKEEPER_TOPIC_PREFIX="silence")
    assert worker.dispatcher.silences is worker.silences.silences
    assert worker.dispatcher.silences_loaded is worker.silences.loaded and not worker.silences.loaded.is_set()
    assert worker.health.checks()["silences_loaded"] is False
    worker.silences.loaded.set()
    assert worker.health.checks()["silences_loaded"] is True
    assert isinstance(worker.silences, SilenceLog)
