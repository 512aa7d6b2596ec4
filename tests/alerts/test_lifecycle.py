"""The lifecycle and escalation core on a simulated clock."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from alerts.lifecycle import AlertRecord, Changes, next_due, on_ack, on_alert, on_tick
from tests.alerts.helpers import alert, ladder_config
from tests.conftest import T0

M = dt.timedelta(minutes=1)
RAISED = T0 + dt.timedelta(hours=2)


def roles(changes: Changes) -> list[tuple[str, str]]:
    return [(n.role, n.action) for n in changes.notifications]


def raised(tmp_path: Path) -> AlertRecord:
    record, changes = on_alert(None, alert(), ladder_config(tmp_path), RAISED)
    assert record is not None and roles(changes) == [("custody_sergeant", "trigger")]
    assert [t.state for t in changes.transitions] == ["raised"]
    return record


def run_ticks(record: AlertRecord, until: dt.datetime) -> list[tuple[dt.datetime, str, str]]:
    """Tick at each due time up to ``until``; (when, role, action) of every notification."""
    out = []
    while (due := next_due(record)) is not None and due <= until:
        out += [(due, n.role, n.action) for n in on_tick(record, due).notifications]
    return out


def test_escalation_climbs_the_ladder_by_role_and_repeats(tmp_path: Path) -> None:
    record = raised(tmp_path)
    said = run_ticks(record, RAISED + 10 * dt.timedelta(hours=1))
    assert [(when - RAISED, role) for when, role, _ in said] == [
        (15 * M, "duty_inspector"),
        (45 * M, "duty_superintendent"),
        (75 * M, "custody_sergeant"),  # repeat: ladder (45m) + repeat_after (30m)
        (90 * M, "duty_inspector"),
        (120 * M, "duty_superintendent"),
    ]
    assert next_due(record) is None


def test_an_ack_stops_escalation_but_is_not_compliance(tmp_path: Path) -> None:
    record = raised(tmp_path)
    run_ticks(record, RAISED + 15 * M)
    ok, _, changes = on_ack(record, "insp-4411", RAISED + 20 * M, "bearer token")
    assert ok and record.state == "acknowledged" and record.acked_by == "insp-4411"
    assert roles(changes) == [("custody_sergeant", "acknowledge"), ("duty_inspector", "acknowledge")]
    assert changes.transitions[0].by == "insp-4411"
    assert run_ticks(record, RAISED + 39 * M) == []  # the superintendent is not paged


def test_an_ack_timeout_notifies_again_and_escalation_resumes(tmp_path: Path) -> None:
    record = raised(tmp_path)
    on_ack(record, "sgt-1", RAISED + 5 * M, "link")
    said = run_ticks(record, RAISED + 60 * M)
    assert said[0] == (RAISED + 25 * M, "custody_sergeant", "trigger")  # 20 min ack timeout
    assert record.state == "raised" and record.acked_by is None
    assert [(w - RAISED, r) for w, r, _ in said[1:]] == [(25 * M, "duty_inspector"), (45 * M, "duty_superintendent")]


def test_satisfaction_resolves_every_page_and_ends_escalation(tmp_path: Path) -> None:
    record = raised(tmp_path)
    run_ticks(record, RAISED + 15 * M)
    record2, changes = on_alert(record, alert("satisfied", revision=2), ladder_config(tmp_path), RAISED + 16 * M)
    assert record2 is record and record.state == "satisfied"
    assert roles(changes) == [("custody_sergeant", "resolve"), ("duty_inspector", "resolve")]
    assert next_due(record) is None and run_ticks(record, RAISED + 5 * dt.timedelta(hours=1)) == []
    ok, why, _ = on_ack(record, "late", RAISED + 17 * M, "link")
    assert not ok and why == "already satisfied"


def test_a_breach_closed_by_a_late_action_ends_paging_and_is_recorded_as_closed_not_satisfied(
    tmp_path: Path,
) -> None:
    record = raised(tmp_path)
    run_ticks(record, RAISED + 15 * M)
    late = alert("closed", revision=2, reason="Breached: appropriate adult arrived 16h late. The breach stands.")
    _, changes = on_alert(record, late, ladder_config(tmp_path), RAISED + 16 * M)
    assert record.state == "closed" and record.history[-1].state == "closed"
    assert "breach stands" in record.history[-1].reason
    assert roles(changes) == [("custody_sergeant", "resolve"), ("duty_inspector", "resolve")]
    assert next_due(record) is None


def test_the_same_breach_twice_is_one_alert(tmp_path: Path) -> None:
    record = raised(tmp_path)
    again, changes = on_alert(record, alert(), ladder_config(tmp_path), RAISED + M)
    assert again is record and changes.notifications == [] and changes.transitions == []


def test_the_policy_in_force_when_raised_stays_with_the_alert(tmp_path: Path) -> None:
    record = raised(tmp_path)
    flattened = ladder_config(tmp_path, (tmp_path / "notify.yaml").read_text().replace("after: 15m", "after: 5m"))
    on_alert(record, alert("updated", revision=2), flattened, RAISED + M)
    assert [when - RAISED for when, _, _ in run_ticks(record, RAISED + 20 * M)] == [15 * M]


def test_routes_pick_the_policy_by_rule_severity_and_area(tmp_path: Path) -> None:
    config = ladder_config(tmp_path)
    assert config.route("custody.healthcare.seen", "high", "SUITE-A").name == "custody"
    assert config.route("custody.healthcare.seen", "medium", "SUITE-A").name == "quiet"
    assert config.route("missing.deployment", "critical", None).name == "quiet"


def test_every_transition_is_recorded_with_who_when_and_why(tmp_path: Path) -> None:
    record = raised(tmp_path)
    on_ack(record, "insp-1", RAISED + M, "bearer token")
    on_alert(
        record,
        alert("retracted", revision=2, reason="a late record shows the AA arrived"),
        ladder_config(tmp_path),
        RAISED + 2 * M,
    )
    assert [(t.state, t.by) for t in record.history] == [
        ("raised", "watchkeeper"),
        ("acknowledged", "insp-1"),
        ("retracted", "watchkeeper"),
    ]
    assert "AA arrived" in record.history[-1].reason


def test_an_alert_raised_long_after_its_stage_passed_is_recorded_but_pages_nobody(tmp_path: Path) -> None:
    """Loading last year's records must not wake every duty inspector (the route's horizon)."""
    a_day_late = RAISED + dt.timedelta(days=1)
    record, changes = on_alert(None, alert(), ladder_config(tmp_path), a_day_late)
    assert record is not None and record.historical and record.state == "raised"
    assert changes.notifications == [], "a historical alert is not delivered"
    (transition,) = changes.transitions
    assert "historical" in transition.reason and "nobody is paged" in transition.reason
    assert run_ticks(record, a_day_late + dt.timedelta(hours=10)) == [], "nor escalated later"
    closing, _ = on_alert(record, alert(status="closed", revision=2), ladder_config(tmp_path), a_day_late + M)
    assert closing is not None and closing.state == "closed", "its lifecycle is recorded as any alert's"


def test_an_alert_raised_within_the_horizon_pages_as_before(tmp_path: Path) -> None:
    record, changes = on_alert(None, alert(), ladder_config(tmp_path), RAISED + 4 * M)
    assert record is not None and not record.historical
    assert roles(changes) == [("custody_sergeant", "trigger")]


def test_each_route_sets_its_own_horizon(tmp_path: Path) -> None:
    from tests.alerts.helpers import LADDER

    text = LADDER.replace("policy: custody}", "policy: custody, horizon: 2d}")
    assert text != LADDER
    record, changes = on_alert(None, alert(), ladder_config(tmp_path, text), RAISED + dt.timedelta(days=1))
    assert record is not None and not record.historical and roles(changes) == [("custody_sergeant", "trigger")]
    quiet_route = alert(rule_id="incident.thrive", severity="low")
    other, paged = on_alert(None, quiet_route, ladder_config(tmp_path, text), RAISED + dt.timedelta(days=1))
    assert other is not None and other.historical and paged.notifications == [], "the catch-all keeps 5 minutes"


def test_a_warning_superseded_by_its_breach_stops_paging_and_is_resolved_where_it_was_paged(tmp_path: Path) -> None:
    """Inhibition, on the record: the warning gives way to the breach; both stay in the history."""
    config = ladder_config(tmp_path)
    warning, _ = on_alert(None, alert(stage="warning", alert_id="w1"), config, RAISED)
    assert warning is not None and warning.paged_roles == ["custody_sergeant"]
    _, changes = on_alert(warning, alert("superseded", revision=2, stage="warning", alert_id="w1"), config, RAISED + M)
    assert warning.state == "superseded" and roles(changes) == [("custody_sergeant", "resolve")]
    assert next_due(warning) is None, "it escalates no further: the breach carries the deadline on"
    ok, why, _ = on_ack(warning, "sgt-1", RAISED + 2 * M, "console")
    assert not ok and why == "already superseded"


AM_CONFIG = """
receivers:
  am: {url: "http://127.0.0.1:9/api/v2/alerts", format: alertmanager, resend: 1m}
  chat: {url: "http://127.0.0.1:9/chat", format: slack}
