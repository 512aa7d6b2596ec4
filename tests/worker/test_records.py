from __future__ import annotations

import json

from agents.engine import CaseState, new_case, next_due, process_event
from streams.validation import Event, decode_event
from tests.conftest import AA_ARRIVAL, T0, cloudevent, detention, only_rules
from worker.records import decode_case, due_datetime, encode_case, read_header


def child_waiting_for_an_appropriate_adult(partition: int) -> CaseState:
    state = new_case("CR-1", "custody", partition=partition)
    for raw in (detention("CR-1"), cloudevent("CR-1", "custody.appropriate_adult.requested")):
        event = decode_event(json.dumps(raw).encode(), now=T0)
        assert isinstance(event, Event), event
        process_event(state, event, only_rules(AA_ARRIVAL), T0)
    return state


def test_header_holds_partition_and_next_due_without_decoding_the_case() -> None:
    state = child_waiting_for_an_appropriate_adult(partition=5)
    assert next_due(state) is not None
    partition, due = read_header(encode_case(state))
    assert partition == 5 and due_datetime(due) == next_due(state)


def test_a_case_with_nothing_due_stores_no_due_time_and_partitions_above_127_fit() -> None:
    assert read_header(encode_case(new_case("CR-2", "custody", partition=300))) == (300, None)


def test_a_stored_case_decodes_to_the_same_state() -> None:
    state = child_waiting_for_an_appropriate_adult(partition=1)
    assert decode_case(encode_case(state)) == state
