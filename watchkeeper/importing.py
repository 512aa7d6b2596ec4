"""``watchkeeper import``: load a force's history (JSON Lines, or CSV with a column mapping).

Everything is validated before anything is sent, and a summary printed (``--dry-run`` stops
there). Events are then sent in subject order (each case's records in the order they were
entered, as its live worker would have received them), at a bounded rate, with progress on
stderr. After each batch the broker has acknowledged, the position is written to a
checkpoint, so an import stopped halfway resumes where it stopped, against the same input.
History never pages anyone: alerts raised this late are historical (docs/notifications.md).

The CSV mapping is YAML: each contract attribute from a column or a ``=literal``, the event
type from a column or a literal, and each ``data`` field from a column, converted to the
contract's type (``"15"`` to 15, ``"true"`` to true, ISO 8601 to a time). An empty cell
is null: not recorded. Columns the mapping does not name are never read into an event.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import hashlib
import io
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import msgspec
import yaml

from streams.contract import EVENT_TYPES, Event, domain_of
from streams.validation import InputLimits, Rejection, decode_event

ATTRIBUTES: Final = ("id", "source", "subject", "time", "recordedtime")


class MappingError(ValueError):
    """A mapping file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class ColumnMapping:
    attributes: dict[str, str]
    """Contract attribute -> column name, or ``=literal``."""
    event_type: str
    data: dict[str, str] = field(default_factory=dict)
    """``data`` field -> column name, or ``=literal``."""

    @classmethod
    def load(cls, path: Path) -> ColumnMapping:
        try:
            with path.open(encoding="utf-8") as stream:  # a YAML error names the file
                raw = yaml.safe_load(stream) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise MappingError(f"{path}: {exc}") from None
        if not isinstance(raw, dict):
            raise MappingError(f"{path}: a mapping file is a YAML mapping")
        columns, data = raw.get("columns") or {}, raw.get("data") or {}
        if not isinstance(columns, dict) or not isinstance(data, dict):
            raise MappingError(f"{path}: field 'columns' and field 'data' map names to columns")
        missing = [a for a in ATTRIBUTES if a not in columns]
        if missing:
            raise MappingError(f"{path}: field 'columns': give {', '.join(missing)} (a column, or =literal)")
        if not isinstance(raw.get("type"), str):
            raise MappingError(f"{path}: field 'type': the event type, or =column:NAME for a column holding it")
        literal = raw["type"]
        if not literal.startswith("=column:") and literal not in EVENT_TYPES:
            raise MappingError(f"{path}: field 'type': {literal!r} is not an event type of the contract")
        return cls({str(k): str(v) for k, v in columns.items()}, literal, {str(k): str(v) for k, v in data.items()})

    def event(self, row: Mapping[str, str]) -> dict[str, Any]:
        """The structured-mode CloudEvent for one CSV row (validated afterwards, like any input)."""

        def value(spec: str) -> str | None:
            if spec.startswith("="):
                return spec[1:]
            cell = row.get(spec)
            return cell if cell not in (None, "") else None

        event_type = (
            value(self.event_type[len("=column:") :]) if self.event_type.startswith("=column:") else self.event_type
        )
        data = {name: value(spec) for name, spec in self.data.items()}  # an empty cell: null, not recorded
        model = EVENT_TYPES.get(event_type or "")
        if model is not None:
            # the contract's types from text cells; a cell that will not convert is left for validation to refuse
            with contextlib.suppress(msgspec.ValidationError):
                data = msgspec.to_builtins(msgspec.convert(data, model, strict=False))
        return {
            "specversion": "1.0",
            "type": event_type,
            **{name: value(spec) for name, spec in self.attributes.items()},
            "data": data,
        }


def read_lines(raw: bytes, fmt: str, mapping: ColumnMapping | None) -> list[bytes]:
    """One structured-mode event per line, from JSON Lines or from CSV through the mapping."""
    if fmt == "jsonl":
        return raw.splitlines()
    assert mapping is not None
    try:
        rows = csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))
        return [json.dumps(mapping.event(row)).encode() for row in rows]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise MappingError(f"the CSV cannot be read ({type(exc).__name__}): it must be UTF-8 CSV") from None


def validate(lines: Iterable[bytes], shown: str, now: dt.datetime, limits: InputLimits) -> tuple[list[Event], int]:
    """The valid events; each invalid line reported as ``file:line: reason: detail`` on stderr
    (the detail never quotes the input). Shared by send, replay and import."""
    events, invalid = [], 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        result = decode_event(line, now=now, limits=limits)
        if isinstance(result, Rejection):
            invalid += 1
            print(f"{shown}:{number}: {result.reason}: {result.detail}", file=sys.stderr)
        else:
            events.append(result)
    return events, invalid


def in_subject_order(events: list[Event]) -> list[Event]:
    """Case by case, each case's records in the order they were entered: deterministic, so a
    checkpoint's position means the same events on every run over the same input."""
    return sorted(events, key=lambda e: (e.subject, e.recordedtime, e.time, e.source, e.id))


def summary(events: list[Event], invalid: int) -> str:
    if not events:
        return f"0 valid event(s), {invalid} invalid"
    by_domain = Counter(domain_of(e.type) for e in events)
    first, last = min(e.time for e in events), max(e.time for e in events)
    lines = [
        f"{len(events)} valid event(s), {invalid} invalid, {len({e.subject for e in events})} case(s), "
        f"from {first.isoformat()} to {last.isoformat()}",
        "by domain: " + ", ".join(f"{d} {n}" for d, n in sorted(by_domain.items())),
    ]
    lines += [f"  {t:55} {n:>8}" for t, n in sorted(Counter(e.type for e in events).items())]
    return "\n".join(lines)


@dataclass
class Checkpoint:
    """How far an import of one input got: the number of events (in subject order) the broker has."""

    path: Path
    input_sha256: str

    def position(self) -> int:
        try:
            saved = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return 0
        if saved.get("input_sha256") != self.input_sha256:
            return 0  # another input: start from the beginning
        return int(saved.get("sent", 0))

    def save(self, sent: int, total: int) -> None:
        part = self.path.with_suffix(self.path.suffix + ".part")
        part.write_text(json.dumps({"input_sha256": self.input_sha256, "sent": sent, "total": total}))
        part.replace(self.path)  # atomic: a crash leaves the old checkpoint or the new one


def digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


Send = Callable[[Event], None]
Flush = Callable[[], None]


def send_all(
    events: list[Event],
    send: Send,
    flush: Flush,
    checkpoint: Checkpoint,
    *,
    rate: float,
    batch: int = 1000,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Send from the checkpoint's position on, ``rate`` events a second at most; after each
    ``batch`` the producer is flushed (the broker has them) and the position saved."""
    start_at = checkpoint.position()
    began, sent = clock(), 0
    for i in range(start_at, len(events)):
        ahead = sent / rate - (clock() - began)
        if ahead > 0:
            sleep(ahead)
        send(events[i])
        sent += 1
        if (i + 1) % batch == 0 or i + 1 == len(events):
            flush()
            checkpoint.save(i + 1, len(events))
            if progress is not None:
                progress(i + 1, len(events))
    return sent


def bar(done: int, total: int) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    print(
        f"\r[{'#' * filled}{' ' * (width - filled)}] {done}/{total}",
        end="" if done < total else "\n",
        file=sys.stderr,
        flush=True,
    )