roles:
  duty_inspector: [am, chat]
policies:
  p: {tiers: [{role: duty_inspector}]}
routes:
  - {policy: p}
"""


def test_an_open_alert_is_sent_again_to_alertmanager_only_until_it_ends(tmp_path: Path) -> None:
    """Alertmanager forgets an alert it stops hearing about: its clients re-send what still fires."""
    from alerts.messages import jobs_for

    config = ladder_config(tmp_path, AM_CONFIG)
    record, first = on_alert(None, alert(), config, RAISED)
    assert record is not None and [j.receiver for j in jobs_for(config, first)] == ["am", "chat"]
    assert next_due(record) == RAISED + M
    again = on_tick(record, RAISED + M)
    assert [(n.refresh, n.action) for n in again.notifications] == [(True, "trigger")]
    assert [j.receiver for j in jobs_for(config, again)] == ["am"], "a person's channel hears once"
    assert next_due(record) == RAISED + 2 * M
    _, closing = on_alert(record, alert("satisfied", revision=2), config, RAISED + 90 * dt.timedelta(seconds=1))
    assert [j.receiver for j in jobs_for(config, closing)] == ["am", "chat"] and next_due(record) is None


def test_a_page_already_open_is_kept_open_through_a_silence(tmp_path: Path) -> None:
    from alerts.silence import SilenceRequest, Silences, new_silence

    config = ladder_config(tmp_path, AM_CONFIG)
    record, _ = on_alert(None, alert(), config, RAISED)
    assert record is not None
    silences = Silences()
    silences.apply(new_silence(SilenceRequest("outage", areas=("SUITE-A",), duration="1h"), "admin", RAISED, "a" * 32))
    held = on_tick(record, RAISED + M, silences)
    assert record.held_by == "a" * 32 and [n.refresh for n in held.notifications] == [True]
