"""The deadline engine on the appropriate-adult rule, with time as a parameter."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from agents.alert import Alert, alert_id
from agents.engine import (
    CASE_ENCODER,
    CaseState,
    alert_id_of,
    decode_case_state,
    encode_case_state,
    new_case,
    next_due,
    process_event,
    tick,
)
from agents.policy import Policy
from streams.validation import Event, decode_event
from tests.conftest import AA_ARRIVAL, T0, cloudevent, detention, only_rules

RULE = "custody.appropriate_adult.arrival"
H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)
S = dt.timedelta(seconds=1)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return only_rules(AA_ARRIVAL)


def ev(raw: dict[str, Any]) -> Event:
    result = decode_event(json.dumps(raw).encode(), now=T0 + dt.timedelta(days=30))
    assert isinstance(result, Event), result
    return result


def aa(kind: str, at: dt.datetime, recorded: dt.datetime | None = None, subject: str = "CR-1") -> Event:
    return ev(cloudevent(subject, f"custody.appropriate_adult.{kind}", at=at, recorded=recorded))


def child_waiting(policy: Policy, age: int = 15) -> CaseState:
    state = new_case("CR-1", "custody")
    process_event(state, ev(detention("CR-1", age=age)), policy, T0)
    process_event(state, aa("requested", T0), policy, T0)
    return state


def stages(alerts: list[Alert]) -> list[tuple[str, str]]:
    return [(a.stage_name, a.status) for a in alerts]


def raised(alerts: list[Alert]) -> list[Alert]:
    """The alerts raised, without the earlier stages they supersede."""
    return [a for a in alerts if a.status == "firing"]


def test_warnings_come_before_the_breach_each_at_its_own_time(policy: Policy) -> None:
    state = child_waiting(policy)  # default: target 2h, warnings at 50% (1h) and 15m before (1h45m)
    assert tick(state, policy, T0 + H) == [], "a stage's own instant is still in time"
    assert stages(tick(state, policy, T0 + H + S)) == [("warning-1", "firing")]
    assert tick(state, policy, T0 + 90 * M) == []
    second = stages(tick(state, policy, T0 + 105 * M + S))
    assert second == [("warning-2", "firing"), ("warning-1", "superseded")], "one open alert per deadline"
    assert tick(state, policy, T0 + 2 * H) == [], "not later than: the deadline instant is compliant"
    breach = tick(state, policy, T0 + 2 * H + S)
    assert stages(breach) == [("breach", "firing"), ("warning-2", "superseded")]
    assert breach[0].severity == "high" and breach[0].overdue_seconds == 1
    assert "breach was raised at Sat 21 Nov 2026 12:00:01 GMT" in breach[1].reason
    assert tick(state, policy, T0 + 5 * H) == []


def test_the_first_instant_after_the_deadline_is_when_the_case_next_needs_a_look(policy: Policy) -> None:
    state = child_waiting(policy)
    assert next_due(state) == T0 + H + dt.timedelta(microseconds=1)


def test_an_arrival_at_the_deadline_instant_is_in_time_even_after_a_tick_raised_the_breach(policy: Policy) -> None:
    """Live, a tick can land just after the deadline before the record of an action taken at
    the deadline instant arrives: the breach is retracted, with the reason, never left standing."""
    state = child_waiting(policy)
    *_, breach = raised(tick(state, policy, T0 + 2 * H + 50 * dt.timedelta(milliseconds=1)))
    assert breach.stage == "breach"
    outcome = process_event(state, aa("arrived", T0 + 2 * H), policy, T0 + 2 * H + S)
    assert stages(outcome.alerts) == [("breach", "retracted"), ("warning-2", "satisfied")]
    satisfied = next(a for a in outcome.alerts if a.status == "satisfied")
    assert "at the deadline instant" in satisfied.reason or "before the deadline" in satisfied.reason
    assert state.clocks[RULE].status == "met"


def test_nothing_fires_when_the_appropriate_adult_arrives_in_time(policy: Policy) -> None:
    state = child_waiting(policy)
    outcome = process_event(state, aa("arrived", T0 + 30 * M), policy, T0 + 30 * M)
    assert outcome.alerts == []
    assert next_due(state) is None
    assert tick(state, policy, T0 + 10 * H) == []


def test_no_clock_runs_for_an_adult(policy: Policy) -> None:
    state = child_waiting(policy, age=30)
    assert next_due(state) is None
    assert tick(state, policy, T0 + 10 * H) == []


def test_an_unknown_age_does_not_silence_the_clock(policy: Policy) -> None:
    state = new_case("CR-1", "custody")
    process_event(state, aa("requested", T0), policy, T0)
    assert ("breach", "firing") in stages(tick(state, policy, T0 + 2 * H + S))


def test_a_breach_found_late_is_raised_alone_and_marked_as_hindsight(policy: Policy) -> None:
    state = new_case("CR-1", "custody")
    process_event(state, ev(detention("CR-1")), policy, T0)
    outcome = process_event(state, aa("requested", T0, recorded=T0 + 3 * H), policy, T0 + 3 * H)
    assert stages(outcome.alerts) == [("breach", "firing")]
    assert outcome.alerts[0].hindsight
    assert "record of appropriate adult requested was entered at Sat 21 Nov 2026 13:00 GMT" in (
        outcome.alerts[0].hindsight_reason or ""
    )
    assert outcome.alerts[0].overdue_seconds == H.total_seconds()
    assert outcome.alerts[0].timeline[-1].late
    assert tick(state, policy, T0 + 4 * H) == []


def test_a_stage_missed_while_the_monitor_was_down_says_so(policy: Policy) -> None:
    state = child_waiting(policy)
    *_, alert = raised(tick(state, policy, T0 + 2 * H + 10 * M))
    assert alert.hindsight and "monitor was not processing" in (alert.hindsight_reason or "")
    *_, on_time = raised(tick(child_waiting(policy), policy, T0 + 2 * H + 30 * dt.timedelta(seconds=1)))
    assert on_time.stage == "breach" and not on_time.hindsight and on_time.hindsight_reason is None


def test_a_monitor_that_fell_behind_says_every_stage_in_order_as_a_real_time_one_would(policy: Policy) -> None:
    """Catching up after a stop raises the same alerts as ticking through, each marked as late;
    so a worker reading a backlog agrees with replay (tests/integration/test_scenarios_live.py)."""
    behind = tick(child_waiting(policy), policy, T0 + 3 * H)
    on_time = child_waiting(policy)
    ticked = [a for t in (H, 105 * M, 2 * H) for a in tick(on_time, policy, T0 + t + S)]
    assert [(a.alert_id, a.status) for a in behind] == [(a.alert_id, a.status) for a in ticked]
    assert all(a.hindsight for a in raised(behind)) and not any(a.hindsight for a in ticked)


def test_a_late_record_of_arrival_retracts_the_stages_it_disproves(policy: Policy) -> None:
    state = child_waiting(policy)
    tick(state, policy, T0 + 2 * H + S)
    outcome = process_event(state, aa("arrived", T0 + 100 * M, recorded=T0 + 130 * M), policy, T0 + 130 * M)
    # warning-1 had given way to warning-2: with both later stages disproved, it is the one that
    # happened, and it closes as satisfied (the AA arrived in time).
    assert stages(outcome.alerts) == [("warning-2", "retracted"), ("breach", "retracted"), ("warning-1", "satisfied")]
    retraction = outcome.alerts[1]
    assert "appropriate adult arrived at Sat 21 Nov 2026 11:40 GMT, so this breach point" in retraction.reason
    assert retraction.overdue_seconds is None and retraction.action.startswith("None")
    assert retraction.alert_id == alert_id(RULE, "CR-1", "1#0", "breach")


def test_an_arrival_after_the_deadline_closes_the_breach_which_stands_and_says_how_late(policy: Policy) -> None:
    state = child_waiting(policy)
    *_, breach = raised(tick(state, policy, T0 + 2 * H + S))
    outcome = process_event(state, aa("arrived", T0 + 3 * H), policy, T0 + 3 * H)
    assert stages(outcome.alerts) == [("breach", "closed")], "the warnings gave way to it: they stay superseded"
    closed = outcome.alerts[-1]
    assert closed.alert_id == breach.alert_id and closed.revision == breach.revision + 1
    assert "1h late" in closed.reason and "breach stands" in closed.reason
    assert closed.overdue_seconds is None and closed.action.startswith("None now")
    assert state.clocks[RULE].status == "met"


def test_an_unrelated_record_at_a_fired_stage_instant_neither_retracts_nor_raises_it_again(policy: Policy) -> None:
    state = child_waiting(policy)
    (warning,) = tick(state, policy, T0 + H + S)
    other = ev(cloudevent("CR-1", "custody.healthcare.requested", at=T0 + H, recorded=T0 + H))
    outcome = process_event(state, other, policy, T0 + H + 2 * S, as_of=T0 + H)
    assert outcome.alerts == [], "the warning stands: time had passed its instant"
    assert tick(state, policy, T0 + H + 3 * S) == []
    said = {alert_id_of(state.case, key): entry for key, entry in state.ledger.items()}
    assert said[warning.alert_id].status == "firing"


def test_an_arrival_at_the_deadline_instant_satisfies_the_warnings_and_no_breach_fires(policy: Policy) -> None:
    state = child_waiting(policy)
    tick(state, policy, T0 + 2 * H)
    outcome = process_event(state, aa("arrived", T0 + 2 * H), policy, T0 + 2 * H)
    assert stages(outcome.alerts) == [("warning-2", "satisfied")], "warning-1 gave way to warning-2"
    assert "at the deadline instant" in outcome.alerts[-1].reason
    assert tick(state, policy, T0 + 5 * H) == []


def test_a_release_while_in_breach_closes_it_as_a_breach_not_as_no_longer_needed(policy: Policy) -> None:
    state = child_waiting(policy)
    tick(state, policy, T0 + 2 * H + S)
    release = ev(cloudevent("CR-1", "custody.released", at=T0 + 4 * H))
    outcome = process_event(state, release, policy, T0 + 4 * H)
    assert {status for _, status in stages(outcome.alerts)} == {"closed"}
    assert "still in breach, with released from custody" in outcome.alerts[-1].reason


def test_a_release_before_the_deadline_clears_the_warnings(policy: Policy) -> None:
    state = child_waiting(policy)
    tick(state, policy, T0 + 90 * M)
    release = ev(cloudevent("CR-1", "custody.released", at=T0 + 100 * M))
    outcome = process_event(state, release, policy, T0 + 100 * M)
    assert stages(outcome.alerts) == [("warning-1", "cleared")]
    assert "No longer needed: released from custody" in outcome.alerts[0].reason


def test_an_arrival_recorded_before_the_request_still_stops_the_clock(policy: Policy) -> None:
    state = new_case("CR-1", "custody")
    process_event(state, ev(detention("CR-1")), policy, T0)
    process_event(state, aa("arrived", T0 + 20 * M), policy, T0 + 20 * M)
    process_event(state, aa("requested", T0, recorded=T0 + 25 * M), policy, T0 + 25 * M)
    assert state.clocks[RULE].status == "met"
    assert tick(state, policy, T0 + 10 * H) == []


def test_release_cancels_the_clock(policy: Policy) -> None:
    state = child_waiting(policy)
    process_event(state, ev(cloudevent("CR-1", "custody.released", at=T0 + 20 * M)), policy, T0 + 20 * M)
    assert state.clocks[RULE].status == "cancelled"
    assert tick(state, policy, T0 + 10 * H) == []


def test_a_repeated_event_id_is_a_duplicate_and_changes_nothing(policy: Policy) -> None:
    state = child_waiting(policy)
    request = ev(cloudevent("CR-1", "custody.appropriate_adult.requested", at=T0 + H, event_id="same"))
    assert not process_event(state, request, policy, T0 + H).duplicate
    before = CASE_ENCODER.encode(state)
    assert process_event(state, request, policy, T0 + H).duplicate
    assert CASE_ENCODER.encode(state) == before


def test_a_reused_id_on_a_different_event_is_a_conflict_not_a_duplicate_and_changes_nothing(policy: Policy) -> None:
    state = child_waiting(policy)
    request = ev(cloudevent("CR-1", "custody.appropriate_adult.requested", at=T0 + H, event_id="same"))
    process_event(state, request, policy, T0 + H)
    before = CASE_ENCODER.encode(state)
    arrival = ev(cloudevent("CR-1", "custody.appropriate_adult.arrived", at=T0 + H, event_id="same"))
    outcome = process_event(state, arrival, policy, T0 + H)
    assert outcome.conflict and not outcome.duplicate and outcome.alerts == []
    assert CASE_ENCODER.encode(state) == before


def test_the_same_id_from_another_source_is_another_event(policy: Policy) -> None:
    state = child_waiting(policy)
    first = ev(cloudevent("CR-1", "custody.appropriate_adult.requested", at=T0 + H, event_id="7"))
    other = ev(cloudevent("CR-1", "custody.appropriate_adult.arrived", at=T0 + H, event_id="7", source="aa-service"))
    process_event(state, first, policy, T0 + H)
    outcome = process_event(state, other, policy, T0 + H)
    assert not outcome.conflict and not outcome.duplicate
    assert state.clocks[RULE].status == "met"


def test_a_second_request_does_not_restart_a_running_clock(policy: Policy) -> None:
    state = child_waiting(policy)
    process_event(state, aa("requested", T0 + 90 * M), policy, T0 + 90 * M)
    assert state.clocks[RULE].anchor == T0


def test_alert_ids_are_deterministic_across_a_replay(policy: Policy) -> None:
    def run() -> list[str]:
        state = new_case("CR-1", "custody")
        events = [
            ev(detention("CR-1", event_id="d1")),
            ev(cloudevent("CR-1", "custody.appropriate_adult.requested", at=T0, event_id="r1")),
        ]
        for e in events:
            process_event(state, e, policy, T0)
        return [a.alert_id for t in (H, 2 * H) for a in tick(state, policy, T0 + t + S)]

    first, second = run(), run()
    assert first == second and len(set(first)) == 3


def test_elapsed_time_ignores_the_autumn_clock_change(policy: Policy) -> None:
    """25 Oct 2026: clocks go back at 02:00 BST. A request at 00:30 BST (23:30 UTC the day before)
    is breached two real hours later, at 01:30 GMT, not at 02:30 on the wall clock."""
    start = dt.datetime(2026, 10, 24, 23, 30, tzinfo=dt.UTC)
    state = new_case("CR-1", "custody")
    process_event(state, ev(cloudevent("CR-1", "custody.appropriate_adult.requested", at=start)), policy, start)
    assert state.clocks[RULE].current.due == dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.UTC)
    just_before = stages(tick(state, policy, start + 2 * H))
    assert ("breach", "firing") not in just_before
    assert stages(tick(state, policy, start + 2 * H + S)) == [("breach", "firing"), ("warning-2", "superseded")]


def test_every_alert_explains_itself(policy: Policy) -> None:
    state = child_waiting(policy)
    *_, alert = raised(tick(state, policy, T0 + 2 * H + 5 * M))
    rule = policy.rule(RULE)
    assert rule is not None and alert.rule_id == RULE and alert.rule_version == rule.version
    assert alert.local_standard and alert.legal_basis.startswith("local standard")
    assert alert.area == "SUITE-A" and alert.case == "CR-1"
    assert alert.overdue_seconds == 300 and alert.deadline == T0 + 2 * H
    assert alert.action and alert.explanation and "none of these recorded: appropriate adult arrived" in alert.reason
    assert "Sat 21 Nov 2026 12:00 GMT" in alert.reason and "+00:00" not in alert.reason
    assert [e.label for e in alert.timeline] == ["detention authorised", "appropriate adult requested"]
    assert [e.type for e in alert.timeline] == ["custody.detention.authorised", "custody.appropriate_adult.requested"]


def test_a_force_override_changes_the_target_and_says_so(tmp_path: Path) -> None:
    override = tmp_path / "force.yaml"
    override.write_text(
        "force: north\noverrides:\n  custody.appropriate_adult.arrival:\n    target: 30m\n    warnings: []\n"
    )
    policy = only_rules(AA_ARRIVAL, overrides=(override,))
    state = child_waiting(policy)
    (alert,) = tick(state, policy, T0 + 30 * M + S)
    assert alert.stage == "breach"
    assert alert.policy_note is not None and "north" in alert.policy_note and "target" in alert.policy_note


def test_case_state_survives_encoding_for_the_table(policy: Policy) -> None:
    state = child_waiting(policy)
    tick(state, policy, T0 + H + S)
    restored = decode_case_state(encode_case_state(state))
    assert restored == state
    assert stages(raised(tick(restored, policy, T0 + 2 * H + S))) == [("warning-2", "firing"), ("breach", "firing")]
