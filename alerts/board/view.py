"""The console's read model: what the board, the clocks view and the case view show. Pure.

Built from the same records the agents keep in their tables (case states, alert records and
pending deliveries), as the feed reads them from the tables' changelogs: ``Board.apply_case``,
``Board.apply_alert`` and ``Board.apply_delivery`` take a key and the decoded record (None for
a deletion) and say what changed, so the web layer can push it to browsers. Only pseudonymous
references, areas, rule texts and times appear: a case state holds no more, by contract.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from agents.engine import CaseState, area_of, child_of, event_detail, running_clocks
from agents.engine.state import ClockStatus
from agents.measures import Standing, standing
from agents.policy import Policy
from agents.vocabulary import SEVERITIES, Grade, Severity, StageKind
from alerts.lifecycle import CLOSED, AlertRecord, State, Transition
from alerts.messages import Job
from streams.contract import event_label


class ClockView(msgspec.Struct, frozen=True):
    rule_id: str
    title: str
    status: ClockStatus
    started_at: dt.datetime
    deadline: dt.datetime
    next_stage: str | None
    next_stage_at: dt.datetime | None
    legal_basis: str
    local_standard: bool


class TimelineView(msgspec.Struct, frozen=True):
    type: str
    time: dt.datetime
    recordedtime: dt.datetime
    late: bool
    label: str = ""
    """The event in plain words, for people (the type is for machines)."""
    detail: str | None = None
    out_of_order: bool = False
    """Entered after a record of something that happened later: the case was rebuilt around it."""


class CaseView(msgspec.Struct, frozen=True):
    case: str
    child: str
    """Whom the case is about: the child's pseudonymous ref where the records give one (a
    missing child across episodes), else the case reference itself."""
    domain: str
    area: str | None
    clocks: tuple[ClockView, ...]
    timeline: tuple[TimelineView, ...]
    rules: dict[str, dict[str, str]]
    """rule id -> title, explanation, legal basis: for every clock and alert of the case."""
    standing: tuple[Standing, ...] = ()
    age_band: str | None = None
    """Where the records give an age: the band the rules tell apart (under 14, 14 to 17, adult)."""


class AlertView(msgspec.Struct, frozen=True):
    alert_id: str
    rule_id: str
    rule_title: str
    case: str
    domain: str
    area: str | None
    stage: StageKind
    severity: Severity
    state: State
    deadline: dt.datetime
    raised_at: dt.datetime
    action: str
    legal_basis: str
    explanation: str
    acked_by: str | None
    history: tuple[Transition, ...]
    reason: str = ""
    """The engine's latest word on it: what happened, how overdue, or how it ended."""
    grade: Grade = "local_standard"
    immediate: bool = False
    """A record that breaks the rule by itself: no deadline to count down to."""
    historical: bool = False
    """Raised after its route's horizon had passed (history loaded): on the record, never paged."""
    held_by: str | None = None
    """The silence holding its pages now: it is on the board all the same."""
    held_until: dt.datetime | None = None
    acked_at: dt.datetime | None = None
    child: str = ""
    """Whom the case is about, as the board last knew it (the case itself if it never knew)."""


def case_view(state: CaseState, policy: Policy) -> CaseView:
    clocks = []
    rules: dict[str, dict[str, str]] = {}
    for clock in running_clocks(state):
        rule = policy.rule(clock.rule_id)
        if rule is None:
            continue
        clocks.append(
            ClockView(
                rule.id,
                rule.clock_title or rule.title,
                clock.status,
                clock.started_at,
                clock.deadline,
                clock.next_stage,
                clock.next_stage_at,
                rule.legal_basis,
                rule.is_local_standard,
            )
        )
        rules[rule.id] = {"title": rule.title, "explanation": rule.explanation, "legal_basis": rule.legal_basis}
    clocks.sort(key=lambda c: c.deadline)
    timeline = []
    entered_since = None  # the latest recorded time among the events after this one (events are in time order)
    for e in reversed(state.events):
        out_of_order = entered_since is not None and e.recordedtime > entered_since
        label, detail = event_label(e.type), event_detail(e)
        timeline.append(TimelineView(e.type, e.time, e.recordedtime, e.late, label, detail, out_of_order))
        entered_since = e.recordedtime if entered_since is None else min(entered_since, e.recordedtime)
    area = area_of(state.facts)
    return CaseView(
        state.case,
        child_of(state),
        state.domain,
        area,
        tuple(clocks),
        tuple(reversed(timeline)),
        rules,
        standing(state),
        age_band(state.facts.get("age_years")),
    )


