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
                rule.title,
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
    timeline = tuple(
        TimelineView(e.type, e.time, e.recordedtime, e.late, event_label(e.type), event_detail(e)) for e in state.events
    )
    area = area_of(state.facts)
    return CaseView(state.case, child_of(state), state.domain, area, tuple(clocks), timeline, rules, standing(state))


def alert_view(record: AlertRecord) -> AlertView:
    a = record.alert
    return AlertView(
        a.alert_id, a.rule_id, a.rule_title, a.case, a.domain, a.area, a.stage, a.severity, record.state,
        a.deadline, a.raised_at, a.action, a.legal_basis, a.explanation, record.acked_by, tuple(record.history),
        a.reason, a.grade, a.target == "immediate", record.historical, record.held_by, record.held_until,
    )  # fmt: skip


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
        self.deliveries: dict[str, tuple[str, str, dt.datetime]] = {}
        """webhook-id -> (receiver, case, when the job was queued), while it is pending."""

    def apply_delivery(self, key: str, job: Job | None, queued_at: dt.datetime) -> bool:
        """A pending job recorded, or finished (``None``: its entry was deleted); True if the board changed."""
        if job is None:
            return self.deliveries.pop(key, None) is not None
        first = self.deliveries.get(key, (None, None, queued_at))[2]
        self.deliveries[key] = (job.receiver, job.alert.case, first)
        return True

    def failing_deliveries(self, now: dt.datetime) -> list[DeliveryView]:
        """Receivers with pages pending longer than ``slow_delivery``, the longest-waiting first."""
        slow: dict[str, list[tuple[dt.datetime, str]]] = {}
        for receiver, case, queued in self.deliveries.values():
            if now - queued >= self.slow_delivery:
                slow.setdefault(receiver, []).append((queued, case))
        views = [
            DeliveryView(receiver, len(jobs), min(q for q, _ in jobs), tuple(sorted({c for _, c in jobs})[:20]))
            for receiver, jobs in slow.items()
        ]
        return sorted(views, key=lambda v: v.oldest)

    def apply_case(self, key: str, state: CaseState | None) -> CaseView | str | None:
        """The new view of the case, its key if it left the board, or None if nothing changed."""
        view = case_view(state, self.policy) if state is not None else None
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
        view = alert_view(record)
        if self.alerts.get(key) == view:
            return None
        self.alerts[key] = view
        return view

    def open_alerts(
        self, domain: str | None = None, area: str | None = None, severity: str | None = None
    ) -> list[AlertView]:
        chosen = [
            a
            for a in self.alerts.values()
            if a.state not in CLOSED
            and (domain is None or a.domain == domain)
            and (area is None or a.area == area)
            and (severity is None or a.severity == severity)
        ]
        return sorted(chosen, key=urgency)

    def clocks_by_child(self) -> list[dict[str, Any]]:
        """Children, each with their cases and running clocks, the tightest deadline first."""
        groups: dict[str, list[CaseView]] = {}
        for view in self.cases.values():
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

    def case(self, key: str) -> dict[str, Any] | None:
        view = self.cases.get(key)
        alerts = sorted((a for a in self.alerts.values() if a.case == key), key=urgency)
        if view is None and not alerts:
            return None
        return {"case": view, "alerts": alerts}


def measures(board: Board) -> list[tuple[str, str, int]]:
    """(measure, key, value) for the ``watchkeeper_board`` gauge: what is open now, cluster-wide."""
    counts: dict[tuple[str, str], int] = {}

    def add(measure: str, key: str) -> None:
        counts[(measure, key)] = counts.get((measure, key), 0) + 1

    for view in board.cases.values():
        for rule in {c.rule_id for c in view.clocks}:
            add("open_clocks", rule)
        if "in_custody" in view.standing:
            add("children_in_custody", view.area or "none")
        if "in_police_protection" in view.standing:
            add("police_protection_active", "all")
        if "missing_at_high_risk" in view.standing:
            add("high_risk_missing_open", "all")
        if "under_investigation" in view.standing:
            add("child_protection_investigations_open", view.area or "none")
    for alert in board.open_alerts():
        add("open_alerts", alert.severity)
    return [(m, k, v) for (m, k), v in sorted(counts.items())]
