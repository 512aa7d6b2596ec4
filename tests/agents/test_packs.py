"""Every rule of the built-in packs: one case where it fires and one where it stays quiet.

Each case is replayed through the full policy (every pack loaded, as in production), so a
quiet case also proves that no other rule's events trip this one. A rule added to a pack
without both cases, here or as a scenario written for it in ``tests/scenarios`` (with
``rule`` and ``quiet``), fails ``test_every_rule_has_a_firing_and_a_quiet_case``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import pytest

from agents.alert import Alert
from agents.policy import Policy, load_policy
from agents.replay import replay
from streams.validation import Event, decode_event
from tests.conftest import REPO, T0, cloudevent
from tests.scenarios.library import all_scenarios

H = dt.timedelta(hours=1)


def at(hours: float) -> str:
    return (T0 + hours * H).isoformat()


@dataclass
class Case:
    """Events as (hours after T0, type, data[, subject]); the clock then runs to ``until`` hours."""

    events: list[tuple[Any, ...]]
    until: float
    subject: str = "C-1"
    expect_case: str | None = None
    """The case the alert is about, when it is not ``subject`` (a rule keyed by the child)."""

    def to_events(self) -> list[Event]:
        out = []
        for item in self.events:
            hours, event_type, data = item[:3]
            subject = item[3] if len(item) > 3 else self.subject
            raw = cloudevent(subject, event_type, data, at=T0 + hours * H)
            result = decode_event(json.dumps(raw).encode(), now=T0 + 10_000 * H)
            assert isinstance(result, Event), (event_type, result)
            out.append(result)
        return out


def detained(age: int = 15) -> tuple[Any, ...]:
    return (0, "custody.detention.authorised", {"relevant_time": at(0), "age_years": age, "custody_suite": "SUITE-A"})


def refused_bail(*then: tuple[Any, ...], until: float) -> Case:
    """A child detained, charged at 5 h and refused bail, then ``then``."""
    return Case([detained(), (5, "custody.charged", {"bail": "refused"}), *then], until=until)


def review(hours: float, **data: Any) -> tuple[Any, ...]:
    full = {"mode": "in_person", "detainee_awake": True, "detainee_spoken_to": True, "reviewer_rank": "inspector"}
    return (hours, "custody.detention_review.completed", {**full, **data})


def protected(officer: str = "OFF-1") -> tuple[Any, ...]:
    data = {"age_years": 9, "initiating_officer_ref": officer, "placement": "local_authority_accommodation"}
    return (0, "protection.police_protection.initiated", data)


def designated(hours: float, officer: str = "OFF-2") -> tuple[Any, ...]:
    return (hours, "protection.designated_officer.assigned", {"officer_ref": officer, "rank": "inspector"})


def reported(
    hours: float = 0, risk: str | None = "medium", review_in: float | None = None, episode: str = "C-1"
) -> tuple[Any, ...]:
    data: dict[str, Any] = {"child_ref": "CHILD-1", "looked_after": True, "risk_level": risk}
    if review_in is not None:
        data["next_review_at"] = at(hours + review_in)
    return (hours, "missing.child.reported", data, episode)


def incident(kind: str = "domestic_abuse", grade: str = "emergency", children: int = 2) -> tuple[Any, ...]:
    return (
        0,
        "incident.created",
        {"incident_type": kind, "grade": grade, "children_present": children, "area": "NORTH"},
    )


ENDED = {"reason": "released_by_designated_officer"}

CASES: dict[str, tuple[Case, Case]] = {
    # ------------------------------------------------------------------ custody
    "custody.appropriate_adult.request": (
        Case([detained()], until=2),
        Case([detained(), (0.2, "custody.appropriate_adult.requested", {})], until=2),
    ),
    "custody.appropriate_adult.arrival": (
        Case([detained(), (0.1, "custody.appropriate_adult.requested", {})], until=3),
        Case(
            [
                detained(),
                (0.1, "custody.appropriate_adult.requested", {}),
                (1, "custody.appropriate_adult.arrived", {}),
            ],
            until=3,
        ),
    ),
    "custody.interview.without_appropriate_adult": (
        Case(
            [
                detained(),
                (1, "custody.interview.started", {"appropriate_adult_present": False}),
            ],
            until=2,
        ),
        Case(
            [
                detained(),
                (
                    1,
                    "custody.interview.started",
                    {
                        "appropriate_adult_present": False,
                        "urgent_interview_authorised": True,
                        "authorising_rank": "superintendent",
                    },
                ),
            ],
            until=2,
        ),
    ),
    "custody.healthcare.seen": (
        Case([detained(), (1, "custody.healthcare.requested", {})], until=3),
        Case([detained(), (1, "custody.healthcare.requested", {}), (1.5, "custody.healthcare.seen", {})], until=3),
    ),
    "custody.detention_review.schedule": (
        Case([detained(age=30)], until=7),
        Case([detained(age=30), review(5), (8, "custody.released", {})], until=20),
    ),
    "custody.detention_review.remote": (
        Case([detained(), review(5, mode="telephone")], until=6),
        Case([detained(), review(5, mode="video")], until=6),  # the child was seen: lawful and to standard
    ),
    "custody.detention_review.telephone": (
        Case([detained(age=30), review(5, mode="telephone", live_link_available=True)], until=6),
        Case([detained(age=30), review(5, mode="telephone", live_link_available=False)], until=6),
    ),
    "custody.detention_review.reviewer_rank": (
        Case([detained(age=30), review(5, reviewer_rank="sergeant")], until=6),
        Case(  # after charge the custody officer (a sergeant) reviews: s.40(1)(a)
            [detained(age=30), (4, "custody.charged", {"bail": "refused"}), review(5, reviewer_rank="sergeant")],
            until=6,
        ),
    ),
    "custody.detention_review.child_not_spoken_to": (
        Case([detained(), review(5, detainee_spoken_to=False)], until=6),
        Case([detained(), review(5, detainee_awake=False, detainee_spoken_to=False)], until=6),  # asleep: s.40(12)
    ),
    "custody.detention_review.child_asleep": (
        Case([detained(), review(5, detainee_awake=False)], until=6),
        Case([detained(age=19), review(5, detainee_awake=False)], until=6),  # an adult: not this rule
    ),
    "custody.detention.limit": (
        Case([detained(age=30)], until=25),
        Case([detained(age=30), (20, "custody.charged", {"bail": "granted"})], until=100),
    ),
    "custody.detention.extension_invalid": (
        Case(
            [detained(age=30), review(6), (10, "custody.detention.extended", {"authorising_rank": "superintendent"})],
            until=12,
        ),
        Case(
            [
                detained(age=30),
                review(6),
                review(15),
                (20, "custody.detention.extended", {"authorising_rank": "superintendent"}),
            ],
            until=30,
        ),
    ),
    "custody.detention.absolute_limit": (
        Case(
            [
                detained(age=30),
                (20, "custody.detention.extended", {"authorising_rank": "superintendent"}),
                (35, "custody.warrant_of_further_detention.issued", {"expires_at": at(100)}),
            ],
            until=97,
        ),
        Case([detained(age=30), (23, "custody.charged", {"bail": "granted"})], until=100),
    ),
    "custody.charged_child.transfer": (
        refused_bail(until=10),
        refused_bail((6, "custody.impracticability_certificate.issued", {"reason": "transport_unavailable"}), until=10),
    ),
    "custody.charged_child.accommodation_request": (
        refused_bail(until=7),
        refused_bail((5.2, "custody.local_authority_accommodation.requested", {"secure": False}), until=7),
    ),
    "custody.charged_child.invalid_certificate": (
        refused_bail(
            (6, "custody.impracticability_certificate.issued", {"reason": "no_secure_accommodation"}), until=7
        ),
        refused_bail((6, "custody.impracticability_certificate.issued", {"reason": "travel_conditions"}), until=7),
    ),
    "custody.charged_child.no_accommodation_offered": (
        refused_bail(
            (6, "custody.impracticability_certificate.issued", {"reason": "no_accommodation_offered"}), until=7
        ),
        refused_bail((6, "custody.local_authority_accommodation.transfer_completed", {}), until=12),
    ),
    "custody.childrens_social_care.notification": (
        Case([detained()], until=3),
        Case([detained(), (0.5, "custody.childrens_social_care.notified", {})], until=3),
    ),
    "custody.childrens_social_care.before_release": (
        Case([detained(), (1, "custody.released", {})], until=2),
        Case([detained(), (0.5, "custody.childrens_social_care.notified", {}), (1, "custody.released", {})], until=2),
    ),
    "custody.rest.continuous": (
        Case(
            [detained(), (10, "custody.rest.started", {}), (14, "custody.rest.ended", {"continuous_minutes": 240})],
            until=25,
        ),
        Case(
            [detained(), (10, "custody.rest.started", {}), (18, "custody.rest.ended", {"continuous_minutes": 480})],
            until=25,
        ),
    ),
    # ------------------------------------------------------------------ police protection
    "protection.police_protection.limit": (
        Case([protected()], until=73),
        Case([protected(), (40, "protection.police_protection.ended", ENDED)], until=80),
    ),
    "protection.designated_officer.assignment": (
        Case([protected()], until=2),
        Case([protected(), designated(0.5)], until=2),
    ),
    "protection.designated_officer.review": (
        Case([protected(), designated(0.5)], until=5),
        Case(
            [
                protected(),
                designated(0.5),
                (3, "protection.designated_officer.review_completed", {"officer_ref": "OFF-2"}),
                (10, "protection.police_protection.ended", ENDED),
            ],
            until=20,
        ),
    ),
    "protection.designated_officer.handover_review": (
        Case(
            [
                protected(),
                designated(0.5),
                (8, "protection.designated_officer.handover", {"from_officer_ref": "OFF-2", "to_officer_ref": "OFF-3"}),
            ],
            until=10,
        ),
        Case(
            [
                protected(),
                designated(0.5),
                (8, "protection.designated_officer.handover", {"from_officer_ref": "OFF-2", "to_officer_ref": "OFF-3"}),
                (8.5, "protection.designated_officer.review_completed", {"officer_ref": "OFF-3"}),
            ],
            until=10,
        ),
    ),
    "protection.local_authority.informed": (
        Case([protected()], until=2),
        Case([protected(), (0.5, "protection.local_authority.informed", {})], until=2),
    ),
    "protection.parents.informed": (
        Case([protected()], until=5),
        Case([protected(), (1, "protection.parents.informed", {})], until=5),
    ),
    "protection.emergency_protection_order.application": (
        Case([protected()], until=49),
        Case([protected(), (30, "protection.emergency_protection_order.applied", {})], until=49),
    ),
    "protection.strategy_discussion": (
        Case([protected()], until=25),
        Case([protected(), (10, "protection.strategy_discussion.held", {})], until=25),
    ),
    "protection.police_protection.ended_without_reason": (
        Case([protected(), (5, "protection.police_protection.ended", {})], until=6),
        Case([protected(), (5, "protection.police_protection.ended", ENDED)], until=6),
    ),
    "protection.designated_officer.independence": (
        Case([protected("OFF-1"), designated(0.5, "OFF-1")], until=1),
        Case([protected("OFF-1"), designated(0.5, "OFF-2")], until=1),
    ),
    # ------------------------------------------------------------------ missing children
    "missing.risk_assessment": (
        Case([reported(risk=None)], until=2),
        Case(
            [
                reported(risk=None),
                (0.5, "missing.risk.assessed", {"risk_level": "medium", "next_review_at": at(4.5)}),
            ],
            until=2,
        ),
    ),
    "missing.supervisor.assignment": (
        Case([reported(risk="high")], until=2),
        Case([reported(risk="high"), (0.3, "missing.supervisor.assigned", {"officer_ref": "SUP-1"})], until=2),
    ),
    "missing.supervisor.overnight": (  # T0 is 10:00 in London; 13 h later is 23:00
        Case(
            [
                reported(risk="high"),
                (0.3, "missing.supervisor.assigned", {"officer_ref": "SUP-1"}),
                (13, "missing.supervisor.stood_down", {"officer_ref": "SUP-1"}),
            ],
            until=16,
        ),
        Case(
            [
                reported(risk="high"),
                (0.3, "missing.supervisor.assigned", {"officer_ref": "SUP-1"}),
                (13, "missing.supervisor.stood_down", {"officer_ref": "SUP-1"}),
                (13.2, "missing.supervisor.assigned", {"officer_ref": "SUP-2"}),
            ],
            until=16,
        ),
    ),
    "missing.deployment": (
        Case([reported(risk="high")], until=1),
        Case([reported(risk="high"), (0.2, "incident.resource.deployed", {"resource_ref": "UNIT-7"})], until=1),
    ),
    "missing.risk_review": (
        Case([reported(risk="medium", review_in=2)], until=3),
        Case(
            [
                reported(risk="medium", review_in=2),
                (1.5, "missing.risk.reassessed", {"risk_level": "medium", "next_review_at": at(6)}),
                (5, "missing.child.found", {}),
            ],
            until=10,
        ),
    ),
    "missing.repeat_episodes": (
        Case(
            [
                reported(0, "low", episode="MP-1"),
                reported(480, "low", episode="MP-2"),
                reported(960, "low", episode="MP-3"),
            ],
            until=961,
            expect_case="CHILD-1",
        ),
        Case(
            [
                reported(0, "low", episode="MP-1"),
                reported(1200, "low", episode="MP-2"),
                reported(2400, "low", episode="MP-3"),
            ],
            until=2401,
            expect_case="CHILD-1",
        ),
    ),
    "missing.return_interview": (
        Case([reported(risk="low"), (5, "missing.child.found", {}), (6, "missing.child.returned", {})], until=80),
        Case(  # the child declined: the duty to offer was met
            [
                reported(risk="low"),
                (5, "missing.child.found", {"outcome": "returned"}),
                (30, "missing.return_interview.declined", {}),
            ],
            until=80,
        ),
    ),
    # ------------------------------------------------------------------ incidents
    "incident.domestic_abuse.attendance": (
        Case([incident()], until=1),
        Case([incident(), (0.2, "incident.resource.arrived", {"resource_ref": "UNIT-1"})], until=1),
    ),
    "incident.thrive": (
        Case([incident("child_concern", "priority", 1)], until=2),
        Case(
            [incident("child_concern", "priority", 1), (0.3, "incident.thrive.recorded", {"risk_level": "low"})],
            until=2,
        ),
    ),
    "incident.closed_without_ppn": (
        Case([incident(), (3, "incident.closed", {})], until=4),
        Case([incident(), (2, "incident.public_protection_notice.submitted", {}), (3, "incident.closed", {})], until=4),
    ),
    "incident.operation_encompass": (  # T0 is Saturday 10:00; the next school day starts Monday 08:30
        Case([incident()], until=47),
        Case([incident(), (24, "incident.operation_encompass.sent", {})], until=48),
    ),
}


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def breaches(case: Case, policy: Policy, rule_id: str) -> list[Alert]:
    alerts = replay(case.to_events(), policy, until=T0 + case.until * H)
    return [a for a in alerts if a.rule_id == rule_id and a.stage == "breach" and a.status == "firing"]


def test_every_rule_has_a_firing_and_a_quiet_case(policy: Policy) -> None:
    """Here, or as a scenario written for it (tests/scenarios: replayed and run live)."""
    in_scenarios = {s.rule for s in all_scenarios() if s.rule is not None}
    assert not in_scenarios & set(CASES), "one place per rule"
    assert sorted(r.id for r in policy.rules) == sorted({*CASES, *in_scenarios})


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_the_rule_fires_on_its_breach(policy: Policy, rule_id: str) -> None:
    case = CASES[rule_id][0]
    found = breaches(case, policy, rule_id)
    assert found, f"{rule_id} did not fire"
    alert = found[0]
    assert alert.case == (case.expect_case or case.subject)
    rule = policy.rule(rule_id)
    assert rule is not None and alert.rule_version == rule.version and alert.legal_basis == rule.legal_basis
    assert alert.action == rule.action and alert.explanation == rule.explanation and alert.timeline


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_the_rule_stays_quiet_when_the_case_complies(policy: Policy, rule_id: str) -> None:
    assert breaches(CASES[rule_id][1], policy, rule_id) == []


# ---------------------------------------------------------------------- constructs the packs rely on
def all_alerts(case: Case, policy: Policy) -> list[Alert]:
    return list(replay(case.to_events(), policy, until=T0 + case.until * H))


def test_rest_is_not_monitored_where_the_custody_system_records_no_rest(policy: Policy) -> None:
    assert breaches(Case([detained()], until=30), policy, "custody.rest.continuous") == []


@pytest.mark.parametrize(("grade", "quiet_until", "breach_by"), [("emergency", 0.2, 0.3), ("priority", 0.9, 1.1)])
def test_attendance_target_follows_the_incident_grade(
    policy: Policy, grade: str, quiet_until: float, breach_by: float
) -> None:
    rule = "incident.domestic_abuse.attendance"
    assert breaches(Case([incident(grade=grade)], until=quiet_until), policy, rule) == []
    assert breaches(Case([incident(grade=grade)], until=breach_by), policy, rule)


def test_an_incident_graded_for_no_deployment_starts_no_attendance_clock(policy: Policy) -> None:
    case = Case([incident(grade="resolution_without_deployment")], until=100)
    assert [a for a in all_alerts(case, policy) if a.rule_id == "incident.domestic_abuse.attendance"] == []


def test_repeat_episodes_are_counted_per_child_and_only_that_rule_speaks_of_the_child(policy: Policy) -> None:
    case = CASES["missing.repeat_episodes"][0]
    about_child = [a for a in all_alerts(case, policy) if a.case == "CHILD-1"]
    assert {a.rule_id for a in about_child} == {"missing.repeat_episodes"}
    assert len(about_child) == 1 and "MP-3" not in about_child[0].reason


def test_a_late_record_of_notification_retracts_the_release_alert(policy: Policy) -> None:
    raw = [detained(), (1, "custody.released", {})]
    events = Case(raw, until=2).to_events()
    late = cloudevent("C-1", "custody.childrens_social_care.notified", at=T0 + 0.5 * H, recorded=T0 + 3 * H)
    late_event = decode_event(json.dumps(late).encode(), now=T0 + 10 * H)
    assert isinstance(late_event, Event)
    rule = "custody.childrens_social_care.before_release"
    said = [(a.status, a.hindsight) for a in replay([*events, late_event], policy, T0 + 4 * H) if a.rule_id == rule]
    assert said == [("firing", False), ("retracted", False)]


def test_the_initiating_officer_check_needs_the_initiating_fact(policy: Policy) -> None:
    """No initiating officer on record: not known to be the same officer, so no alert."""
    case = Case([designated(0.5, "OFF-1")], until=1)
    assert breaches(case, policy, "protection.designated_officer.independence") == []


def test_the_example_force_file_changes_the_outcome() -> None:
    """An AA who arrives after 1 h 30 m: within the 2 h default, a breach of the force's 1 h."""
    waited = Case(
        [detained(), (0, "custody.appropriate_adult.requested", {}), (1.5, "custody.appropriate_adult.arrived", {})],
        until=3,
    )
    rule = "custody.appropriate_adult.arrival"
    assert breaches(waited, load_policy(), rule) == []
    force = load_policy(overrides=[REPO / "deploy" / "policy" / "example-force-overrides.yaml"])
    (breach,) = breaches(waited, force, rule)
    assert breach.policy_note and "example-force-overrides.yaml" in breach.policy_note


