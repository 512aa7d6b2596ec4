"""A period's compliance figures, per rule and per suite or area, from a history of events.

The history is replayed with the live engine and policy (agents/replay.py), so a report and
the console can never disagree about what was breached. Figures:

- **alerts by rule and area**: the warnings and breaches whose stage fell in the period and
  that the complete records still justify (a retracted alert is not counted; a warning that
  gave way to its breach is still a warning raised);
- **time to act** (median, 90th percentile, worst, and how many were still waiting when
  the period ended): an appropriate adult's arrival, a health care professional seeing the
  child, a designated officer assigned, the Operation Encompass notice, police protection's
  length, a child's detention;
- **reviews**: PACE reviews done in person, by telephone or video, while the child slept, and
  postponed with a recorded reason;
- **the same for the period before**, for the trend.

Only pseudonymous case references appear (the worst wait's case), and the renderer can leave
even those out.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Final
from zoneinfo import ZoneInfo

import msgspec

from agents.alert import Alert
from agents.engine import CaseState, StoredEvent, area_of
from agents.policy import Policy
from agents.replay import Replay
from alerts.export import Period
from streams.contract import Event

LONDON: Final = ZoneInfo("Europe/London")


def before(period: Period) -> Period:
    """The period just before this one, as long: in London days where it is whole London days
    (a fortnight across the clock change is a fortnight), else in elapsed time."""
    if _london_midnight(period.start) and _london_midnight(period.end):
        days = (period.end.astimezone(LONDON).date() - period.start.astimezone(LONDON).date()).days
        first = period.start.astimezone(LONDON).date() - dt.timedelta(days=days)
        return Period(dt.datetime.combine(first, dt.time(), LONDON).astimezone(dt.UTC), period.start, period.area)
    return Period(period.start - (period.end - period.start), period.start, period.area)


def _london_midnight(t: dt.datetime) -> bool:
    return t.astimezone(LONDON).time() == dt.time()


class Counts(msgspec.Struct, frozen=True):
    warnings: int = 0
    breaches: int = 0


def justified(alerts: Iterable[Alert], period: Period) -> dict[tuple[str, str, str], Counts]:
    """(rule, area, case) -> warnings and breaches whose stage fell in the period and that the
    complete records still justify (a retraction takes one back; a warning that gave way to its
    breach was still raised)."""
    first: dict[str, Alert] = {}
    last: dict[str, str] = {}
    for a in alerts:
        if a.status == "firing":
            first.setdefault(a.alert_id, a)
        last[a.alert_id] = a.status
    out: dict[tuple[str, str, str], Counts] = {}
    for alert_id, a in first.items():
        if last[alert_id] == "retracted" or not period.holds(a.stage_at) or not period.covers(a.area):
            continue
        key = (a.rule_id, a.area or "(no area)", a.case)
        c = out.get(key, Counts())
        out[key] = Counts(c.warnings + (a.stage != "breach"), c.breaches + (a.stage == "breach"))
    return out


def by_rule_and_area(found: dict[tuple[str, str, str], Counts]) -> dict[tuple[str, str], Counts]:
    out: dict[tuple[str, str], Counts] = {}
    for (rule, area, _), c in found.items():
        t = out.get((rule, area), Counts())
        out[(rule, area)] = Counts(t.warnings + c.warnings, t.breaches + c.breaches)
    return out


class RuleFigures(msgspec.Struct, frozen=True):
    rule_id: str
    area: str
    warnings: int
    breaches: int


class Waits(msgspec.Struct, frozen=True):
    """Time from one record to another, for the cases where the first fell in the period."""

    name: str
    rule_id: str
    """The rule that holds this wait to a deadline: the figure links to it."""
    completed: int
    median_s: float | None
    p90_s: float | None
    worst_s: float | None
    worst_case: str | None
    waiting_at_end: int
    """Started in the period and still not done when it ended (not in the distribution)."""


class Reviews(msgspec.Struct, frozen=True):
    in_person: int
    remote: int
    asleep: int
    postponed: int


class Figures(msgspec.Struct, frozen=True):
    start: dt.datetime
    end: dt.datetime
    area: str | None
    rules: tuple[RuleFigures, ...]
    waits: tuple[Waits, ...]
    reviews: Reviews
    high_risk_missing: int
    """High-risk missing episodes reported in the period: the overnight-supervision figure's base."""


class Report(msgspec.Struct, frozen=True):
    now: Figures
    before: Figures


