from __future__ import annotations

import datetime as dt
import json

from agents.engine import CaseState, new_case, process_event
from agents.measures import Observation, measure
from agents.policy import load_policy
from streams.validation import Event, decode_event
from tests.conftest import T0, cloudevent, detention

H = dt.timedelta(hours=1)
POLICY = load_policy()


def apply(state: CaseState, raw: dict[str, object]) -> list[Observation]:
    event = decode_event(json.dumps(raw).encode(), now=T0 + 100 * H)
    assert isinstance(event, Event)
    process_event(state, event, POLICY, event.recordedtime)
    return measure(state, event.id, event.type)


def test_a_childs_aa_wait_hcp_wait_reviews_and_detention_are_measured_once_each() -> None:
    state = new_case("CR-1", "custody")
    assert apply(state, detention("CR-1", age=15)) == []
    apply(state, cloudevent("CR-1", "custody.appropriate_adult.requested", at=T0 + 0.5 * H))
    assert apply(state, cloudevent("CR-1", "custody.appropriate_adult.arrived", at=T0 + 18.5 * H)) == [
        Observation("aa_wait", 18 * 3600.0)
    ]
    apply(state, cloudevent("CR-1", "custody.healthcare.requested", at=T0 + H))
    assert apply(state, cloudevent("CR-1", "custody.healthcare.seen", at=T0 + 8 * H)) == [
        Observation("hcp_wait", 7 * 3600.0)
    ]
    review = {"mode": "in_person", "detainee_awake": False, "detainee_spoken_to": False, "reviewer_rank": "inspector"}
    assert apply(state, cloudevent("CR-1", "custody.detention_review.completed", review, at=T0 + 5 * H)) == [
        Observation("child_review", None, ("in_person", "asleep"))
    ]
    assert apply(state, cloudevent("CR-1", "custody.released", at=T0 + 23 * H)) == [
        Observation("child_detention", 23 * 3600.0)
    ]


def test_adults_are_not_in_the_childrens_measures() -> None:
    state = new_case("CR-2", "custody")
    apply(state, detention("CR-2", age=30))
    apply(state, cloudevent("CR-2", "custody.appropriate_adult.requested", at=T0))
    assert apply(state, cloudevent("CR-2", "custody.appropriate_adult.arrived", at=T0 + H)) == []
    assert apply(state, cloudevent("CR-2", "custody.released", at=T0 + 2 * H)) == []
