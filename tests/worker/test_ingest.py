"""POST /events over real HTTP on an assembled worker: who may post, the three content modes,
each outcome in order, the bounds, and what is on the broker afterwards."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable
from typing import Any

from aiohttp.test_utils import TestClient

from alerts.tokens import generate_token
from tests.worker.helpers import Broker, assemble_with_users
from tests.worker.test_web import serve
from worker.main import Worker

INGEST, INSPECTOR = generate_token(), generate_token()
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
SYSTEM = {"Authorization": f"Bearer {INGEST}"}


def event(subject: str, number: int = 1, **data: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"{subject}-{number}",
        "source": "custody-system",
        "type": "custody.detention.authorised",
        "subject": subject,
        "time": NOW.isoformat(),
        "recordedtime": NOW.isoformat(),
        "data": {"relevant_time": NOW.isoformat(), "age_years": 15, "custody_suite": "SUITE-A", **data},
    }


def ingest_worker(broker: Broker, **env: str) -> Worker:
    users = [("custody-system", "ingest", INGEST), ("insp-1", "inspector", INSPECTOR)]
    worker = assemble_with_users("in", users, **env)
    worker.ingest.produce_to = lambda domain: broker.producer(f"{domain}.events")
    worker.door.send_access = broker.sender("access")
    return worker


def structured(body: dict[str, Any] | list[dict[str, Any]], batch: bool = False) -> dict[str, Any]:
    kind = "application/cloudevents-batch+json" if batch else "application/cloudevents+json; charset=utf-8"
    return {"data": json.dumps(body), "headers": {**SYSTEM, "Content-Type": kind}}


def test_only_an_ingest_token_posts_events_and_it_can_do_nothing_else() -> None:
    broker = Broker()
    worker = ingest_worker(broker)

    async def scenario(client: TestClient[Any, Any]) -> None:
        body = json.dumps(event("CR-1"))
        kind = {"Content-Type": "application/cloudevents+json"}
        assert (await client.post("/events", data=body, headers=kind)).status == 401
        as_inspector = {**kind, "Authorization": f"Bearer {INSPECTOR}"}
        assert (await client.post("/events", data=body, headers=as_inspector)).status == 403
        ack = await client.post("/alerts/7c9e6679-7425-40de-944b-e07fc1f90ae7/ack", headers=SYSTEM)
        assert ack.status == 403, "an ingest token cannot acknowledge"
        login = await client.post("/console/login", data={"token": INGEST}, headers={"X-Watchkeeper": "console"})
        assert login.status == 403, "an ingest token cannot sign in to the console"

    serve(worker, scenario)
    assert broker.records == []


def test_a_structured_event_is_on_its_input_topic_keyed_by_subject_with_unknown_fields_dropped() -> None:
    broker = Broker()
    worker = ingest_worker(broker)

    async def scenario(client: TestClient[Any, Any]) -> None:
        response = await client.post("/events", **structured(event("CR-1", child_name="Jane Example")))
        assert response.status == 200
        assert (await response.json())["results"] == [{"index": 0, "id": "CR-1-1", "outcome": "accepted"}]

    serve(worker, scenario)
    ((topic, key, value),) = broker.records
    assert (topic, key) == ("custody.events", b"CR-1")
    assert b"Jane" not in value and json.loads(value)["data"]["custody_suite"] == "SUITE-A"


def test_a_batch_reports_every_event_in_order_with_the_dead_letter_reasons() -> None:
    broker = Broker()
    worker = ingest_worker(broker)
    changed = {**event("CR-2"), "data": {**event("CR-2")["data"], "age_years": 16}}
    batch = [
        event("CR-1"),
        {**event("CR-3"), "type": "custody.unknown"},
        event("CR-1"),  # the same event twice: a duplicate
        changed,
        {**event("CR-4"), "subject": "Jane Example"},
        event("CR-2"),  # the same id as the changed one above, other content
        {**event("PP-1"), "type": "protection.parents.informed", "data": {}},
    ]

    async def scenario(client: TestClient[Any, Any]) -> None:
        response = await client.post("/events", **structured(batch, batch=True))
        assert response.status == 200
        outcomes = [(r["outcome"], r.get("reason")) for r in (await response.json())["results"]]
        assert outcomes == [
            ("accepted", None),
            ("rejected", "unknown_event_type"),
            ("duplicate", None),
            ("accepted", None),
            ("rejected", "schema_violation"),
            ("rejected", "id_conflict"),
            ("accepted", None),
        ]
        again = await client.post("/events", **structured(event("CR-1")))
        assert (await again.json())["results"][0]["outcome"] == "duplicate", "a retry is answered, not re-sent"

    serve(worker, scenario)
    assert [(t, k) for t, k, _ in broker.records] == [
        ("custody.events", b"CR-1"),
        ("custody.events", b"CR-2"),
        ("protection.events", b"PP-1"),
    ]


def test_binary_mode_reads_percent_encoded_ce_headers_and_the_data_content_type() -> None:
    broker = Broker()
    worker = ingest_worker(broker)
    headers = {
        **SYSTEM,
        "ce-specversion": "1.0",
        "ce-id": "B-1",
        "ce-source": "custody%2Dsystem",
        "ce-type": "custody.released",
        "ce-subject": "CR-9",
        "ce-time": NOW.isoformat(),
        "ce-recordedtime": NOW.isoformat(),
        "Content-Type": "application/json; charset=utf-8",
    }

    async def scenario(client: TestClient[Any, Any]) -> None:
        response = await client.post("/events", data=json.dumps({"outcome": "bail"}), headers=headers)
        assert response.status == 200 and (await response.json())["results"][0]["outcome"] == "accepted"
        xml = await client.post("/events", data="<x/>", headers={**headers, "ce-id": "B-2", "Content-Type": "text/xml"})
        assert (await xml.json())["results"][0]["reason"] == "unsupported_content_type"

    serve(worker, scenario)
    ((_, key, value),) = broker.records
    assert key == b"CR-9" and json.loads(value)["source"] == "custody-system"


def test_what_cannot_be_read_as_a_whole_is_refused_with_its_status() -> None:
    broker = Broker()
    worker = ingest_worker(broker, WATCHKEEPER_INGEST_MAX_BYTES="2048")

    async def scenario(client: TestClient[Any, Any]) -> None:
        plain = await client.post("/events", data="{}", headers={**SYSTEM, "Content-Type": "text/plain"})
        assert plain.status == 415 and (await plain.json())["error"] == "unsupported_content_type"
        latin = {**SYSTEM, "Content-Type": "application/cloudevents+json; charset=latin-1"}
        assert (await client.post("/events", data="{}", headers=latin)).status == 415
        big = await client.post("/events", **structured([event(f"CR-{i}") for i in range(20)], batch=True))
        assert big.status == 413
        broken = {**SYSTEM, "Content-Type": "application/cloudevents-batch+json"}
        assert (await client.post("/events", data="[{", headers=broken)).status == 400
        nested = await client.post("/events", data="[" * 1000 + "]" * 1000, headers=broken)
        assert nested.status == 400, "nested past the decoder's limit: malformed, never a 500"

    serve(worker, scenario)
    assert broker.records == []


def test_a_request_beyond_the_events_in_flight_is_refused_whole_with_retry_after() -> None:
    broker = Broker()
    worker = ingest_worker(broker, WATCHKEEPER_INGEST_IN_FLIGHT="3")

    async def scenario(client: TestClient[Any, Any]) -> None:
        worker.ingest.waiting = 2  # two events of another request still waiting for the broker
        busy = await client.post("/events", **structured([event("CR-1"), event("CR-2")], batch=True))
        assert busy.status == 429 and busy.headers["Retry-After"] == "1"
        worker.ingest.waiting = 0
        later = await client.post("/events", **structured([event("CR-1"), event("CR-2")], batch=True))
        assert later.status == 200 and worker.ingest.waiting == 0

    serve(worker, scenario)
    assert [k for _, k, _ in broker.records] == [b"CR-1", b"CR-2"], "nothing of the refused request was sent"


def test_an_event_the_broker_did_not_take_is_unavailable_and_accepted_when_sent_again() -> None:
    broker = Broker()
    worker = ingest_worker(broker)
    down = True

    async def produce(key: bytes, value: bytes) -> Awaitable[None]:
        if down:
            raise ConnectionError("broker unreachable")
        return await broker.producer("custody.events")(key, value)

    worker.ingest.produce_to = lambda domain: produce

    async def scenario(client: TestClient[Any, Any]) -> None:
        nonlocal down
        first = await client.post("/events", **structured(event("CR-1")))
        assert first.status == 503 and (await first.json())["results"][0]["outcome"] == "unavailable"
        down = False
        second = await client.post("/events", **structured(event("CR-1")))
        assert (await second.json())["results"][0]["outcome"] == "accepted", "not remembered until the broker has it"

    serve(worker, scenario)
    assert len(broker.records) == 1


def test_the_served_openapi_document_is_docs_openapi_and_names_every_api_route() -> None:
    import yaml

    from streams.validation import REJECTION_REASONS
    from tests.conftest import REPO
    from worker.web.ingest import OPENAPI

    assert (REPO / "docs" / "openapi.yaml").read_bytes() == OPENAPI.read_bytes(), "copy worker/web/openapi.yaml"
    document = yaml.safe_load(OPENAPI.read_text())
    worker = ingest_worker(Broker())
    api = {r for r in worker.routes() if not r.startswith("/console") and r not in ("/metrics", "/openapi.yaml")}
    assert set(document["paths"]) == api
    over_http = {*REJECTION_REASONS, "id_conflict"} - {"wrong_topic", "key_mismatch"}  # no topic, no key
    assert set(document["components"]["schemas"]["Result"]["properties"]["reason"]["enum"]) == over_http

    async def scenario(client: TestClient[Any, Any]) -> None:
        served = await client.get("/openapi.yaml")
        assert served.status == 200 and (await served.read()) == OPENAPI.read_bytes()

    serve(worker, scenario)
