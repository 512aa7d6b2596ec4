"""The console's read model: what the board, the clocks view and the case view show. Pure.

Built from the same records the agents keep in their tables (case states and alert
records), as read from the tables' changelogs: ``Board.apply_case`` and ``Board.apply_alert``
take a key and the stored bytes (None for a deletion) and return what changed, so the
web layer can push it to browsers. Only pseudonymous references, areas, rule texts and
times appear: a case state holds no more, by contract.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import msgspec

from agents.engine import CaseState, event_detail
from agents.policy import Policy
from agents.stored_case import decode_case, payload
from alerts.lifecycle import CLOSED, RECORD_DECODER, AlertRecord
from streams.contract import event_label

SEVERITY_RANK: Final = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


class ClockView(msgspec.Struct, frozen=True):
    rule_id: str
    title: str
    status: str
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
    high_risk_missing: bool = False


class Transition(msgspec.Struct, frozen=True):
    state: str
    at: dt.datetime
    by: str
    reason: str


class AlertView(msgspec.Struct, frozen=True):
    alert_id: str
    rule_id: str
    rule_title: str
    case: str
    domain: str
    area: str | None
    stage: str
    severity: str
    state: str
    deadline: dt.datetime
    raised_at: dt.datetime
    action: str
    legal_basis: str
    explanation: str
    acked_by: str | None
    history: tuple[Transition, ...]
    reason: str = ""
    """The engine's latest word on it: what happened, how overdue, or how it ended."""
    grade: str = ""
    immediate: bool = False
    """A record that breaks the rule by itself: no deadline to count down to."""


def case_view(state: CaseState, policy: Policy) -> CaseView:
    clocks = []
    rules: dict[str, dict[str, str]] = {}
    for clock in state.clocks.values():
        rule = policy.rule(clock.rule_id)
        if clock.status not in ("running", "paused") or rule is None:
            continue
        pending = [s for s in clock.current.stages if not s.fired]
        clocks.append(
            ClockView(
                rule.id,
                rule.title,
                clock.status,
                clock.anchor,
                clock.current.due,
                pending[0].name if pending else None,
                pending[0].at if pending else None,
                rule.legal_basis,
                rule.is_local_standard,
            )
        )
        rules[rule.id] = {"title": rule.title, "explanation": rule.explanation, "legal_basis": rule.legal_basis}
    clocks.sort(key=lambda c: c.deadline)
    area = next((str(state.facts[k]) for k in ("custody_suite", "area") if isinstance(state.facts.get(k), str)), None)
    child = state.facts.get("child_ref")
    timeline = tuple(
        TimelineView(e.type, e.time, e.recordedtime, e.late, event_label(e.type), event_detail(e)) for e in state.events
    )
    missing = state.facts.get("risk_level") == "high" and any(e.type == "missing.child.reported" for e in state.events)
    found = any(e.type == "missing.child.found" for e in state.events)
    who = str(child) if child else state.case
    return CaseView(state.case, who, state.domain, area, tuple(clocks), timeline, rules, missing and not found)


def alert_view(record: AlertRecord) -> AlertView:
    a = record.alert
    history = tuple(Transition(t.state, t.at, t.by, t.reason) for t in record.history)
    return AlertView(
        a.alert_id, a.rule_id, a.rule_title, a.case, a.domain, a.area, a.stage, a.severity, record.state,
        a.deadline, a.raised_at, a.action, a.legal_basis, a.explanation, record.acked_by, history,
        a.reason, a.grade, a.target == "immediate",
    )  # fmt: skip


def urgency(alert: AlertView) -> tuple[Any, ...]:
    """Open before closed, breaches before warnings, then the most severe, then the earliest deadline."""
    return (alert.state in CLOSED, alert.stage != "breach", SEVERITY_RANK.get(alert.severity, 9), alert.deadline)


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

    def apply_delivery(self, raw: bytes | None, key: str, queued_at: dt.datetime) -> bool:
        """A pending job recorded (``raw``) or finished (a tombstone); True if the board changed."""
        if raw is None:
            return self.deliveries.pop(key, None) is not None
        job = msgspec.json.decode(raw)
        if not isinstance(job, dict) or not isinstance(job.get("alert"), dict):
            return False
        first = self.deliveries.get(key, (None, None, queued_at))[2]
        self.deliveries[key] = (str(job.get("receiver")), str(job["alert"].get("case")), first)
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

    def apply_case(self, raw: bytes | None, key: str) -> CaseView | str | None:
        """The new view of the case, its key if it left the board, or None if nothing changed."""
        view = case_view(decode_case(raw), self.policy) if raw is not None else None
        alerted = any(a.case == key for a in self.alerts.values())
        if view is None or (not view.clocks and not alerted):
            return key if self.cases.pop(key, None) is not None else None
        if self.cases.get(key) == view:
            return None
        self.cases[key] = view
        return view

    def apply_alert(self, raw: bytes | None, key: str) -> AlertView | None:
        if raw is None:
            return None
        view = alert_view(RECORD_DECODER.decode(payload(raw)))
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
            cases = [v for v in cases if v.clocks]
            if not cases:
                continue
            tightest = min(c.deadline for v in cases for c in v.clocks)
            out.append(
                {"child": child, "tightest": tightest, "cases": sorted(cases, key=lambda v: v.clocks[0].deadline)}
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
        rules = {c.rule_id for c in view.clocks}
        for rule in rules:
            add("open_clocks", rule)
        if "custody.detention.limit" in rules:
            add("children_in_custody", view.area or "none")
        if "protection.police_protection.limit" in rules:
            add("police_protection_active", "all")
        if view.high_risk_missing:
            add("high_risk_missing_open", "all")
    for alert in board.open_alerts():
        add("open_alerts", alert.severity)
    return [(m, k, v) for (m, k), v in sorted(counts.items())]
