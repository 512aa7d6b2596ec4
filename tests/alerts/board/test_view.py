"""The console's read model, from the same stored records the agents write."""

from __future__ import annotations

import datetime as dt
import json

from agents.alert import Alert
from agents.engine import CaseState, new_case, process_event
from agents.policy import load_policy
from alerts.board.view import Board, measures
from alerts.lifecycle import AlertRecord, EscalationSnapshot
from alerts.messages import Job
from streams.validation import Event, decode_event
from tests.alerts.helpers import alert
from tests.conftest import T0, cloudevent, detention

POLICY = load_policy()


def stored_case(subject: str, *raws: dict[str, object], domain: str = "custody") -> CaseState:
    state = new_case(subject, domain, partition=0)
    for raw in raws:
        event = decode_event(json.dumps(raw).encode(), now=T0 + dt.timedelta(days=1))
        assert isinstance(event, Event)
        process_event(state, event, POLICY, T0)
    return state


def stored_alert(a: Alert, state: str = "raised") -> AlertRecord:
    return AlertRecord(alert=a, state=state, escalation=EscalationSnapshot("p", [], True, None), raised_at=T0)  # type: ignore[arg-type]


def test_a_detained_child_shows_every_running_clock_tightest_first() -> None:
    board = Board(POLICY)
    view = board.apply_case("CR-1", stored_case("CR-1", detention("CR-1")))
    assert view is not None and not isinstance(view, str)
    titles = [c.rule_id for c in view.clocks]
    assert titles[0] == "custody.appropriate_adult.request" and "custody.detention_review.schedule" in titles
    assert [c.deadline for c in view.clocks] == sorted(c.deadline for c in view.clocks)
    (group,) = board.clocks_by_child()
    assert group["child"] == "CR-1" and group["tightest"] == view.clocks[0].deadline


def test_a_case_with_no_clock_and_no_alert_leaves_the_board() -> None:
    board = Board(POLICY)
    board.apply_case("CR-2", stored_case("CR-2", detention("CR-2")))
    released = stored_case("CR-2", detention("CR-2"), cloudevent("CR-2", "custody.released", at=T0))
    assert board.apply_case("CR-2", released) == "CR-2" and board.clocks_by_child() == []
    assert board.apply_case("CR-2", released) is None  # nothing changed the second time


def test_open_alerts_come_most_urgent_first_and_filter() -> None:
    board = Board(POLICY)
    board.apply_alert("w", stored_alert(alert(alert_id="w", stage="warning", severity="medium")))
    board.apply_alert("b2", stored_alert(alert(alert_id="b2", severity="high", deadline=T0 + dt.timedelta(hours=3))))
    board.apply_alert("b1", stored_alert(alert(alert_id="b1", severity="critical")))
    board.apply_alert("done", stored_alert(alert(alert_id="done"), state="satisfied"))
    assert [a.alert_id for a in board.open_alerts()] == ["b1", "b2", "w"]
    assert [a.alert_id for a in board.open_alerts(severity="medium")] == ["w"]
    assert board.open_alerts(area="SUITE-B") == []
    case = board.case("CR-1")
    assert case is not None and {a.alert_id for a in case["alerts"]} == {"w", "b1", "b2", "done"}


def test_pages_pending_past_the_threshold_show_as_failing_by_receiver_until_they_finish() -> None:
    board = Board(POLICY, slow_delivery=dt.timedelta(minutes=1))
    for n, case in enumerate(["CR-1", "CR-2", "CR-1"]):
        job = Job(f"d{n}.pager", "pager", "trigger", "raised", alert(case=case))
        assert board.apply_delivery(job.webhook_id, job, T0 + dt.timedelta(seconds=n))
    fresh = Job("d9.slack", "slack", "trigger", "raised", alert())
    board.apply_delivery(fresh.webhook_id, fresh, T0 + dt.timedelta(seconds=50))
    assert board.failing_deliveries(T0 + dt.timedelta(seconds=30)) == []
    (failing,) = board.failing_deliveries(T0 + dt.timedelta(seconds=61))
    assert (failing.receiver, failing.pending, failing.oldest, failing.cases) == ("pager", 2, T0, ("CR-1", "CR-2"))
    for n in range(3):
        assert board.apply_delivery(f"d{n}.pager", None, T0)  # the finished jobs leave the table
    assert [d.receiver for d in board.failing_deliveries(T0 + dt.timedelta(minutes=5))] == ["slack"]
    assert not board.apply_delivery("never-pending", None, T0)


