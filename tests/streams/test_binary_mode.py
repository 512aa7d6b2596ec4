"""CloudEvents binary mode (Kafka protocol binding), produced by the official SDK, and content
types with parameters: the same event, whichever way it travels, and the same refusals."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from cloudevents.core.bindings.kafka import to_binary, to_structured
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from streams.contract import Event
from streams.validation import InputLimits, Rejection, decode_event, decode_record

T0 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)
NOW = T0 + dt.timedelta(minutes=1)
DATA = {"relevant_time": T0.isoformat(), "age_years": 15, "custody_suite": "SUITE-A", "name": "Jane Example"}


def sdk_event(**attributes: Any) -> CloudEvent:
    base = {
        "specversion": "1.0",
        "id": "evt-1",
        "source": "custody-system",
        "type": "custody.detention.authorised",
        "subject": "CR-1",
        "time": T0,
        "recordedtime": T0.isoformat(),
        "datacontenttype": "application/json",
    }
    return CloudEvent({**base, **attributes}, DATA)


def test_an_sdk_binary_mode_record_decodes_to_the_same_event_as_structured_mode() -> None:
    event = sdk_event()
    binary = to_binary(event, JSONFormat(), key_mapper=lambda e: e.get_subject())
    structured = to_structured(event, JSONFormat())
    from_binary = decode_record(binary.value, binary.headers, now=NOW, topic_domain="custody", key=b"CR-1")
    from_structured = decode_record(structured.value, structured.headers, now=NOW, topic_domain="custody", key=b"CR-1")
    assert isinstance(from_binary, Event) and from_binary == from_structured
    assert from_binary.time == T0 and from_binary.subject == "CR-1"
    assert "name" not in json.dumps(from_binary.to_cloudevent()), "unknown data fields are dropped in binary mode too"


def test_a_record_without_headers_is_structured_mode_as_before() -> None:
    structured = to_structured(sdk_event(), JSONFormat())
    assert isinstance(decode_record(structured.value, {}, now=NOW), Event)


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "Application/JSON", "application/json;charset=UTF-8"]
)
def test_json_content_types_with_parameters_are_accepted(content_type: str) -> None:
    binary = to_binary(sdk_event(), JSONFormat())
    headers = {**binary.headers, "content-type": content_type.encode()}
    assert isinstance(decode_record(binary.value, headers, now=NOW), Event)
    structured = json.loads(to_structured(sdk_event(), JSONFormat()).value)
    structured["datacontenttype"] = content_type
    assert isinstance(decode_event(json.dumps(structured).encode(), now=NOW), Event)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"content-type": b"text/plain"}, "unsupported_content_type"),
        ({"content-type": b"application/json; charset=latin-1"}, "unsupported_content_type"),
        ({"ce_type": b"custody.unknown"}, "unknown_event_type"),
        ({"ce_time": b"yesterday"}, "schema_violation"),
        ({"ce_subject": b"Jane Example"}, "schema_violation"),
        ({"ce_id": b"\xff\xfe"}, "schema_violation"),
        ({"ce_time": (NOW + dt.timedelta(hours=1)).isoformat().encode()}, "time_in_future"),
    ],
)  # fmt: skip
def test_binary_mode_refusals_use_the_dead_letter_reasons(change: dict[str, bytes], reason: str) -> None:
    binary = to_binary(sdk_event(), JSONFormat())
    result = decode_record(binary.value, {**binary.headers, **change}, now=NOW)
    assert isinstance(result, Rejection) and result.reason == reason
    assert "Jane" not in json.dumps(result.detail)


def test_binary_mode_without_a_required_attribute_is_a_schema_violation() -> None:
    binary = to_binary(sdk_event(), JSONFormat())
    headers = {k: v for k, v in binary.headers.items() if k != "ce_recordedtime"}
    result = decode_record(binary.value, headers, now=NOW)
    assert isinstance(result, Rejection) and result.reason == "schema_violation" and "recordedtime" in result.detail


def test_binary_mode_checks_the_key_and_the_topic() -> None:
    binary = to_binary(sdk_event(), JSONFormat())
    wrong_key = decode_record(binary.value, binary.headers, now=NOW, key=b"CR-2")
    wrong_topic = decode_record(binary.value, binary.headers, now=NOW, topic_domain="protection", key=b"CR-1")
    assert isinstance(wrong_key, Rejection) and wrong_key.reason == "key_mismatch"
    assert isinstance(wrong_topic, Rejection) and wrong_topic.reason == "wrong_topic"


def test_the_size_bound_counts_the_headers_in_binary_mode() -> None:
    binary = to_binary(sdk_event(), JSONFormat())
    size = len(binary.value) + sum(len(k) + len(v) for k, v in binary.headers.items())
    assert isinstance(decode_record(binary.value, binary.headers, now=NOW, limits=InputLimits(max_bytes=size)), Event)
    result = decode_record(binary.value, binary.headers, now=NOW, limits=InputLimits(max_bytes=size - 1))
    assert isinstance(result, Rejection) and result.reason == "payload_too_large"


def test_a_structured_record_labelled_as_plain_json_is_refused_not_guessed() -> None:
    """No ce_ headers and content-type application/json: binary mode missing its attributes,
    or structured mode mislabelled. Either way it is not decoded on a guess."""
    structured = to_structured(sdk_event(), JSONFormat())
    result = decode_record(structured.value, {"content-type": b"application/json"}, now=NOW)
    assert isinstance(result, Rejection) and result.reason == "unsupported_content_type"


def test_binary_mode_with_no_data_is_an_event_with_no_data_fields() -> None:
    event = CloudEvent(
        {"specversion": "1.0", "id": "e2", "source": "s", "type": "custody.released", "subject": "CR-1", "time": T0,
         "recordedtime": T0.isoformat()},
    )  # fmt: skip
    binary = to_binary(event, JSONFormat())
    result = decode_record(b"", {k: v for k, v in binary.headers.items() if k != "content-type"}, now=NOW)
    assert isinstance(result, Event) and result.type == "custody.released"
