"""The engine against a small, obviously correct reference model, on random event sequences
that arrive in random order and are recorded late (hypothesis).

The reference sorts the events and walks them once: a clock starts at a start event when
none is running and the rule applies on the facts known then; it ends at the first stop or
cancel after, or when a fact rules the case out. A stage is justified if its time falls
strictly inside its clock's life ("not later than": an action at the stage's very instant is
in time, so that stage never fires), the rule applies on the facts known at that instant,
and its time is before ``now``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.alert import Alert, alert_id
from agents.engine import new_case, process_event, tick
from agents.policy import Policy, load_policy
from streams.validation import Event, decode_event
from tests.conftest import cloudevent

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
M = dt.timedelta(minutes=1)
RULE = "prop.appropriate_adult"
PACK = """
pack: properties
rules:
  - id: prop.appropriate_adult
    version: 1
    title: AA not arrived
    domain: custody
    applies_when: [{fact: age_years, lt: 18}]
    clock:
      start: [custody.appropriate_adult.requested]
      stop: [custody.appropriate_adult.arrived]
      cancel: [custody.released]
    target: 2h
    warnings: ["50%"]
    legal_basis: local standard
    explanation: test
    action: test
"""
STAGES = (("warning-1", dt.timedelta(hours=1)), ("breach", dt.timedelta(hours=2)))
KINDS = ("custody.appropriate_adult.requested", "custody.appropriate_adult.arrived", "custody.released", "age")


@dataclass(frozen=True)
class Spec:
    kind: str
    minute: int
    age: int = 0


def make_policy(tmp: Path) -> Policy:
    path = tmp / "pack.yaml"
    path.write_text(PACK)
    return load_policy(path)


def to_event(spec: Spec, index: int, recorded: dt.datetime) -> Event:
    at = T0 + spec.minute * M
    if spec.kind == "age":
        raw = cloudevent(
            "C",
            "custody.detention.authorised",
            {"relevant_time": at.isoformat(), "age_years": spec.age, "custody_suite": "S"},
            at=at,
            recorded=recorded,
            event_id=f"e{index}",
        )
    else:
        raw = cloudevent("C", spec.kind, at=at, recorded=recorded, event_id=f"e{index}")
    event = decode_event(json.dumps(raw).encode(), now=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    assert isinstance(event, Event)
    return event


def reference(specs: list[Spec], now: dt.datetime) -> set[str]:
    """Justified alert ids, by the definition in the module docstring."""
    ordered = sorted(specs, key=lambda s: s.minute)
    ages: list[tuple[dt.datetime, int]] = [(T0 + s.minute * M, s.age) for s in ordered if s.kind == "age"]

    def applies(at: dt.datetime, *, including_at: bool = False) -> bool:
        """On the facts known before ``at`` (a stage due at an event's exact time is decided
        before that event is applied), or up to and including ``at`` for the event itself."""
        known = [age for t, age in ages if t < at or (including_at and t == at)]
        return not known or known[-1] < 18

    clocks: list[tuple[str, dt.datetime, dt.datetime | None]] = []  # (ordinal, start, end)
    running: tuple[str, dt.datetime] | None = None
    last_end: dt.datetime | None = None
    for spec in ordered:
        at = T0 + spec.minute * M
        if running is not None and not applies(at, including_at=True):
            clocks.append((*running, at))
            running, last_end = None, at
        if running is None:
            if spec.kind == KINDS[0] and applies(at) and (last_end is None or at >= last_end):
                running = (str(len(clocks) + 1), at)  # clocks are named by their ordinal
        elif spec.kind in KINDS[1:3]:
            clocks.append((*running, at))
            running, last_end = None, at
    if running is not None:
        clocks.append((*running, None))

    justified = set()
    for ordinal, start, end in clocks:
        for name, offset in STAGES:
            at = start + offset
            if at < now and (end is None or at < end) and applies(at, including_at=True):
                justified.add(alert_id(RULE, "C", f"{ordinal}#0", name))
    return justified


def run_engine(
    policy: Policy, specs: list[Spec], order: list[int], delays: list[int], final: dt.datetime
) -> list[Alert]:
    state = new_case("C", "custody")
    alerts: list[Alert] = []
    now = T0
    for position, index in enumerate(order):
        at = T0 + specs[index].minute * M
        now = max(now, at) + delays[position] * M
        alerts += tick(state, policy, now - M)  # the worker ticked just before this record arrived
        alerts += process_event(state, to_event(specs[index], index, now), policy, now).alerts
    alerts += tick(state, policy, final)
    return alerts


def alive(alerts: list[Alert]) -> set[str]:
    last: dict[str, str] = {}
    for a in alerts:
        last[a.alert_id] = a.status
    return {i for i, status in last.items() if status != "retracted"}


specs_strategy = st.lists(
    st.builds(Spec, kind=st.sampled_from(KINDS), minute=st.integers(0, 600), age=st.sampled_from([14, 17, 30])),
    min_size=1,
    max_size=8,
    unique_by=lambda s: s.minute,  # equal event times would make arrival order a tie-break
)


@st.composite
def scenarios(draw: Any) -> tuple[list[Spec], list[int], list[int]]:
    specs = draw(specs_strategy)
    order = draw(st.permutations(list(range(len(specs)))))
    delays = draw(st.lists(st.integers(0, 240), min_size=len(specs), max_size=len(specs)))
    return specs, order, delays


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenarios())
def test_the_engine_agrees_with_the_reference_model_and_a_breach_stays_a_breach_in_any_arrival_order(
    tmp_path: Path, scenario: tuple[list[Spec], list[int], list[int]]
) -> None:
    specs, order, delays = scenario
    policy = make_policy(tmp_path)
    final = T0 + 30 * 60 * M
    alerts = run_engine(policy, specs, order, delays, final)
    justified = reference(specs, final)
    live = alive(alerts)

    assert live <= justified, "an alert stands that the complete records do not justify"
    breaches = {i for i in justified if any(a.alert_id == i and a.stage == "breach" for a in alerts)}
    expected_breaches = {alert_id(RULE, "C", f"{n}#0", "breach") for n in range(1, len(specs) + 1)} & justified
    assert expected_breaches <= live, "a justified breach was never raised (or was retracted)"
    assert breaches <= live

    for i in {a.alert_id for a in alerts}:
        statuses = [a.status for a in alerts if a.alert_id == i]
        if any(a.alert_id == i and a.stage == "breach" for a in alerts):
            assert not {"satisfied", "cleared"} & set(statuses), f"breach {i} turned into compliance: {statuses}"
            if i in justified:
                assert statuses[-1] in ("firing", "updated", "closed"), f"a justified breach {i} ended as {statuses}"
        for before, after in itertools.pairwise(statuses):
            assert not (before == "firing" and after == "firing"), f"alert {i} raised twice: {statuses}"
        revisions = [a.revision for a in alerts if a.alert_id == i]
        assert revisions == sorted(set(revisions)), "revisions must strictly increase per alert"

    clock_of = {alert_id(RULE, "C", f"{n}#0", name): n for n in range(1, len(specs) + 1) for name, _ in STAGES}
    last = {a.alert_id: a.status for a in alerts}
    open_per_clock = Counter(clock_of[i] for i, status in last.items() if status in ("firing", "updated"))
    assert max(open_per_clock.values(), default=0) <= 1, "two alerts of one deadline left open: no supersession"


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenarios())
def test_the_same_breaches_stand_whatever_the_arrival_order(
    tmp_path: Path, scenario: tuple[list[Spec], list[int], list[int]]
) -> None:
    specs, order, delays = scenario
    policy = make_policy(tmp_path)
    final = T0 + 30 * 60 * M
    in_order = sorted(range(len(specs)), key=lambda i: specs[i].minute)
    shuffled = run_engine(policy, specs, order, delays, final)
    sorted_run = run_engine(policy, specs, in_order, [0] * len(specs), final)

    def live_breaches(alerts: list[Alert]) -> set[str]:
        return {i for i in alive(alerts) if any(a.alert_id == i and a.stage == "breach" for a in alerts)}

    assert live_breaches(shuffled) == live_breaches(sorted_run)