def age_band(age: object) -> str | None:
    """The bands the rules tell apart: s.45ZA's under-14s, the 14 to 17 year olds, and adults
    (a detainee who appears under 18 is treated as a child until shown otherwise)."""
    if not isinstance(age, int):
        return None
    if age < 14:
        return "under 14"
    return "14 to 17" if age < 18 else "18 or over"


def alert_view(record: AlertRecord, child: str = "") -> AlertView:
    a = record.alert
    return AlertView(
        a.alert_id, a.rule_id, a.rule_title, a.case, a.domain, a.area, a.stage, a.severity, record.state,
        a.deadline, record.raised_at, a.action, a.legal_basis, a.explanation, record.acked_by, tuple(record.history),
        a.reason, a.grade, a.target == "immediate", record.historical, record.held_by, record.held_until,
        record.acked_at, child or a.case,
    )  # fmt: skip


Scope = frozenset[str] | None
"""The areas or suites a person may see (alerts/config.py, a user's ``areas``); None is all."""


def visible(area: str | None, scope: Scope) -> bool:
    """Whether something of ``area`` is shown to a person limited to ``scope``: nothing without an
    area is shown to someone limited to areas."""
    return scope is None or (area is not None and area.casefold() in scope)


_SEVERITY_RANK = {severity: rank for rank, severity in enumerate(SEVERITIES)}


def urgency(alert: AlertView) -> tuple[Any, ...]:
    """Open before closed, breaches before warnings, then the most severe, then the earliest deadline."""
    return (alert.state in CLOSED, alert.stage != "breach", _SEVERITY_RANK[alert.severity], alert.deadline)


class DeliveryView(msgspec.Struct, frozen=True):
    """Pages to one receiver that have not been delivered after the board's ``slow_delivery``."""

    receiver: str
    pending: int
    oldest: dt.datetime
    cases: tuple[str, ...]


