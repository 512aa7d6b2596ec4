"""What a custody manager measures, read off a case as each event is applied, and where each
child stands now. Pure.

``measure(state, event_id, event_type)`` returns the observations one event completes: an
appropriate adult's arrival completes an AA wait, a release completes a detention, and so
on. The shell feeds them to Prometheus histograms and counters (worker/metrics.py). Each
event is applied once per case (repeated ids are dropped first), so each wait is counted
once. Observations carry no case reference: only durations and bounded labels.

``standing(state)`` says whether a case's child is in custody, in police protection, missing
at high risk or the subject of an open child protection investigation now: what the board's
gauges count, cluster-wide.
"""

from __future__ import annotations

import datetime as dt
from typing import Final, Literal, NamedTuple

from agents.engine import CaseState, StoredEvent

Measure = Literal["aa_wait", "hcp_wait", "child_detention", "child_review", "review_postponed", "police_protection"]


class Observation(NamedTuple):
    measure: Measure
    seconds: float | None
    labels: tuple[str, ...] = ()


ENDS: Final[dict[str, tuple[Measure, str]]] = {
    "custody.appropriate_adult.arrived": ("aa_wait", "custody.appropriate_adult.requested"),
    "custody.healthcare.seen": ("hcp_wait", "custody.healthcare.requested"),
    "protection.police_protection.ended": ("police_protection", "protection.police_protection.initiated"),
}


def _last_before(state: CaseState, event_type: str, until: dt.datetime) -> StoredEvent | None:
    found = [e for e in state.events if e.type == event_type and e.time <= until]
    return found[-1] if found else None


MEASURED: Final = frozenset(
    {*ENDS, "custody.released", "custody.detention_review.completed", "custody.detention_review.postponed"}
)


def measure(state: CaseState, event_id: str, event_type: str) -> list[Observation]:
    if event_type not in MEASURED:  # most events complete nothing: no scan of the case's events
        return []
    event = next((e for e in state.events if e.id == event_id), None)
    if event is None:
        return []
    child = isinstance(state.facts.get("age_years"), int) and state.facts["age_years"] < 18
    if event.type in ENDS:
        name, start_type = ENDS[event.type]
        start = _last_before(state, start_type, event.time)
        if start is None or (name != "police_protection" and not child):
            return []
        return [Observation(name, (event.time - start.time).total_seconds())]
    if event.type == "custody.released" and child:
        detained = _last_before(state, "custody.detention.authorised", event.time)
        if detained is None:
            return []
        relevant = detained.data.get("relevant_time")
        began = dt.datetime.fromisoformat(relevant) if isinstance(relevant, str) else detained.time
        return [Observation("child_detention", (event.time - began).total_seconds())]
    if event.type == "custody.detention_review.postponed":
        # A lawful postponement (PACE s.40(4)) with its recorded reason, counted apart from
        # reviews missed: the inspector must be able to tell the two apart.
        return [Observation("review_postponed", None, (str(event.data.get("reason")),))]
    if event.type == "custody.detention_review.completed" and child:
        mode, awake = str(event.data.get("mode")), "awake" if event.data.get("detainee_awake") else "asleep"
        return [Observation("child_review", None, (mode, awake))]
    return []


# ----------------------------------------------------------------------------- what is open now
Standing = Literal["in_custody", "in_police_protection", "missing_at_high_risk", "under_investigation"]
"""Where a child stands now, as the custody managers' board counts it."""
CUSTODY_LIMIT: Final = "custody.detention.limit"
"""A child is in custody while this clock runs (from the relevant time to release or transfer)."""
PROTECTION_LIMIT: Final = "protection.police_protection.limit"
"""A child is in police protection while this clock runs (the 72 hours of CA 1989 s.46(6))."""


def standing(state: CaseState) -> tuple[Standing, ...]:
    running = {clock.rule_id for clock in state.clocks.values() if clock.live}
    out: list[Standing] = []
    if CUSTODY_LIMIT in running:
        out.append("in_custody")
    if PROTECTION_LIMIT in running:
        out.append("in_police_protection")
    types = {e.type for e in state.events}
    if (
        state.facts.get("risk_level") == "high"
        and "missing.child.reported" in types
        and "missing.child.found" not in types
    ):
        out.append("missing_at_high_risk")
    if "investigation.crime.recorded" in types and "investigation.closed" not in types:
        out.append("under_investigation")  # an open child protection investigation
    return tuple(out)
