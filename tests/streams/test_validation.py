from __future__ import annotations

import datetime as dt
import json
from typing import Any

import msgspec
import pytest

from streams.contract import AppropriateAdultRequested, DetentionAuthorised
from streams.validation import Event, InputLimits, Rejection, decode_event, fingerprint
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
    assert "Jane" not in result.detail and "Jane" not in json.dumps(msgspec.to_builtins(result))
    assert result.subject_sha256 == fingerprint("Jane Smith")


def test_a_message_key_other_than_the_subject_is_rejected() -> None:
    event = detention("CR-1")
    assert isinstance(decode(event, key=b"CR-1"), Event)
    for key in (b"CR-2", None):
        result = decode(event, key=key)
        assert isinstance(result, Rejection) and result.reason == "key_mismatch"


def test_an_unknown_event_type_is_rejected() -> None:
    result = decode(cloudevent("CR-1", "custody.teleported"))
    assert isinstance(result, Rejection) and result.reason == "unknown_event_type"
    assert result.event_type is None, "a type outside the contract is input, and is not echoed"


def test_an_event_of_another_domain_is_rejected_on_a_domain_topic() -> None:
    result = decode(cloudevent("PP-1", "protection.parents.informed"), topic_domain="custody")
    assert isinstance(result, Rejection) and result.reason == "wrong_topic"
    assert isinstance(decode(cloudevent("PP-1", "protection.parents.informed"), topic_domain="protection"), Event)


@pytest.mark.parametrize("field", ["time", "recordedtime"])
def test_a_time_far_in_the_future_is_rejected(field: str) -> None:
    event = cloudevent("CR-1", "custody.appropriate_adult.requested", at=NOW)
    event[field] = (NOW + dt.timedelta(hours=2)).isoformat()
    result = decode(event, limits=InputLimits(max_future=dt.timedelta(minutes=5)))
    assert isinstance(result, Rejection) and result.reason == "time_in_future"


def test_a_time_slightly_ahead_within_the_allowance_is_accepted() -> None:
    event = cloudevent("CR-1", "custody.appropriate_adult.requested", at=NOW + dt.timedelta(minutes=2))
    result = decode(event, limits=InputLimits(max_future=dt.timedelta(minutes=5)))
    assert isinstance(result, Event) and isinstance(result.data, AppropriateAdultRequested)


def _bytes(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def aa_request(**changes: Any) -> dict[str, Any]:
    return cloudevent("CR-1", "custody.appropriate_adult.requested", at=T0, **changes)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (_bytes(aa_request()).replace(b'"tests"', b'"\xff\xfe"'), "malformed_json"),
        (
            _bytes(cloudevent("CR-1", "custody.healthcare.seen", {"professional": "X"})).replace(b'"X"', b'"\xc3"'),
            "malformed_json",
        ),
        (_bytes(aa_request(data={"x": "\ud800"})), "malformed_json"),
        (b'{"data":' + b"[" * 5000 + b"]" * 5000 + b"}", "too_deeply_nested"),
        (
            _bytes(aa_request()).replace(b'"data": {}', b'"data": {"x":' + b"[" * 40 + b"]" * 40 + b"}"),
            "too_deeply_nested",
        ),
        (b'{"data":' + b"[" * 200_000 + b"]" * 200_000 + b"}", "payload_too_large"),
        (_bytes(aa_request(data={"pad": "x" * 70_000})), "payload_too_large"),
    ],
    ids=["utf8-envelope", "utf8-data", "lone-surrogate", "deep", "deep-data", "huge-deep", "huge"],
)
def test_input_that_crashed_the_agent_is_rejected_with_a_reason(raw: bytes, reason: str) -> None:
    result = decode(raw)
    assert isinstance(result, Rejection), result
    assert result.reason == reason


@pytest.mark.parametrize(
    ("event_id", "reason"), [("ab\ud800", "malformed_json"), ("KEYLEAK Zelda\n", "schema_violation")]
)
def test_an_id_that_could_not_be_stored_or_logged_safely_is_refused(event_id: str, reason: str) -> None:
    result = decode(_bytes(aa_request(event_id=event_id)))
    assert isinstance(result, Rejection) and result.reason == reason


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    event = cloudevent("CR-1", "custody.healthcare.seen", {"ignored": "[" * 100})
    assert isinstance(decode(event), Event)


@pytest.mark.parametrize(
    ("field", "value", "event_type", "reason"),
    [
        ("time", "0001-01-01T00:00:00+01:00", "custody.appropriate_adult.requested", "time_out_of_range"),
        ("time", "0001-01-01T00:00:00Z", "custody.appropriate_adult.requested", "time_out_of_range"),
        ("time", "1900-05-01T10:00:00Z", "custody.appropriate_adult.requested", "time_out_of_range"),
        ("recordedtime", "1999-12-31T23:59:59Z", "custody.appropriate_adult.requested", "time_out_of_range"),
        ("data.relevant_time", "9999-12-31T23:59:59+00:00", "custody.detention.authorised", "data_time_out_of_range"),
        ("data.relevant_time", "0001-01-01T00:30:00+01:00", "custody.detention.authorised", "data_time_out_of_range"),
        ("data.relevant_time", "1900-01-01T00:00:00Z", "custody.detention.authorised", "data_time_out_of_range"),
        (
            "data.expires_at",
            "9999-12-31T23:59:59Z",
            "custody.warrant_of_further_detention.issued",
            "data_time_out_of_range",
        ),
    ],
)
def test_dates_outside_the_window_are_refused_with_their_own_reason(
    field: str, value: str, event_type: str, reason: str
) -> None:
    data = {
        "custody.detention.authorised": {"relevant_time": T0.isoformat(), "age_years": 15, "custody_suite": "S-1"},
        "custody.warrant_of_further_detention.issued": {"expires_at": T0.isoformat()},
    }.get(event_type, {})
    event = cloudevent("CR-1", event_type, data)
    if field.startswith("data."):
        event["data"][field[5:]] = value
    else:
        event[field] = value
        if field == "time":
            event["recordedtime"] = value if value.startswith("19") else event["recordedtime"]
    result = decode(event)
    assert isinstance(result, Rejection), result
    assert result.reason == reason
    assert value not in result.detail


def test_the_earliest_accepted_date_is_configurable() -> None:
    event = aa_request(time="1999-06-01T10:00:00Z", recordedtime="1999-06-01T10:00:00Z")
    assert isinstance(decode(event), Rejection)
    early = InputLimits(earliest=dt.datetime(1990, 1, 1, tzinfo=dt.UTC))
    assert isinstance(decode(event, limits=early), Event)


def test_recordedtime_before_time_beyond_the_tolerance_is_refused() -> None:
    early = aa_request(recordedtime=(T0 - dt.timedelta(minutes=10)).isoformat())
    result = decode(early)
    assert isinstance(result, Rejection) and result.reason == "recorded_before_event"
    skewed = aa_request(recordedtime=(T0 - dt.timedelta(seconds=30)).isoformat())
    assert isinstance(decode(skewed), Event), "two systems' clocks may differ by a little"


def test_a_rejection_carries_hashes_and_never_the_id_subject_or_type_string() -> None:
    event = aa_request(event_id="KEYLEAK-Zelda-Quimby")
    event["type"] = "custody.Zelda-Quimby"
    result = decode(_bytes(event))
    assert isinstance(result, Rejection)
    text = json.dumps(msgspec.to_builtins(result))
    assert "Zelda" not in text and "KEYLEAK" not in text
    assert result.event_id_sha256 == fingerprint("KEYLEAK-Zelda-Quimby")
