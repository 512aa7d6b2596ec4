"""CloudEvents binary mode on the real broker, produced by the official SDK, read by a real worker."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from cloudevents.core.bindings.kafka import to_binary
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from tests.conftest import REPO, Deployment

pytestmark = pytest.mark.broker
AA_10S = str(REPO / "tests" / "integration" / "aa-10s.yaml")


def sdk(subject: str, event_type: str, data: dict[str, object] | None, number: int) -> CloudEvent:
    now = dt.datetime.now(dt.UTC)
    attributes = {
        "specversion": "1.0",
        "id": f"{subject}-{number}",
        "source": "sdk-producer",
        "type": event_type,
        "subject": subject,
        "time": now,
        "recordedtime": now.isoformat(),
        "datacontenttype": "application/json; charset=utf-8",
    }
    return CloudEvent(attributes, data)


def produce(d: Deployment, event: CloudEvent, **header_changes: bytes) -> None:
    message = to_binary(event, JSONFormat(), key_mapper=lambda e: e.get_subject())
    key = message.key.encode() if isinstance(message.key, str) else message.key
    d.send(message.value, key=key, headers={**message.headers, **header_changes})


def test_binary_mode_from_the_sdk_raises_the_same_alerts_and_refuses_with_a_reason(
    deployment: Callable[..., Deployment],
) -> None:
    d = deployment(WATCHKEEPER_POLICY_OVERRIDES=AA_10S)
    d.start_worker()
    booked = {"relevant_time": dt.datetime.now(dt.UTC).isoformat(), "age_years": 14, "custody_suite": "SUITE-B"}
    produce(d, sdk("CR-BINARY", "custody.detention.authorised", booked, 1))
    produce(d, sdk("CR-BINARY", "custody.appropriate_adult.requested", None, 2))
    produce(d, sdk("CR-BINARY-BAD", "custody.appropriate_adult.requested", None, 1), **{"content-type": b"text/csv"})

    alerts = d.read("alerts", until=lambda r: any(a["status"] == "superseded" for a in r), timeout=60, settle=1)
    arrival = [a for a in alerts if a["rule_id"] == "custody.appropriate_adult.arrival" and a["case"] == "CR-BINARY"]
    assert [(a["stage"], a["status"]) for a in arrival] == [
        ("warning", "firing"),
        ("breach", "firing"),
        ("warning", "superseded"),
    ]
    letters = d.read("deadletter", until=lambda r: len(r) >= 1, timeout=30)
    assert [r["reason"] for r in letters] == ["unsupported_content_type"]
