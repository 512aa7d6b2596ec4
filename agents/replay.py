"""Replay: the live engine on a simulated clock, with no Kafka.

Each event arrives when it was recorded (its ``recordedtime``), as it would have reached a
live worker; between arrivals the simulated monitor ticks at exactly each due time. So
replay shows what a perfect live monitor would have said, including warnings, breaches,
alerts raised in hindsight and retractions, and serves as the reference the live worker
is compared with.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections import Counter, OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import msgspec

from agents.alert import Alert
from agents.engine import CaseState, decode_case_state, encode_case_state, new_case, next_due, process_event, tick
from agents.policy import Policy
from streams.contract import Event, domain_of


@dataclass
class Replay:
    policy: Policy
    decoded_cases: int | None = None
    """How many cases to hold as objects; the rest, least recently reached first, are held as the
    tables store them (compressed, about a ninth of the memory) and decoded again when a record
    or a deadline reaches them. None holds every case decoded: fastest, about 9 KB of memory a
    case at a million; a bound of 20,000 holds a million in about a third of that, at half the
    speed when records reach cases at random (docs/performance.md)."""
    cases: dict[str, CaseState] = field(default_factory=dict)
    """The cases held decoded (every case, without a bound); ``every_case`` gives them all."""
    stored: dict[str, bytes] = field(default_factory=dict)
    """The rest, as stored (``decoded_cases``)."""
    _due: list[tuple[dt.datetime, str]] = field(default_factory=list)
    _scheduled: dict[str, dt.datetime] = field(default_factory=dict)
    duplicates: int = 0
    conflicts: int = 0
    """Events whose source and id an earlier, different event of the case had: not applied."""
    late_entries: int = 0
    rebuilds: int = 0

    def __post_init__(self) -> None:
        if self.decoded_cases is not None:
            if self.decoded_cases < 1:
                raise ValueError(f"decoded_cases must be at least 1, not {self.decoded_cases}")
            self.cases = OrderedDict(self.cases)

    def _case(self, name: str) -> CaseState | None:
        """A held case, decoded; with a bound, it becomes the most recently reached."""
        if self.decoded_cases is None:
            return self.cases.get(name)
        state = self.cases.get(name)
        if state is not None:
            self._recency().move_to_end(name)
            return state
        raw = self.stored.pop(name, None)
        if raw is None:
            return None
        return self._hold(decode_case_state(raw))

    def _hold(self, state: CaseState) -> CaseState:
        self.cases[state.case] = state
        if self.decoded_cases is not None and len(self.cases) > self.decoded_cases:
            name, coldest = self._recency().popitem(last=False)
            self.stored[name] = encode_case_state(coldest)
        return state

    def _recency(self) -> OrderedDict[str, CaseState]:
        assert isinstance(self.cases, OrderedDict)
        return self.cases

    def every_case(self) -> dict[str, CaseState]:
        """Every case held, decoded (for reports: a bound saves memory while replaying only)."""
        return {**{name: decode_case_state(raw) for name, raw in self.stored.items()}, **self.cases}

    def held(self) -> int:
        return len(self.cases) + len(self.stored)

    def _schedule(self, state: CaseState) -> None:
        when = next_due(state)
        if when is not None and self._scheduled.get(state.case) != when:
            self._scheduled[state.case] = when
            heapq.heappush(self._due, (when, state.case))
            if len(self._due) > 2 * len(self._scheduled) + 1024:
                # A case rescheduled leaves its earlier entry behind until its time: drop them all
                # at once, so the heap holds about one entry per case however often cases move.
                self._due = [(due, case) for case, due in self._scheduled.items()]
                heapq.heapify(self._due)

    def advance(self, until: dt.datetime) -> Iterator[Alert]:
        """Tick every case whose next deadline falls at or before ``until``, in time order."""
        while self._due and self._due[0][0] <= until:
            when, case = heapq.heappop(self._due)
            if self._scheduled.get(case) != when:
                continue  # superseded by a later schedule for this case
            del self._scheduled[case]
            state = self._case(case)
            assert state is not None, case
            yield from tick(state, self.policy, when)
            self._schedule(state)

    def feed(self, event: Event, now: dt.datetime) -> Iterator[Alert]:
        yield from self.advance(now)
        state = self._case(event.subject)
        if state is None:
            state = self._hold(new_case(event.subject, domain_of(event.type)))
        outcome = process_event(state, event, self.policy, now)
        self.duplicates += outcome.duplicate
        self.conflicts += outcome.conflict
        self.late_entries += outcome.late_entry
        self.rebuilds += outcome.rebuilt
        yield from outcome.alerts
        self._schedule(state)
        for target in outcome.forward_to:  # as the live shell re-publishes it under that case's key
            yield from self.feed(msgspec.structs.replace(event, subject=target), now)

    def open_deadlines(self) -> int:
        return len(self._scheduled)


def replay(events: Iterable[Event], policy: Policy, until: dt.datetime | None = None) -> Iterator[Alert]:
    """Alerts for ``events`` fed in order of recording, then the clock run on to ``until``."""
    run = Replay(policy)
    ordered = sorted(events, key=lambda e: e.recordedtime)
    for event in ordered:
        yield from run.feed(event, event.recordedtime)
    if until is not None:
        yield from run.advance(until)


@dataclass
class Summary:
    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def add(self, alert: Alert) -> None:
        self.counts[(alert.rule_id, alert.stage, alert.status)] += 1

    def _n(self, rule: str, stage: str | None, status: str) -> int:
        return sum(v for (r, s, st), v in self.counts.items() if r == rule and st == status and stage in (None, s))

    def table(self) -> str:
        rules = sorted({rule for rule, _, _ in self.counts})
        head = (
            f"{'rule':48} {'warnings':>8} {'breaches':>8} {'retracted':>9} {'satisfied':>9} {'cleared':>7} "
            f"{'closed in breach':>16}"
        )
        lines = [head, "-" * len(head)]
        for rule in rules:
            lines.append(
                f"{rule:48} {self._n(rule, 'warning', 'firing'):>8} {self._n(rule, 'breach', 'firing'):>8} "
                f"{self._n(rule, None, 'retracted'):>9} {self._n(rule, None, 'satisfied'):>9} "
                f"{self._n(rule, None, 'cleared'):>7} {self._n(rule, None, 'closed'):>16}"
            )
        if not rules:
            lines.append("(no alerts)")
        return "\n".join(lines)
