"""The benchmarks' realistic mix: a simulated force's cases, folded onto one day and copied.

``watchkeeper simulate`` gives a force's records with realistic volumes, delays, failures
and late entries, but a large force only has about 160 children's cases a day. To hold a
million cases at once, each simulated case is *folded*: moved by whole days (so it keeps
its time of day) to start on the first day, its data's times moved with it. The folded
cases are then copied as often as needed, each copy under its own case reference, event
ids and child references (so copies never share a case). Every copy keeps the simulated
timings, so alerts, rebuilds and late entries come at the simulated rates.

Events come out in the order they were entered (``recordedtime``), as a live worker would
receive them: the first day (every case opens) is phase 1, the rest (every case held) is
phase 2. Built lazily, a chunk at a time, so a million cases never sit in memory as events.
"""

from __future__ import annotations

import datetime as dt
import itertools
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streams.contract import Event
from streams.simulate import load_profile, simulate
from streams.validation import decode_event

T0 = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
REFERENCES = ("child_ref",)
"""Data fields naming another case (a child across missing episodes): suffixed per copy."""


@dataclass(frozen=True)
class Mix:
    events: list[Event]
    """The folded template cases' events, in order of recording."""
    cases: int
    profile: str

    def copies_for(self, cases: int) -> int:
        return max(1, round(cases / self.cases))

    def phase(self, number: int, copies: int) -> Iterator[Event]:
        """Phase 1: records entered on the first day; phase 2: the rest."""
        cut = T0 + DAY
        chosen = [e for e in self.events if (e.recordedtime < cut) == (number == 1)]
        for event in chosen:
            for copy in range(copies):
                yield _copy(event, copy)


def build(profile: str = "large", days: int = 30, seed: int = 1) -> Mix:
    """Cases that start in the first half of a simulated period, so each keeps at least
    half the period of its records, folded onto the period's first day."""
    raw = simulate(load_profile(profile), days, seed, T0)
    now = T0 + dt.timedelta(days=days + 1)
    by_case: dict[str, list[Event]] = {}
    for record in raw:
        event = decode_event(msgspec.json.encode(record), now=now)
        assert isinstance(event, Event), event
        by_case.setdefault(event.subject, []).append(event)
    folded: list[Event] = []
    cases = 0
    for events in by_case.values():
        first = min(e.time for e in events)
        if first >= T0 + DAY * (days // 2):
            continue
        cases += 1
        shift = DAY * ((first - T0) // DAY)
        folded += [moved(e, shift) for e in events]
    folded.sort(key=lambda e: (e.recordedtime, e.subject, e.id))
    return Mix(folded, cases, profile)


def moved(event: Event, shift: dt.timedelta) -> Event:
    """The event ``shift`` earlier: its times and every time in its data."""
    data = event.data
    times = {
        name: value - shift for name in data.__struct_fields__ if isinstance(value := getattr(data, name), dt.datetime)
    }
    return msgspec.structs.replace(
        event,
        time=event.time - shift,
        recordedtime=event.recordedtime - shift,
        data=msgspec.structs.replace(data, **times) if times else data,
    )


def _copy(event: Event, copy: int) -> Event:
    if copy == 0:
        return event
    data = event.data
    refs = {name: f"{value}.{copy}" for name in REFERENCES if isinstance(value := getattr(data, name, None), str)}
    return msgspec.structs.replace(
        event,
        id=f"{event.id}.{copy}",
        subject=f"{event.subject}.{copy}",
        data=msgspec.structs.replace(data, **refs) if refs else data,
    )


def chunks(events: Iterator[Event], size: int = 50_000) -> Iterator[list[Event]]:
    """Events built ahead of timing, a chunk at a time."""
    while chunk := list(itertools.islice(events, size)):
        yield chunk
