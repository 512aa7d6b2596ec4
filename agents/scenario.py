"""A scenario: a case study as events at offsets from a start, with the alerts it must raise.

The scenario library (tests/scenarios/) is written in this form, and ``watchkeeper replay``
reads it, so a newcomer can replay an inspection's case study with nothing else. A scenario
is YAML: a ``start`` instant, a ``subject``, events at offsets from the start (``at``, and
``recorded`` when the record was entered later), ``until`` (how long to run the clock on),
and ``expect``: every alert message it must produce, as ``case rule stage status`` lines.
Data values written ``@<offset>`` are times at that offset from the start. Event ids are
derived from the scenario's file name and the event's position, so alert ids are the same
on every run.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agents.durations import parse_duration

NAMESPACE = uuid.UUID("6f1c1c1e-2b1a-4c55-9d0e-7a3b8f0e5c11")


@dataclass(frozen=True)
class Scenario:
    path: Path
    name: str
    subject: str
    start: dt.datetime
    until: dt.datetime
    raw_events: tuple[dict[str, Any], ...]
    expect: tuple[str, ...]
    refused: tuple[str, ...] = ()
    """The dead-letter reason of every input that must be refused, in order."""
    rule: str | None = None
    """The rule this scenario was written for: it breaches here, except in the ``quiet`` case."""
    quiet: str | None = None
    """The subject of the case that complies with ``rule``."""

    def cloudevents(self, shift: dt.timedelta = dt.timedelta(0)) -> list[dict[str, Any]]:
        """The events as structured-mode CloudEvents, every time moved by ``shift``."""
        out: list[dict[str, Any]] = []
        for i, raw in enumerate(self.raw_events):
            at = self.start + parse_duration(str(raw["at"])) + shift
            recorded = self.start + parse_duration(str(raw.get("recorded", raw["at"]))) + shift
            data = {k: self._value(v, shift) for k, v in (raw.get("data") or {}).items()}
            out.append(
                {
                    "specversion": "1.0",
                    "id": str(raw["id"]) if "id" in raw else self._event_id(raw.get("same_id_as", i)),
                    "source": "scenario",
                    "type": raw["type"],
                    "subject": raw.get("subject", self.subject),
                    "time": at.isoformat(),
                    "recordedtime": recorded.isoformat(),
                    "data": data,
                }
            )
        return out

    def _event_id(self, position: int) -> str:
        return str(uuid.uuid5(NAMESPACE, f"{self.path.stem}#{position}"))

    def _value(self, value: Any, shift: dt.timedelta) -> Any:
        if isinstance(value, str) and value.startswith("@"):
            return (self.start + parse_duration(value[1:]) + shift).isoformat()
        return value


def load(path: Path) -> Scenario:
    with path.open(encoding="utf-8") as stream:
        doc = yaml.safe_load(stream)
    start = dt.datetime.fromisoformat(str(doc["start"])).astimezone(dt.UTC)
    return Scenario(
        path=path,
        name=doc["name"],
        subject=doc["subject"],
        start=start,
        until=start + parse_duration(str(doc["until"])),
        raw_events=tuple(doc["events"]),
        expect=tuple(doc.get("expect") or ()),
        refused=tuple(doc.get("refused") or ()),
        rule=doc.get("rule"),
        quiet=doc.get("quiet"),
    )
