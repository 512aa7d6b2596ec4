"""Each construct of the policy language, on the engine with time as a parameter.

Rules come from tests/agents/constructs.yaml, one rule per construct."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from agents.alert import Alert
from agents.engine import new_case, next_due, process_event, tick
from agents.policy import Policy, load_policy
from streams.validation import Event, decode_event
from tests.conftest import cloudevent

H = dt.timedelta(hours=1)
M = dt.timedelta(minutes=1)
UTC = dt.UTC
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday in GMT
PACK = Path(__file__).with_name("constructs.yaml")


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(PACK)


class Case:
    """A case driven through the engine, collecting every alert it emits."""

    def __init__(self, policy: Policy, domain: str = "custody", subject: str = "C-1") -> None:
        self.policy, self.state, self.alerts = policy, new_case(subject, domain), []  # type: list[Alert]
        self.subject = subject

    def send(
        self,
        event_type: str,
        at: dt.datetime,
        data: dict[str, Any] | None = None,
        *,
        recorded: dt.datetime | None = None,
        now: dt.datetime | None = None,
    ) -> list[Alert]:
        raw = cloudevent(self.subject, event_type, data, at=at, recorded=recorded)
        event = decode_event(json.dumps(raw).encode(), now=dt.datetime(2030, 1, 1, tzinfo=UTC))
        assert isinstance(event, Event), event
        out = process_event(self.state, event, self.policy, now or recorded or at).alerts
        self.alerts += out
        return out

    def at(self, now: dt.datetime) -> list[Alert]:
        out = tick(self.state, self.policy, now)
        self.alerts += out
        return out

    def run_until(self, end: dt.datetime, step: dt.timedelta = 10 * M) -> None:
        """Tick like a live worker would, from the last event to ``end``."""
        now = max(e.time for e in self.state.events)
        while now < end:
            now = min(now + step, end)
            self.at(now)

    def seen(self, rule: str, status: str = "firing") -> list[tuple[str, dt.datetime]]:
        return [(a.stage_name, a.deadline) for a in self.alerts if a.rule_id == rule and a.status == status]


def detained(policy: Policy, age: int = 15, relevant: dt.datetime | None = None) -> Case:
    case = Case(policy)
    case.send(
        "custody.detention.authorised",
        T0,
        {"relevant_time": (relevant or T0).isoformat(), "age_years": age, "custody_suite": "S1"},
    )
    return case


def review(case: Case, at: dt.datetime, mode: str = "in_person", **kw: Any) -> list[Alert]:
    return case.send(
        "custody.detention_review.completed",
        at,
        {"mode": mode, "detainee_awake": True, "detainee_spoken_to": True, "reviewer_rank": "inspector"},
        **kw,
    )


CHAIN = "test.review_chain"
LIMIT = "test.detention_limit"


# ----------------------------------------------------------------------------- chained deadlines
def test_the_first_review_is_due_six_hours_after_detention_was_authorised(policy: Policy) -> None:
    case = detained(policy)
    case.run_until(T0 + 6 * H)
    assert case.seen(CHAIN) == [("warning-1", T0 + 6 * H)], "a review at the 6-hour instant is still in time"
    case.run_until(T0 + 6 * H + M)
    assert case.seen(CHAIN) == [("warning-1", T0 + 6 * H), ("breach", T0 + 6 * H)]


def test_reviews_exactly_at_six_hours_then_nine_hours_later_are_in_time(policy: Policy) -> None:
    case = detained(policy)
    case.run_until(T0 + 6 * H)
    review(case, T0 + 6 * H)
    case.run_until(T0 + 15 * H)
    review(case, T0 + 15 * H)
    case.run_until(T0 + 20 * H)
    assert [a.stage for a in case.alerts if a.rule_id == CHAIN and a.status == "firing"] == ["warning", "warning"]
    assert case.seen(CHAIN, "satisfied") == [("warning-1", T0 + 6 * H), ("warning-1", T0 + 15 * H)]
    assert case.state.clocks[CHAIN].current.due == T0 + 24 * H


def test_an_early_review_brings_the_next_deadline_forward(policy: Policy) -> None:
    case = detained(policy)
    review(case, T0 + 4 * H)
    assert case.state.clocks[CHAIN].current.due == T0 + 13 * H
    case.run_until(T0 + 13 * H + M)
    assert case.seen(CHAIN) == [("warning-1", T0 + 13 * H), ("breach", T0 + 13 * H)]


def test_a_late_review_closes_the_breach_which_stands_and_keeps_the_original_schedule(policy: Policy) -> None:
    case = detained(policy)
    case.run_until(T0 + 7 * H)
    review(case, T0 + 7 * H)
    assert case.seen(CHAIN, "closed") == [("breach", T0 + 6 * H)]  # the warning had given way to it
    assert case.seen(CHAIN, "superseded") == [("warning-1", T0 + 6 * H)]
    assert case.seen(CHAIN, "satisfied") == []
    assert case.state.clocks[CHAIN].current.due == T0 + 15 * H  # 6 h + 9 h, not 7 h + 9 h


def test_a_postponed_review_does_not_move_the_schedule(policy: Policy) -> None:
    case = detained(policy)
    case.send("custody.detention_review.postponed", T0 + 5 * H, {"reason": "detainee_being_questioned"})
    assert case.state.clocks[CHAIN].current.due == T0 + 6 * H
    review(case, T0 + 6 * H + 30 * M)
    assert case.state.clocks[CHAIN].current.due == T0 + 15 * H


def test_a_review_more_than_an_interval_late_resumes_on_the_original_grid(policy: Policy) -> None:
    case = detained(policy)
    case.run_until(T0 + 26 * H)
    review(case, T0 + 26 * H)
    assert case.state.clocks[CHAIN].current.due == T0 + 33 * H  # 6 + 9k, the first after 26 h


def test_each_deadline_in_a_chain_has_its_own_alert_id(policy: Policy) -> None:
    case = detained(policy)
    case.run_until(T0 + 6 * H + M)
    review(case, T0 + 6 * H + M)
    case.run_until(T0 + 15 * H + M)
    breaches = [a.alert_id for a in case.alerts if a.rule_id == CHAIN and a.stage == "breach" and a.status == "firing"]
    assert len(breaches) == 2 and len(set(breaches)) == 2


# ----------------------------------------------------------------------------- limits, pauses, extensions
def test_the_detention_limit_runs_from_the_relevant_time_not_authorisation(policy: Policy) -> None:
    case = detained(policy, relevant=T0 - 30 * M)
    assert case.state.clocks[LIMIT].current.due == T0 + 24 * H - 30 * M


def test_medical_hospital_time_pauses_the_detention_clock(policy: Policy) -> None:
    case = detained(policy)
    case.send("custody.hospital.left", T0 + 10 * H, {"purpose": "medical"})
    case.send("custody.hospital.returned", T0 + 13 * H, {"questioned_at_hospital": False})
    assert case.state.clocks[LIMIT].current.due == T0 + 27 * H


def test_hospital_time_counts_if_the_detainee_was_questioned_there(policy: Policy) -> None:
    case = detained(policy)
    case.send("custody.hospital.left", T0 + 10 * H, {"purpose": "medical"})
    case.send("custody.hospital.returned", T0 + 13 * H, {"questioned_at_hospital": True})
    assert case.state.clocks[LIMIT].current.due == T0 + 24 * H


def test_an_investigative_hospital_visit_does_not_pause_the_clock(policy: Policy) -> None:
    case = detained(policy)
    case.send("custody.hospital.left", T0 + 10 * H, {"purpose": "investigative"})
    assert case.state.clocks[LIMIT].status == "running"
    case.send("custody.hospital.returned", T0 + 13 * H, {"questioned_at_hospital": False})
    assert case.state.clocks[LIMIT].current.due == T0 + 24 * H


def test_no_stage_fires_while_the_clock_is_paused(policy: Policy) -> None:
    case = detained(policy)
    case.send("custody.hospital.left", T0 + 21 * H, {"purpose": "medical"})
    case.at(T0 + 30 * H)
    assert [name for name, _ in case.seen(LIMIT)] == []
    pending = [c.rule_id for c in case.state.clocks.values() if c.status == "running"]
    assert LIMIT not in pending and next_due(case.state) != case.state.clocks[LIMIT].current.due


def test_a_pause_moves_an_open_warning_and_says_so(policy: Policy) -> None:
    case = detained(policy)
    case.run_until(T0 + 22 * H + 30 * M)
    assert case.seen(LIMIT) == [("warning-1", T0 + 24 * H)]
    case.send("custody.hospital.left", T0 + 23 * H, {"purpose": "medical"})
    case.send("custody.hospital.returned", T0 + 25 * H, {"questioned_at_hospital": False})
    assert case.seen(LIMIT, "updated") == [("warning-1", T0 + 26 * H)]


def test_a_superintendent_extends_to_36_hours_and_the_24_hour_warning_is_cleared(policy: Policy) -> None:
    case = detained(policy)
    case.run_until(T0 + 22 * H + 30 * M)
    case.send("custody.detention.extended", T0 + 23 * H, {"authorising_rank": "superintendent"})
    assert case.state.clocks[LIMIT].current.due == T0 + 36 * H
    assert case.seen(LIMIT, "cleared") == [("warning-1", T0 + 24 * H)]
    case.run_until(T0 + 36 * H + M)
    assert case.seen(LIMIT)[-1] == ("breach", T0 + 36 * H)


def test_an_extension_by_an_inspector_is_not_an_extension(policy: Policy) -> None:
    case = detained(policy)
    case.send("custody.detention.extended", T0 + 20 * H, {"authorising_rank": "inspector"})
    assert case.state.clocks[LIMIT].current.due == T0 + 24 * H


def test_a_warrant_moves_the_limit_to_its_expiry_but_never_beyond_96_hours(policy: Policy) -> None:
    case = detained(policy)
    case.send("custody.detention.extended", T0 + 20 * H, {"authorising_rank": "superintendent"})
    case.send("custody.warrant_of_further_detention.issued", T0 + 34 * H, {"expires_at": (T0 + 70 * H).isoformat()})
    assert case.state.clocks[LIMIT].current.due == T0 + 70 * H
    case.send("custody.warrant_of_further_detention.issued", T0 + 68 * H, {"expires_at": (T0 + 120 * H).isoformat()})
    assert case.state.clocks[LIMIT].current.due == T0 + 96 * H


def test_a_hospital_visit_recorded_late_retracts_the_breach_it_disproves(policy: Policy) -> None:
    case = detained(policy)
    case.run_until(T0 + 24 * H + 10 * M)
    assert ("breach", T0 + 24 * H) in case.seen(LIMIT)
    now = T0 + 25 * H
    case.send("custody.hospital.left", T0 + 20 * H, {"purpose": "medical"}, recorded=now)
    assert [name for name, _ in case.seen(LIMIT, "retracted")] == [
        "warning-1",
        "breach",
    ]  # 22 h and 24 h: both after the pause
    assert case.state.clocks[LIMIT].status == "paused"


# ----------------------------------------------------------------------------- calendar deadlines
def test_encompass_is_due_before_the_next_school_day_across_the_autumn_clock_change(policy: Policy) -> None:
    case = Case(policy, "incidents", "INC-1")
    friday_night = dt.datetime(2026, 10, 23, 21, 0, tzinfo=UTC)  # 22:00 BST
    case.send(
        "incident.created",
        friday_night,
        {"incident_type": "domestic_abuse", "grade": "emergency", "children_present": 2},
    )
    assert case.state.clocks["test.encompass"].current.due == dt.datetime(2026, 10, 26, 8, 45, tzinfo=UTC)  # 08:45 GMT


def test_encompass_skips_bank_holidays_and_configured_school_holidays(policy: Policy) -> None:
    case = Case(policy, "incidents", "INC-2")
    case.send(
        "incident.created",
        dt.datetime(2026, 12, 18, 20, 0, tzinfo=UTC),
        {"incident_type": "domestic_abuse", "grade": "priority", "children_present": 1},
    )
    assert case.state.clocks["test.encompass"].current.due == dt.datetime(2027, 1, 5, 8, 45, tzinfo=UTC)


def test_no_encompass_clock_without_children(policy: Policy) -> None:
    case = Case(policy, "incidents", "INC-3")
    case.send("incident.created", T0, {"incident_type": "domestic_abuse", "grade": "priority", "children_present": 0})
    assert "test.encompass" not in case.state.clocks


def test_one_working_day_skips_christmas_and_the_observed_boxing_day(policy: Policy) -> None:
    case = Case(policy, "protection", "PP-1")
    case.send(
        "protection.police_protection.initiated",
        dt.datetime(2026, 12, 24, 10, 0, tzinfo=UTC),
        {"age_years": 9, "initiating_officer_ref": "PC-1", "placement": "refuge"},
    )
    assert case.state.clocks["test.strategy_working_days"].current.due == dt.datetime(2026, 12, 29, 10, 0, tzinfo=UTC)


def test_the_overnight_window_opens_at_22_00_local_on_the_spring_forward_day(policy: Policy) -> None:
    case = Case(policy, "incidents", "MIS-1")
    case.send(
        "missing.child.reported",
        dt.datetime(2026, 3, 29, 11, 0, tzinfo=UTC),
        {"child_ref": "CH-1", "risk_level": "high", "looked_after": True},
    )
    case.send("missing.supervisor.stood_down", dt.datetime(2026, 3, 29, 14, 0, tzinfo=UTC), {"officer_ref": "SGT-1"})
    assert case.state.clocks["test.overnight_supervision"].current.due == dt.datetime(2026, 3, 29, 21, 0, tzinfo=UTC)


def test_inside_the_overnight_window_the_deadline_is_immediate(policy: Policy) -> None:
    case = Case(policy, "incidents", "MIS-2")
    case.send(
        "missing.child.reported",
        dt.datetime(2026, 11, 2, 22, 30, tzinfo=UTC),
        {"child_ref": "CH-2", "risk_level": "high", "looked_after": False},
    )
    stood_down = dt.datetime(2026, 11, 2, 23, 0, tzinfo=UTC)
    assert case.send("missing.supervisor.stood_down", stood_down, {"officer_ref": "S"}) == []  # its instant: in time
    out = case.at(stood_down + dt.timedelta(seconds=1))
    assert [(a.rule_id, a.stage) for a in out] == [("test.overnight_supervision", "breach")]


# ----------------------------------------------------------------------------- elapsed time and DST
def test_72_hours_are_72_real_hours_across_the_spring_clock_change(policy: Policy) -> None:
    case = Case(policy, "protection", "PP-2")
    start = dt.datetime(2026, 3, 28, 12, 0, tzinfo=UTC)  # 12:00 GMT, the day before clocks go forward
    case.send(
        "protection.police_protection.initiated",
        start,
        {"age_years": 6, "initiating_officer_ref": "PC-2", "placement": "local_authority_accommodation"},
    )
    assert case.state.clocks["test.protection_72h"].current.due == start + 72 * H  # 13:00 BST on the wall


def test_a_reset_starts_a_new_deadline_and_clears_the_old_warnings(policy: Policy) -> None:
    case = Case(policy, "protection", "PP-3")
    case.send(
        "protection.police_protection.initiated",
        T0,
        {"age_years": 6, "initiating_officer_ref": "PC-2", "placement": "refuge"},
    )
    case.run_until(T0 + 49 * H)
    assert case.seen("test.protection_72h") == [("warning-1", T0 + 72 * H)]
    case.send("protection.emergency_protection_order.applied", T0 + 50 * H)
    assert case.seen("test.protection_72h", "cleared") == [("warning-1", T0 + 72 * H)]
    assert case.state.clocks["test.protection_72h"].current.due == T0 + 122 * H


# ----------------------------------------------------------------------------- immediate rules
def test_a_childs_review_by_telephone_breaks_the_rule_at_once(policy: Policy) -> None:
    case = detained(policy, age=15)
    out = review(case, T0 + 4 * H, mode="telephone")
    assert [(a.rule_id, a.stage, a.status, a.target) for a in out] == [
        ("test.remote_review", "breach", "firing", "immediate")
    ]


@pytest.mark.parametrize(("age", "mode"), [(15, "in_person"), (30, "telephone")])
def test_no_immediate_breach_for_an_in_person_review_or_an_adult(policy: Policy, age: int, mode: str) -> None:
    case = detained(policy, age=age)
    assert [a for a in review(case, T0 + 4 * H, mode=mode) if a.rule_id == "test.remote_review"] == []


def test_an_immediate_breach_is_raised_once_even_if_the_case_is_rebuilt(policy: Policy) -> None:
    case = detained(policy, age=15)
    review(case, T0 + 4 * H, mode="video")
    case.send("custody.appropriate_adult.requested", T0 + 1 * H, recorded=T0 + 5 * H)  # out of order: rebuild
    assert len([a for a in case.alerts if a.rule_id == "test.remote_review"]) == 1