WAITS: Final = (
    ("Appropriate adult to arrive", "custody.appropriate_adult.arrival",
     "custody.appropriate_adult.requested", "custody.appropriate_adult.arrived"),
    ("Health care professional to see the child", "custody.healthcare.seen",
     "custody.healthcare.requested", "custody.healthcare.seen"),
    ("Designated officer to be assigned", "protection.designated_officer.assignment",
     "protection.police_protection.initiated", "protection.designated_officer.assigned"),
    ("Operation Encompass notice", "incident.operation_encompass",
     "incident.created", "incident.operation_encompass.sent"),
    ("Police protection's length", "protection.police_protection.limit",
     "protection.police_protection.initiated", "protection.police_protection.ended"),
    ("A child's detention", "custody.detention.limit", "custody.detention.authorised", "custody.released"),
)  # fmt: skip
"""(name, rule, from, to): each time-to-act figure, and the rule that holds it to a deadline."""


def history(events: Iterable[Event], policy: Policy, until: dt.datetime) -> tuple[list[Alert], dict[str, CaseState]]:
    """Every alert message the live monitor would have said up to ``until``, and each case's
    state then: the events in the order they were entered, ticking at each due time."""
    run = Replay(policy)
    alerts: list[Alert] = []
    for event in sorted(events, key=lambda e: e.recordedtime):
        if event.recordedtime >= until:
            break
        alerts += run.feed(event, event.recordedtime)
    alerts += run.advance(until)
    return alerts, run.every_case()


def report(events: Iterable[Event], policy: Policy, period: Period) -> Report:
    alerts, cases = history(events, policy, period.end)
    return Report(figures(alerts, cases, period), figures(alerts, cases, before(period)))


def figures(alerts: list[Alert], cases: dict[str, CaseState], period: Period) -> Figures:
    return Figures(
        period.start,
        period.end,
        period.area,
        _rules(alerts, period),
        tuple(_waits(cases, period, *spec) for spec in WAITS),
        _reviews(cases, period),
        _high_risk_missing(cases, period),
    )


def _rules(alerts: list[Alert], period: Period) -> tuple[RuleFigures, ...]:
    totals = by_rule_and_area(justified(alerts, period))
    return tuple(RuleFigures(rule, area, c.warnings, c.breaches) for (rule, area), c in sorted(totals.items()))


def _in_scope(state: CaseState, period: Period) -> bool:
    return period.covers(area_of(state.facts))


def _waits(cases: dict[str, CaseState], period: Period, name: str, rule_id: str, begin: str, done: str) -> Waits:
    taken: list[tuple[float, str]] = []
    waiting = 0
    for state in cases.values():
        if not _in_scope(state, period):
            continue
        for start in (e for e in state.events if e.type == begin and period.holds(_started(e))):
            end = next((e for e in state.events if e.type == done and e.time >= start.time), None)
            if end is None or end.time >= period.end:
                waiting += 1
            else:
                taken.append(((end.time - _started(start)).total_seconds(), state.case))
    seconds = sorted(s for s, _ in taken)
    worst = max(taken, default=None)
    return Waits(
        name,
        rule_id,
        len(seconds),
        _median(seconds),
        _percentile(seconds, 0.9),
        worst[0] if worst else None,
        worst[1] if worst else None,
        waiting,
    )


def _started(event: StoredEvent) -> dt.datetime:
    """A detention runs from its relevant time (PACE s.41(2)); everything else from the record."""
    relevant = event.data.get("relevant_time")
    return dt.datetime.fromisoformat(relevant) if isinstance(relevant, str) else event.time


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def _percentile(values: list[float], share: float) -> float | None:
    """Nearest rank: the smallest value at or above ``share`` of them."""
    return values[max(0, math.ceil(share * len(values)) - 1)] if values else None


def _reviews(cases: dict[str, CaseState], period: Period) -> Reviews:
    in_person = remote = asleep = postponed = 0
    for state in cases.values():
        if not _in_scope(state, period):
            continue
        for e in state.events:
            if not period.holds(e.time):
                continue
            if e.type == "custody.detention_review.postponed":
                postponed += 1
            elif e.type == "custody.detention_review.completed":
                in_person += e.data.get("mode") == "in_person"
                remote += e.data.get("mode") in ("telephone", "video")
                asleep += e.data.get("detainee_awake") is False
    return Reviews(in_person, remote, asleep, postponed)


def _high_risk_missing(cases: dict[str, CaseState], period: Period) -> int:
    count = 0
    for state in cases.values():
        reported = next((e for e in state.events if e.type == "missing.child.reported"), None)
        if reported is None or not period.holds(reported.time) or not _in_scope(state, period):
            continue
        risks = [
            e.data.get("risk_level")
            for e in state.events
            if e.type.startswith(("missing.risk", "missing.child.reported"))
        ]
        count += "high" in risks
    return count