def test_an_alerts_timeline_shows_the_events_that_matter_to_its_rule(policy: Policy) -> None:
    case = Case(
        [detained(), (0.2, "custody.healthcare.requested", {}), review(1.5), (2, "custody.healthcare.seen", {})],
        until=3,
    )
    (breach,) = breaches(case, policy, "custody.healthcare.seen")
    assert [entry.type for entry in breach.timeline] == ["custody.detention.authorised", "custody.healthcare.requested"]


def test_cell_visits_are_not_monitored_where_the_custody_system_records_none(policy: Policy) -> None:
    quiet = [a for a in all_alerts(Case([detained()], until=10), policy) if a.rule_id.startswith("custody.cell_visits")]
    assert quiet == []


def test_the_first_cell_visit_recorded_starts_the_visits_clock(policy: Policy) -> None:
    """A system that records visits but no observation level: watched from the first visit."""
    case = Case([detained(), (2, "custody.cell_visit.completed", {})], until=3)
    found = breaches(case, policy, "custody.cell_visits")
    assert [a.deadline for a in found] == [T0 + 2.5 * H]


def test_every_clock_of_the_shipped_packs_has_a_title_that_is_not_an_alarm() -> None:
    """A running clock with hours left must not read "overdue" or "not done" on the console."""
    from agents.policy import load_policy

    for rule in load_policy().rules:
        if rule.kind == "immediate":
            continue
        words = rule.clock_title.lower()
        assert rule.clock_title != rule.title, f"{rule.id}: give it a clock_title"
        assert not any(w in f" {words} " for w in (" overdue ", " not ", " no ", " passed ")), rule.id