def test_the_gauges_count_children_in_custody_police_protection_high_risk_missing_and_investigations() -> None:
    board = Board(POLICY)
    board.apply_case("CR-1", stored_case("CR-1", detention("CR-1", suite="SUITE-N")))
    board.apply_case("CR-2", stored_case("CR-2", detention("CR-2", suite="SUITE-N")))
    protection = {"age_years": 9, "initiating_officer_ref": "PC-1", "placement": "refuge"}
    board.apply_case(
        "PP-1",
        stored_case(
            "PP-1", cloudevent("PP-1", "protection.police_protection.initiated", protection), domain="protection"
        ),
    )
    reported = {
        "child_ref": "CH-1",
        "looked_after": False,
        "risk_level": "high",
        "next_review_at": (T0 + dt.timedelta(hours=1)).isoformat(),
    }
    missing = cloudevent("MP-1", "missing.child.reported", reported)
    board.apply_case("MP-1", stored_case("MP-1", missing, domain="incidents"))
    found = cloudevent("MP-2", "missing.child.found", at=T0 + dt.timedelta(minutes=5))
    board.apply_case(
        "MP-2", stored_case("MP-2", cloudevent("MP-2", "missing.child.reported", reported), found, domain="incidents")
    )
    crime = {"crime_type": "neglect", "child_role": "victim", "significant_harm_suspected": True, "area": "NORTH"}
    for key, closed in (("INV-1", False), ("INV-2", True)):
        events = [cloudevent(key, "investigation.crime.recorded", crime)]
        if closed:
            events.append(cloudevent(key, "investigation.closed", {}, at=T0 + dt.timedelta(minutes=30)))
        board.apply_case(key, stored_case(key, *events, domain="investigations"))
    counted = {(m, k): v for m, k, v in measures(board)}
    assert counted[("child_protection_investigations_open", "NORTH")] == 1, "a closed investigation is not open"
    assert counted[("children_in_custody", "SUITE-N")] == 2
    assert counted[("children_in_police_protection", "")] == 1
    assert counted[("high_risk_missing_children", "")] == 1, "a child found is no longer missing"


def test_a_person_limited_to_areas_sees_nothing_outside_them() -> None:
    board = Board(POLICY)
    board.apply_case("CR-N", stored_case("CR-N", detention("CR-N", suite="SUITE-NORTH")))
    board.apply_case("CR-S", stored_case("CR-S", detention("CR-S", suite="SUITE-SOUTH")))
    board.apply_alert("n", stored_alert(alert(alert_id="n", case="CR-N", area="SUITE-NORTH")))
    board.apply_alert("s", stored_alert(alert(alert_id="s", case="CR-S", area="SUITE-SOUTH")))
    board.apply_alert("x", stored_alert(alert(alert_id="x", case="CR-X", area=None)))
    north = frozenset({"suite-north"})
    assert [a.alert_id for a in board.open_alerts(scope=north)] == ["n"], "no area: not theirs either"
    assert [g["child"] for g in board.clocks_by_child(north)] == ["CR-N"]
    assert board.case("CR-S", north) is None and board.case("CR-N", north) is not None
    assert {a.alert_id for a in board.open_alerts()} == {"n", "s", "x"}, "no scope: everything"


def test_the_area_filter_finds_any_part_of_an_area_in_any_case() -> None:
    board = Board(POLICY)
    board.apply_alert("n", stored_alert(alert(alert_id="n", area="SUITE-NORTH")))
    assert [a.alert_id for a in board.open_alerts(area="suite-north")] == ["n"]
    assert [a.alert_id for a in board.open_alerts(area="north")] == ["n"]
    assert board.open_alerts(area="south") == []


def test_a_record_entered_after_later_events_stands_out_and_the_age_band_is_shown() -> None:
    late = cloudevent("CR-1", "custody.appropriate_adult.requested", at=T0 + dt.timedelta(minutes=5))
    late["recordedtime"] = (T0 + dt.timedelta(hours=2)).isoformat()
    later = cloudevent("CR-1", "custody.healthcare.requested", at=T0 + dt.timedelta(minutes=30))
    later["recordedtime"] = (T0 + dt.timedelta(minutes=31)).isoformat()
    view = Board(POLICY).apply_case("CR-1", stored_case("CR-1", detention("CR-1", age=13), later, late))
    assert view is not None and not isinstance(view, str)
    assert [(e.type.split(".")[-2], e.out_of_order) for e in view.timeline] == [
        ("detention", False),
        ("appropriate_adult", True),
        ("healthcare", False),
    ]
    assert view.age_band == "under 14"


def test_an_alert_knows_whose_case_it_is_once_the_case_is_seen() -> None:
    board = Board(POLICY)
    missing = cloudevent(
        "MP-1", "missing.child.reported", {"child_ref": "CHILD-7", "looked_after": False, "age_years": 13}
    )
    board.apply_case("MP-1", stored_case("MP-1", missing, domain="incidents"))
    view = board.apply_alert("m", stored_alert(alert(alert_id="m", case="MP-1", domain="incidents")))
    assert view is not None and view.child == "CHILD-7"
    other = board.apply_alert("o", stored_alert(alert(alert_id="o", case="CR-9")))
    assert other is not None and other.child == "CR-9"
