from __future__ import annotations

import datetime as dt
import json

import pytest

from agents.alert import ALERT_DECODER, ALERT_ENCODER, Alert
from agents.engine import new_case, process_event, tick
from alerts.text import format_line
from streams.validation import Event, decode_event
from tests.conftest import AA_ARRIVAL, T0, cloudevent, detention, only_rules


def _breach(at: dt.datetime) -> Alert:
    policy = only_rules(AA_ARRIVAL)
    state = new_case("CR-7", "custody")
    for raw in (detention("CR-7", suite="SUITE-NORTH"), cloudevent("CR-7", "custody.appropriate_adult.requested")):
        event = decode_event(json.dumps(raw).encode(), now=T0)
        assert isinstance(event, Event)
        process_event(state, event, policy, T0)
    return [a for a in tick(state, policy, at) if a.status == "firing"][-1]


def test_a_breach_prints_as_one_line_with_rule_case_area_overdue_and_action() -> None:
    line = format_line(_breach(T0 + dt.timedelta(hours=2, minutes=3)))
    assert "\n" not in line
    assert line.startswith("BREACH high | custody.appropriate_adult.arrival v2 | case CR-7 | area SUITE-NORTH")
    assert "3m overdue" in line and "action: Custody sergeant" in line


def test_times_are_shown_in_london_local_time() -> None:
    summer = dt.datetime(2026, 7, 1, 9, 0, tzinfo=dt.UTC)
    alert = _breach(T0 + dt.timedelta(hours=2))
    moved = Alert(
        **{**{f: getattr(alert, f) for f in alert.__struct_fields__}, "deadline": summer, "raised_at": summer}
    )
    assert "10:00:00 BST" in format_line(moved)
    assert "12:00:00 GMT" in format_line(alert)


def test_an_alert_round_trips_through_its_wire_encoding() -> None:
    alert = _breach(T0 + dt.timedelta(hours=2))
    assert ALERT_DECODER.decode(ALERT_ENCODER.encode(alert)) == alert


@pytest.mark.parametrize("forbidden", ["name", "address", "date_of_birth", "dob"])
def test_the_alert_model_has_no_personal_data_fields(forbidden: str) -> None:
    assert forbidden not in Alert.__struct_fields__