class Board:
    """Every case with a running clock and every alert, as the console shows them, and the
    pages still on their way (the outbox's pending jobs)."""

    def __init__(self, policy: Policy, slow_delivery: dt.timedelta = dt.timedelta(minutes=1)) -> None:
        self.policy = policy
        self.slow_delivery = slow_delivery
        """A page still undelivered after this is shown as failing: a healthy one takes under a second."""
        self.cases: dict[str, CaseView] = {}
        self.alerts: dict[str, AlertView] = {}
        self.deliveries: dict[str, tuple[str, str, str | None, dt.datetime]] = {}
        """webhook-id -> (receiver, case, its area, when the job was queued), while it is pending."""
        self.children: dict[str, str] = {}
        """case -> whom it is about, for every case the board has seen with a child reference."""

    def apply_delivery(self, key: str, job: Job | None, queued_at: dt.datetime) -> bool:
        """A pending job recorded, or finished (``None``: its entry was deleted); True if the board changed."""
        if job is None:
            return self.deliveries.pop(key, None) is not None
        first = self.deliveries.get(key, (None, None, None, queued_at))[3]
        self.deliveries[key] = (job.receiver, job.alert.case, job.alert.area, first)
        return True

    def failing_deliveries(self, now: dt.datetime, scope: Scope = None) -> list[DeliveryView]:
        """Receivers with pages pending longer than ``slow_delivery``, the longest-waiting first."""
        slow: dict[str, list[tuple[dt.datetime, str]]] = {}
        for receiver, case, area, queued in self.deliveries.values():
            if now - queued >= self.slow_delivery and visible(area, scope):
                slow.setdefault(receiver, []).append((queued, case))
        views = [
            DeliveryView(receiver, len(jobs), min(q for q, _ in jobs), tuple(sorted({c for _, c in jobs})[:20]))
            for receiver, jobs in slow.items()
        ]
        return sorted(views, key=lambda v: v.oldest)

    def apply_case(self, key: str, state: CaseState | None) -> CaseView | str | None:
        """The new view of the case, its key if it left the board, or None if nothing changed."""
        view = case_view(state, self.policy) if state is not None else None
        if view is not None and view.child != key:
            self.children[key] = view.child
        alerted = any(a.case == key for a in self.alerts.values())
        if view is None or (not view.clocks and not alerted):
            return key if self.cases.pop(key, None) is not None else None
        if self.cases.get(key) == view:
            return None
        self.cases[key] = view
        return view

    def apply_alert(self, key: str, record: AlertRecord | None) -> AlertView | None:
        if record is None:
            return None
        view = alert_view(record, self.children.get(record.alert.case, ""))
        if self.alerts.get(key) == view:
            return None
        self.alerts[key] = view
        return view

    def open_alerts(
        self, domain: str | None = None, area: str | None = None, severity: str | None = None, scope: Scope = None
    ) -> list[AlertView]:
        """Open alerts, most urgent first. ``area`` matches any part of an area, in any case
        (``north`` finds SUITE-NORTH); ``scope`` is what the person may see at all."""
        wanted = area.casefold() if area else None
        chosen = [
            a
            for a in self.alerts.values()
            if a.state not in CLOSED
            and visible(a.area, scope)
            and (domain is None or a.domain == domain)
            and (wanted is None or (a.area is not None and wanted in a.area.casefold()))
            and (severity is None or a.severity == severity)
        ]
        return sorted(chosen, key=urgency)

    def clocks_by_child(self, scope: Scope = None) -> list[dict[str, Any]]:
        """Children, each with their cases and running clocks, the tightest deadline first."""
        groups: dict[str, list[CaseView]] = {}
        for view in self.cases.values():
            if visible(view.area, scope):
                groups.setdefault(view.child, []).append(view)
        out = []
        for child, cases in groups.items():
            running = [v for v in cases if v.clocks]
            if not running:
                continue
            tightest = min(c.deadline for v in running for c in v.clocks)
            out.append(
                {"child": child, "tightest": tightest, "cases": sorted(running, key=lambda v: v.clocks[0].deadline)}
            )
        return sorted(out, key=lambda g: g["tightest"])

    def case(self, key: str, scope: Scope = None) -> dict[str, Any] | None:
        """The case page's data, or None if there is no such case or it is outside ``scope``."""
        view = self.cases.get(key)
        alerts = sorted((a for a in self.alerts.values() if a.case == key), key=urgency)
        if view is None and not alerts:
            return None
        area = view.area if view is not None else alerts[0].area
        if not visible(area, scope):
            return None
        return {"case": view, "alerts": alerts}

    def area_of_case(self, key: str) -> str | None:
        view = self.cases.get(key)
        if view is not None:
            return view.area
        return next((a.area for a in self.alerts.values() if a.case == key), None)


def measures(board: Board) -> list[tuple[str, str, int]]:
    """(measure, key, value) of what is open now, cluster-wide: each measure is its own gauge,
    ``watchkeeper_<measure>`` (worker/metrics.py), the key its one label where it has one."""
    counts: dict[tuple[str, str], int] = {}

    def add(measure: str, key: str) -> None:
        counts[(measure, key)] = counts.get((measure, key), 0) + 1

    for view in board.cases.values():
        for rule in {c.rule_id for c in view.clocks}:
            add("open_clocks", rule)
        if "in_custody" in view.standing:
            add("children_in_custody", view.area or "none")
        if "in_police_protection" in view.standing:
            add("children_in_police_protection", "")
        if "missing_at_high_risk" in view.standing:
            add("high_risk_missing_children", "")
        if "under_investigation" in view.standing:
            add("child_protection_investigations_open", view.area or "none")
    for alert in board.open_alerts():
        add("open_alerts", alert.severity)
    return [(m, k, v) for (m, k), v in sorted(counts.items())]
