from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from streams.contract import AppropriateAdultRequested, DetentionAuthorised
from streams.validation import Event, Rejection, decode_event
from tests.conftest import T0, cloudevent, detention

NOW = T0 + dt.timedelta(hours=1)


def decode(event: dict[str, Any] | bytes, **kw: Any) -> Event | Rejection:
    raw = event if isinstance(event, bytes) else json.dumps(event).encode()
    return decode_event(raw, now=NOW, **kw)


def test_a_valid_event_decodes_to_its_typed_model_in_utc() -> None:
    event = detention("CR-1", age=15, at=dt.datetime(2026, 7, 1, 11, 0, tzinfo=dt.timezone(dt.timedelta(hours=1))))
    result = decode(event)
    assert isinstance(result, Event)
    assert isinstance(result.data, DetentionAuthorised)
    assert result.data.age_years == 15
    assert result.time == dt.datetime(2026, 7, 1, 10, 0, tzinfo=dt.UTC)
    assert result.time.utcoffset() == dt.timedelta(0)


def test_unknown_fields_are_dropped_at_every_level() -> None:
    event = detention("CR-1")
    event["data"]["child_name"] = "Jane Smith"
    event["date_of_birth"] = "2010-01-01"
    result = decode(event)
    assert isinstance(result, Event)
    encoded = json.dumps(result.to_cloudevent())
    assert "Jane" not in encoded and "2010-01-01" not in encoded and "child_name" not in encoded


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"specversion": "1.0", "id": "x"', "malformed_json"),
        (b"\xff\xfe not json", "malformed_json"),
        (b"[1, 2, 3]", "schema_violation"),
    ],
)
def test_unparseable_input_is_rejected_with_its_reason(raw: bytes, reason: str) -> None:
    result = decode(raw)
    assert isinstance(result, Rejection) and result.reason == reason


def test_a_schema_violation_names_the_field_but_not_the_value() -> None:
    event = detention("CR-1")
    event["data"]["age_years"] = "Jane Smith"
    result = decode(event)
    assert isinstance(result, Rejection)
    assert result.reason == "schema_violation"
    assert "$.data.age_years" in result.detail
    assert "Jane" not in result.detail


def test_an_enum_violation_does_not_echo_the_value() -> None:
    event = cloudevent(
        "CR-1",
        "custody.detention_review.completed",
        {"mode": "Jane Smith", "detainee_awake": True, "detainee_spoken_to": True, "reviewer_rank": "inspector"},
    )
    result = decode(event)
    assert isinstance(result, Rejection) and result.reason == "schema_violation"
    assert "Jane" not in result.detail and "$.data.mode" in result.detail


def test_a_naive_timestamp_is_a_schema_violation() -> None:
    event = detention("CR-1")
    event["time"] = "2026-11-21T10:00:00"
    result = decode(event)
    assert isinstance(result, Rejection) and result.reason == "schema_violation" and "$.time" in result.detail


def test_recordedtime_is_mandatory() -> None:
    event = detention("CR-1")
    del event["recordedtime"]
    result = decode(event)
    assert isinstance(result, Rejection) and result.reason == "schema_violation" and "recordedtime" in result.detail


@pytest.mark.parametrize("subject", [None, "", "   "])
def test_a_missing_or_empty_subject_is_rejected(subject: str | None) -> None:
    event = detention("CR-1")
    if subject is None:
        del event["subject"]
    else:
        event["subject"] = subject
    result = decode(event)
    assert isinstance(result, Rejection) and result.reason == "missing_subject"


def test_a_subject_that_is_not_a_pseudonymous_reference_is_rejected() -> None:
    event = detention("CR-1")
    event["subject"] = "Jane Smith"
    result = decode(event)
    assert isinstance(result, Rejection) and result.reason == "schema_violation"
    assert result.subject is None and "Jane" not in result.detail


def test_a_message_key_other_than_the_subject_is_rejected() -> None:
    event = detention("CR-1")
    assert isinstance(decode(event, key=b"CR-1"), Event)
    for key in (b"CR-2", None):
        result = decode(event, key=key)
        assert isinstance(result, Rejection) and result.reason == "key_mismatch"


def test_an_unknown_event_type_is_rejected() -> None:
    result = decode(cloudevent("CR-1", "custody.teleported"))
    assert isinstance(result, Rejection) and result.reason == "unknown_event_type"
    assert result.event_type == "custody.teleported"


def test_an_event_of_another_domain_is_rejected_on_a_domain_topic() -> None:
    result = decode(cloudevent("PP-1", "protection.parents.informed"), topic_domain="custody")
    assert isinstance(result, Rejection) and result.reason == "wrong_topic"
    assert isinstance(decode(cloudevent("PP-1", "protection.parents.informed"), topic_domain="protection"), Event)


@pytest.mark.parametrize("field", ["time", "recordedtime"])
def test_a_time_far_in_the_future_is_rejected(field: str) -> None:
    event = cloudevent("CR-1", "custody.appropriate_adult.requested", at=NOW)
    event[field] = (NOW + dt.timedelta(hours=2)).isoformat()
    result = decode(event, max_future=dt.timedelta(minutes=5))
    assert isinstance(result, Rejection) and result.reason == "time_in_future"


def test_a_time_slightly_ahead_within_the_allowance_is_accepted() -> None:
    event = cloudevent("CR-1", "custody.appropriate_adult.requested", at=NOW + dt.timedelta(minutes=2))
    result = decode(event, max_future=dt.timedelta(minutes=5))
    assert isinstance(result, Event) and isinstance(result.data, AppropriateAdultRequested)
