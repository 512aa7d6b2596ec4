"""A simulated force: realistic input events for every domain, in the contract, for a period.

``watchkeeper simulate`` writes them as JSON Lines; the reports' tests, the demo's month of
history and the benchmarks read them. What happens to children follows a profile
(streams/profiles/*.yaml: volumes per day, how often each duty is met late or not at all);
how records arrive follows it too (a share entered late, so some arrive out of order). The
same profile, seed and start give the same events, byte for byte.

Pure: no clock reads (the start is a parameter), no I/O but reading a profile file.
Pseudonymous references only, as the contract requires: no names, no dates of birth.
"""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import msgspec
import yaml

PROFILES: Final = Path(__file__).with_name("profiles")
LONDON: Final = ZoneInfo("Europe/London")
NAMESPACE: Final = uuid.UUID("5d0c4a52-9c1e-4d1f-8f63-2f7a0b6c9e21")
M: Final = dt.timedelta(minutes=1)
H: Final = dt.timedelta(hours=1)


class ProfileError(ValueError):
    """A profile that cannot be used; the message names the file and the field."""


class Spread(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A long-tailed duration: log-normal with this median and 90th percentile, cut at max."""

    median: float
    p90: float
    max: float


class PerDay(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    child_detentions: float
    police_protections: float
    missing_reports: float
    domestic_abuse_with_children: float
    child_protection_investigations: float


class Custody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    arrest_hours: list[float]
    age_years: tuple[int, int]
    aa_request_late_rate: float
    aa_wait_minutes: Spread
    aa_never_arrives_rate: float
    healthcare_requested_rate: float
    healthcare_wait_minutes: Spread
    healthcare_every_child_rate: float
    welfare_person_told_late_rate: float
    csc_notified_late_rate: float
    detention_hours: Spread
    review_late_rate: float
    review_postponed_rate: float
    review_by_telephone_rate: float
    review_while_asleep_rate: float
    charged_rate: float
    bail_refused_rate: float
    transferred_rate: float


class Incidents(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    emergency_rate: float
    emergency_attendance_minutes: Spread
    priority_attendance_minutes: Spread
    thrive_late_rate: float
    ppn_missing_rate: float
    encompass_late_rate: float
    children_linked_not_present_rate: float


class Missing(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    high_risk_rate: float
    medium_risk_rate: float
    repeat_child_rate: float
    found_hours: Spread
    supervisor_late_rate: float
    deployment_late_rate: float
    return_interview_missed_rate: float
    prevention_interview_missed_rate: float


class Protection(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    designated_officer_missing_rate: float
    police_station_placement_rate: float
    duration_hours: Spread
    parents_told_late_rate: float


class Investigations(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    significant_harm_rate: float
    immediate_risk_rate: float
    strategy_late_rate: float
    plan_late_rate: float
    supervision_gap_rate: float
    non_specialist_rate: float
    closed_rate: float


class Recording(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    late_entry_rate: float
    late_entry_minutes: Spread


class Profile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    force: str
    suites: list[str]
    areas: list[str]
    per_day: PerDay
    custody: Custody
    incidents: Incidents
    missing: Missing
    protection: Protection
    investigations: Investigations
    recording: Recording
    based_on: str | None = None


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _raw(name_or_path: str) -> tuple[dict[str, Any], Path]:
    path = Path(name_or_path) if name_or_path.endswith((".yaml", ".yml")) else PROFILES / f"{name_or_path}.yaml"
    try:
        with path.open(encoding="utf-8") as stream:
            raw = yaml.safe_load(stream) or {}
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ProfileError(f"{path}: a profile is a mapping of fields")
    if isinstance(raw.get("based_on"), str):
        base, _ = _raw(raw["based_on"])
        raw = _merge(base, raw)
    return raw, path


def load_profile(name_or_path: str) -> Profile:
    """A shipped profile by name (small, medium, large) or a force's own file."""
    raw, path = _raw(name_or_path)
    try:
        profile = msgspec.convert(raw, Profile)
    except msgspec.ValidationError as exc:
        raise ProfileError(f"{path}: {exc}") from None
    if len(profile.custody.arrest_hours) != 24 or not profile.suites or not profile.areas:
        raise ProfileError(f"{path}: field 'custody.arrest_hours' needs 24 weights, and suites and areas one each")
    return profile


# ----------------------------------------------------------------------------- sampling
@dataclass
class _Draw:
    """Every random choice, from one seeded generator: the same seed, the same force."""

    rng: random.Random

    def chance(self, rate: float) -> bool:
        return self.rng.random() < rate

    def count(self, mean: float) -> int:
        """Poisson: how many of a thing happen in a day."""
        limit, k, p = math.exp(-mean), 0, self.rng.random()
        while p > limit:
            k += 1
            p *= self.rng.random()
        return k

    def spread(self, s: Spread) -> float:
        sigma = math.log(s.p90 / s.median) / 1.2816 if s.p90 > s.median else 0.0
        return min(s.max, s.median * math.exp(sigma * self.rng.gauss(0.0, 1.0)))

    def minutes(self, low: float, high: float) -> dt.timedelta:
        return dt.timedelta(minutes=self.rng.uniform(low, high))

    def pick(self, items: list[str]) -> str:
        return items[self.rng.randrange(len(items))]


@dataclass
class _Case:
    """One case's records: (when it happened, its type, its data)."""

    subject: str
    records: list[tuple[dt.datetime, str, dict[str, Any]]] = field(default_factory=list)

    def add(self, at: dt.datetime, event_type: str, data: dict[str, Any] | None = None) -> None:
        self.records.append((at, event_type, data or {}))


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat()


# ----------------------------------------------------------------------------- custody
def _custody(p: Profile, d: _Draw, case: _Case, start: dt.datetime) -> None:
    c = p.custody
    t0 = start
    age = d.rng.randint(*c.age_years)
    suite = d.pick(p.suites)
    case.add(t0, "custody.detention.authorised", {"relevant_time": _iso(t0), "age_years": age, "custody_suite": suite})
    stay = H * d.spread(c.detention_hours)
    released = t0 + stay
    requested = t0 + (d.minutes(40, 240) if d.chance(c.aa_request_late_rate) else d.minutes(2, 25))
    if requested < released:
        case.add(requested, "custody.appropriate_adult.requested")
        arrives = requested + M * d.spread(c.aa_wait_minutes)
        if not d.chance(c.aa_never_arrives_rate):
            case.add(arrives, "custody.appropriate_adult.arrived")
            released = max(released, arrives + d.minutes(45, 180))  # kept until interviewed with the AA
    if d.chance(c.healthcare_requested_rate):
        asked = t0 + d.minutes(5, 60)
        case.add(asked, "custody.healthcare.requested")
        seen = asked + M * d.spread(c.healthcare_wait_minutes)
        if seen < released:
            case.add(seen, "custody.healthcare.seen", {"professional": "nurse"})
    else:  # every child seen by a health care professional, asked for or not: most within hours
        seen = t0 + (d.minutes(30, 220) if d.chance(c.healthcare_every_child_rate) else d.minutes(260, 720))
        if seen < released:
            case.add(seen, "custody.healthcare.seen", {"professional": "nurse"})
    told = t0 + (d.minutes(70, 480) if d.chance(c.welfare_person_told_late_rate) else d.minutes(5, 50))
    case.add(min(told, released - M), "custody.welfare_person.informed", {"who": "parent"})
    notified = t0 + (d.minutes(130, 600) if d.chance(c.csc_notified_late_rate) else d.minutes(10, 100))
    if notified < released:
        case.add(notified, "custody.childrens_social_care.notified")
    _reviews(c, d, case, t0, released)
    _release(c, d, case, released, age)


def _reviews(c: Custody, d: _Draw, case: _Case, t0: dt.datetime, released: dt.datetime) -> None:
    """PACE reviews: the first by 6 hours, then at most 9 hours apart; some late, postponed,
    by telephone or while the child slept, as the profile says."""
    due = t0 + 6 * H
    while due < released:
        if d.chance(c.review_postponed_rate):
            case.add(
                due - d.minutes(5, 30), "custody.detention_review.postponed", {"reason": "detainee_being_questioned"}
            )
            done = due + d.minutes(20, 90)
        else:
            done = due + d.minutes(10, 120) if d.chance(c.review_late_rate) else due - d.minutes(10, 60)
        if done >= released:
            break
        telephone = d.chance(c.review_by_telephone_rate)
        asleep = d.chance(c.review_while_asleep_rate)
        review = {
            "mode": "telephone" if telephone else "in_person",
            "detainee_awake": not asleep,
            "detainee_spoken_to": not asleep,
            "reviewer_rank": "inspector",
            "live_link_available": False if telephone else None,
        }
        case.add(done, "custody.detention_review.completed", review)
        due = (done if done <= due else due) + 9 * H  # an early review brings the next forward; a late one does not


def _release(c: Custody, d: _Draw, case: _Case, released: dt.datetime, age: int) -> None:
    if not d.chance(c.charged_rate):
        case.add(released, "custody.released", {"outcome": d.pick(["no_further_action", "bail", "other"])})
        return
    charged = released - d.minutes(10, 40)
    refused = d.chance(c.bail_refused_rate)
    sitting = (charged + 24 * H).replace(hour=10, minute=0, second=0, microsecond=0)
    bail = "refused" if refused else "granted"
    charge = {"bail": bail, "appropriate_adult_present": True, "first_sitting_at": _iso(sitting)}
    case.add(charged, "custody.charged", charge)
    if not refused:
        case.add(released, "custody.released", {"outcome": "charged_bailed"})
        return
    case.add(charged + d.minutes(10, 60), "custody.local_authority_accommodation.requested", {"secure": age >= 12})
    if d.chance(c.transferred_rate):
        moved = charged + d.minutes(90, 400)
        case.add(moved, "custody.local_authority_accommodation.transfer_completed")
        case.add(moved, "custody.released", {"outcome": "transferred"})
    else:
        case.add(charged + d.minutes(60, 180), "custody.impracticability_certificate.issued",
                 {"reason": "no_accommodation_offered"})  # fmt: skip
        court = sitting + d.minutes(0, 120)
        case.add(court, "custody.court.appeared", {"certificate_produced": d.chance(0.8)})
        case.add(court, "custody.released", {"outcome": "to_court"})


# ----------------------------------------------------------------------------- protection
def _protection(p: Profile, d: _Draw, case: _Case, t0: dt.datetime) -> None:
    r = p.protection
    station = d.chance(r.police_station_placement_rate)
    placement = "police_station" if station else "local_authority_accommodation"
    initiated = {"age_years": d.rng.randint(0, 17), "initiating_officer_ref": f"PC-{d.rng.randint(1000, 9999)}",
                 "placement": placement, "area": d.pick(p.areas)}  # fmt: skip
    case.add(t0, "protection.police_protection.initiated", initiated)
    ends = t0 + H * d.spread(r.duration_hours)
    if not d.chance(r.designated_officer_missing_rate):
        officer = f"INSP-{d.rng.randint(100, 999)}"
        case.add(
            t0 + d.minutes(5, 50),
            "protection.designated_officer.assigned",
            {"officer_ref": officer, "rank": "inspector"},
        )
        review = t0 + d.minutes(150, 235)  # the first review within 4 hours, then every 12
        while review < ends:
            case.add(
                review,
                "protection.designated_officer.review_completed",
                {"officer_ref": officer, "decision": "continue"},
            )
            review += d.minutes(600, 715)
    case.add(t0 + d.minutes(10, 55), "protection.local_authority.informed")
    told = t0 + (d.minutes(240, 600) if d.chance(r.parents_told_late_rate) else d.minutes(20, 120))
    case.add(min(told, ends - M), "protection.parents.informed", {"method": "telephone", "who": ["parents"]})
    case.add(t0 + d.minutes(10, 60), "protection.child.informed")
    case.add(t0 + d.minutes(20, 120), "protection.wishes_and_feelings.recorded")
    if station:
        case.add(t0 + d.minutes(60, 300), "protection.child.moved", {"placement": "local_authority_accommodation"})
    case.add(t0 + d.minutes(120, 900), "protection.strategy_discussion.held")
    if ends - t0 > 48 * H:
        case.add(ends - d.minutes(60, 600), "protection.emergency_protection_order.applied")
    case.add(ends, "protection.police_protection.ended", {"reason": "returned_to_family"})


# ----------------------------------------------------------------------------- missing
def _missing(p: Profile, d: _Draw, case: _Case, t0: dt.datetime, child: str, age: int) -> None:
    m = p.missing
    roll = d.rng.random()
    risk = "high" if roll < m.high_risk_rate else "medium" if roll < m.high_risk_rate + m.medium_risk_rate else "low"
    area = d.pick(p.areas)
    case.add(t0, "missing.child.reported", {"child_ref": child, "looked_after": d.chance(0.4), "age_years": age,
                                            "area": area})  # fmt: skip
    assessed = t0 + d.minutes(5, 50)
    found = t0 + H * d.spread(m.found_hours)
    review = assessed + (2 * H if risk == "high" else 8 * H)
    case.add(assessed, "missing.risk.assessed", {"risk_level": risk, "next_review_at": _iso(review)})
    if risk == "high":
        deployed = assessed + (d.minutes(35, 120) if d.chance(m.deployment_late_rate) else d.minutes(5, 25))
        case.add(min(deployed, found), "incident.resource.deployed", {"resource_ref": f"UNIT-{d.rng.randint(1, 99)}"})
        supervisor = assessed + (d.minutes(90, 540) if d.chance(m.supervisor_late_rate) else d.minutes(10, 50))
        if supervisor < found:
            case.add(supervisor, "missing.supervisor.assigned", {"officer_ref": f"DS-{d.rng.randint(100, 999)}"})
    while review < found:
        nxt = review + (2 * H if risk == "high" else 8 * H)
        case.add(
            review - d.minutes(1, 20), "missing.risk.reassessed", {"risk_level": risk, "next_review_at": _iso(nxt)}
        )
        review = nxt
    case.add(found, "missing.child.found", {"outcome": "returned"})
    case.add(found + d.minutes(10, 90), "missing.child.returned", {"setting": "home"})
    if not d.chance(m.prevention_interview_missed_rate):
        case.add(found + d.minutes(60, 600), "missing.prevention_interview.completed")
    case.add(found + d.minutes(30, 600), "missing.local_authority.notified")
    if not d.chance(m.return_interview_missed_rate):
        case.add(found + d.minutes(600, 3600), "missing.return_interview.offered")


# ----------------------------------------------------------------------------- domestic abuse
def _domestic_abuse(p: Profile, d: _Draw, case: _Case, t0: dt.datetime) -> None:
    i = p.incidents
    present = 0 if d.chance(i.children_linked_not_present_rate) else d.rng.randint(1, 3)
    linked = present + d.rng.randint(1 if present == 0 else 0, 2)
    emergency = d.chance(i.emergency_rate)
    grade = "emergency" if emergency else "priority"
    case.add(t0, "incident.created", {"incident_type": "domestic_abuse", "grade": grade, "children_present": present,
                                      "area": d.pick(p.areas), "children_linked": linked})  # fmt: skip
    call_ends = t0 + d.minutes(4, 15)
    thrive = call_ends + d.minutes(5, 60) if d.chance(i.thrive_late_rate) else call_ends - d.minutes(1, 3)
    risk = d.pick(["medium", "high"])
    case.add(thrive, "incident.thrive.recorded", {"risk_level": risk})
    case.add(call_ends, "incident.call.ended")
    unit = f"UNIT-{d.rng.randint(1, 99)}"
    deployed = t0 + d.minutes(2, 8)
    case.add(deployed, "incident.resource.deployed", {"resource_ref": unit})
    arrived = t0 + M * d.spread(i.emergency_attendance_minutes if emergency else i.priority_attendance_minutes)
    case.add(max(arrived, deployed + M), "incident.resource.arrived", {"resource_ref": unit})
    closed = arrived + d.minutes(120, 480)
    reassessed = thrive + d.minutes(180, 235)  # re-THRIVE at most 4 hours apart while it is open
    while reassessed < closed:
        if not d.chance(i.thrive_late_rate):
            case.add(reassessed, "incident.thrive.reassessed", {"risk_level": risk})
        reassessed += d.minutes(180, 235)
    ppn = f"PPN-{d.rng.randint(10000, 99999)}"
    if not d.chance(i.ppn_missing_rate):
        case.add(arrived + d.minutes(30, 100), "incident.public_protection_notice.submitted", {"ppn_ref": ppn})
        case.add(arrived + d.minutes(105, 300), "incident.public_protection_notice.authorised", {"ppn_ref": ppn})
        case.add(arrived + d.minutes(305, 1200), "incident.public_protection_notice.shared", {"ppn_ref": ppn})
    school = _school_morning(t0)
    sent = school + d.minutes(20, 240) if d.chance(i.encompass_late_rate) else school - d.minutes(10, 60)
    case.add(max(sent, t0 + d.minutes(20, 40)), "incident.operation_encompass.sent")
    case.add(closed, "incident.closed")


def _school_morning(t: dt.datetime) -> dt.datetime:
    """08:30 London time on the first weekday after ``t``: when the Encompass notice is due
    (school holidays are the policy calendar's business; a notice sent by then is in time)."""
    day = t.astimezone(LONDON).date()
    while True:
        morning = dt.datetime.combine(day, dt.time(8, 30), LONDON).astimezone(dt.UTC)
        if morning > t and day.weekday() < 5:
            return morning
        day += dt.timedelta(days=1)


# ----------------------------------------------------------------------------- investigations
def _investigation(p: Profile, d: _Draw, case: _Case, t0: dt.datetime, child: str) -> None:
    v = p.investigations
    harm = d.chance(v.significant_harm_rate)
    immediate = harm and d.chance(v.immediate_risk_rate)
    crime = d.pick(
        ["neglect", "physical_abuse", "child_sexual_abuse", "emotional_abuse", "child_criminal_exploitation"]
    )
    case.add(t0, "investigation.crime.recorded", {"crime_type": crime, "child_role": "victim",
                                                  "significant_harm_suspected": harm, "immediate_risk": immediate,
                                                  "child_ref": child, "area": d.pick(p.areas)})  # fmt: skip
    specialist = "response" if d.chance(v.non_specialist_rate) else "child_abuse_investigation"
    allocated = t0 + d.minutes(30, 600)
    case.add(allocated, "investigation.allocated", {"team_ref": "CAIT-1", "specialism": specialist})
    if harm:
        case.add(t0 + d.minutes(10, 60), "investigation.strategy_discussion.requested")
        held = t0 + (d.minutes(1500, 3000) if d.chance(v.strategy_late_rate) else d.minutes(60, 900))
        case.add(held, "investigation.strategy_discussion.held", {"section_47_decision": "section_47_enquiries"})
    plan = allocated + (d.minutes(4400, 7000) if d.chance(v.plan_late_rate) else d.minutes(120, 2800))
    case.add(plan, "investigation.plan.recorded")
    case.add(t0 + d.minutes(60, 2000), "investigation.victim_needs_assessment.completed")
    gap = d.chance(v.supervision_gap_rate)
    review = allocated + dt.timedelta(days=d.rng.uniform(8, 12) if gap else d.rng.uniform(2, 6))
    first = review
    for _ in range(4):  # then every two weeks at most, while it runs
        case.add(review, "investigation.supervisory_review.completed", {"supervisor_rank": "sergeant"})
        review += dt.timedelta(days=d.rng.uniform(15, 20) if gap else d.rng.uniform(9, 13))
    case.add(t0 + d.minutes(200, 4000), "investigation.voice_of_the_child.recorded")
    case.add(t0 + d.minutes(30, 600), "investigation.ethnicity.recorded")
    ppn = f"PPN-{d.rng.randint(10000, 99999)}"
    case.add(t0 + d.minutes(60, 600), "investigation.public_protection_notice.submitted", {"ppn_ref": ppn})
    case.add(t0 + d.minutes(620, 1400), "investigation.public_protection_notice.authorised", {"ppn_ref": ppn})
    case.add(t0 + d.minutes(1420, 2800), "investigation.public_protection_notice.shared", {"ppn_ref": ppn})
    if d.chance(v.closed_rate):
        case.add(max(first, t0 + 2 * dt.timedelta(days=2)) + d.minutes(60, 2000), "investigation.closed",
                 {"outcome": "charged"})  # fmt: skip


# ----------------------------------------------------------------------------- the force
def _day_starts(start: dt.datetime, days: int) -> Iterator[dt.datetime]:
    for n in range(days):
        yield start + dt.timedelta(days=n)


def _when(d: _Draw, day: dt.datetime, weights: list[float] | None = None) -> dt.datetime:
    hour = d.rng.choices(range(24), weights=weights)[0] if weights else d.rng.randrange(24)
    return day + dt.timedelta(hours=hour, minutes=d.rng.uniform(0, 60))


def _cases(p: Profile, d: _Draw, start: dt.datetime, days: int) -> list[_Case]:
    out: list[_Case] = []
    children: list[tuple[str, int]] = []
    builders: list[tuple[float, Callable[[dt.datetime, int], _Case]]] = []

    def custody(t: dt.datetime, n: int) -> _Case:
        case = _Case(f"CR-{n:06d}")
        _custody(p, d, case, t)
        return case

    def protection(t: dt.datetime, n: int) -> _Case:
        case = _Case(f"PP-{n:06d}")
        _protection(p, d, case, t)
        return case

    def missing(t: dt.datetime, n: int) -> _Case:
        if children and d.chance(p.missing.repeat_child_rate):
            child, age = d.rng.choice(children)
        else:
            child, age = f"CHILD-{len(children) + 1:05d}", d.rng.randint(10, 17)
            children.append((child, age))
        case = _Case(f"MP-{n:06d}")
        _missing(p, d, case, t, child, age)
        return case

    def domestic_abuse(t: dt.datetime, n: int) -> _Case:
        case = _Case(f"INC-{n:06d}")
        _domestic_abuse(p, d, case, t)
        return case

    def investigation(t: dt.datetime, n: int) -> _Case:
        case = _Case(f"INV-{n:06d}")
        _investigation(p, d, case, t, f"VICTIM-{n:05d}")
        return case

    per_day = p.per_day
    builders = [
        (per_day.child_detentions, custody),
        (per_day.police_protections, protection),
        (per_day.missing_reports, missing),
        (per_day.domestic_abuse_with_children, domestic_abuse),
        (per_day.child_protection_investigations, investigation),
    ]
    n = 0
    for day in _day_starts(start, days):
        for mean, build in builders:
            for _ in range(d.count(mean)):
                n += 1
                weights = p.custody.arrest_hours if build is custody else None
                out.append(build(_when(d, day, weights), n))
    return out


def simulate(
    profile: Profile, days: int, seed: int, start: dt.datetime, source: str | None = None
) -> list[dict[str, Any]]:
    """The period's events as structured-mode CloudEvents, in the order they were entered
    (recordedtime), as a force's systems would send them. Records timed after the period's
    end are left out: they have not happened yet."""
    d = _Draw(random.Random(seed))
    end = start + dt.timedelta(days=days)
    source = source or f"simulated/{profile.force}"
    rec = profile.recording
    events: list[dict[str, Any]] = []
    for case in _cases(profile, d, start, days):
        for i, (at, event_type, data) in enumerate(sorted(case.records, key=lambda r: r[0])):
            if at >= end:
                continue
            late = d.chance(rec.late_entry_rate)
            recorded = at + (M * (60 + d.spread(rec.late_entry_minutes)) if late else d.minutes(0, 3))
            events.append({
                "specversion": "1.0",
                "id": str(uuid.uuid5(NAMESPACE, f"{seed}:{case.subject}:{i}")),
                "source": source,
                "type": event_type,
                "subject": case.subject,
                "time": _iso(at),
                "recordedtime": _iso(min(recorded, end)),
                "data": data,
            })  # fmt: skip
    events.sort(key=lambda e: (e["recordedtime"], e["subject"], e["id"]))
    return events
