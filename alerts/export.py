"""The record for an inspection: every alert, its lifecycle, acknowledgements with who and how,
deliveries and silences, and who looked at which case, for a period, as rows.

Pure: the shell (``watchkeeper audit export``, watchkeeper/audit.py) reads the topics and
hands each record here with the topic it came from; this module decodes, joins each record to
its alert (for the case and the area), keeps what falls in the period and the area, and
orders the rows by time. The same rows are written as JSON Lines or CSV.

What each row is (``kind``):
- ``alert``: a message of the engine about an alert, revision by revision (raised, updated,
  satisfied, closed, retracted, superseded), with its reason;
- ``transition``: a line of the alert's lifecycle (raised, acknowledged, resolved, held by
  a silence, released ...), who and why;
- ``acknowledgement``: a person's acknowledgement as it was asked for (how, and the note);
- ``delivery``: one attempt to deliver a page: receiver, HTTP status, verdict;
- ``silence``: a silence set or ended early, by whom, with its matcher and window;
- ``case_view``: a person looked at a case in the console.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import msgspec

from agents.alert import ALERT_DECODER, ALERT_ID, Alert
from alerts.audit import CaseViewed
from alerts.lifecycle import Transition
from alerts.messages import COMMAND_DECODER, AckCommand, Receipt
from alerts.silence import SilenceChange

Source = Literal["alerts", "audit", "commands", "deliveries"]
"""The topic a record comes from: ``<prefix>.alerts``, ``.alert-transitions``, ``.alert-commands``,
``.deliveries``."""
Kind = Literal["alert", "transition", "acknowledgement", "delivery", "silence", "case_view"]
_ORDER: Final[dict[str, int]] = {
    "silence": 0,
    "alert": 1,
    "transition": 2,
    "acknowledgement": 3,
    "delivery": 4,
    "case_view": 5,
}


class Row(msgspec.Struct, frozen=True, omit_defaults=True):
    kind: Kind
    at: dt.datetime
    alert_id: str | None = None
    case: str | None = None
    area: str | None = None
    rule_id: str | None = None
    stage: str | None = None
    status: str | None = None
    """An alert's status, a transition's state, a delivery's verdict, a silence's change."""
    revision: int | None = None
    by: str | None = None
    reason: str | None = None
    receiver: str | None = None
    attempt: int | None = None
    http_status: int | None = None
    silence_id: str | None = None


COLUMNS: Final = tuple(Row.__struct_fields__)
_TRANSITION: Final = msgspec.json.Decoder(Transition)
_SILENCE: Final = msgspec.json.Decoder(SilenceChange)
_VIEW: Final = msgspec.json.Decoder(CaseViewed)
_RECEIPT: Final = msgspec.json.Decoder(Receipt)


@dataclass
class Period:
    start: dt.datetime
    end: dt.datetime
    area: str | None = None
    """Only what is about this area or suite (any case of letters); silences that could hold it."""

    def holds(self, at: dt.datetime) -> bool:
        return self.start <= at < self.end

    def covers(self, area: str | None) -> bool:
        return self.area is None or (area is not None and area.casefold() == self.area.casefold())


@dataclass
class Export:
    """Collects rows as records are read, in any order, and gives them joined and sorted."""

    period: Period
    alerts: dict[str, Alert] = field(default_factory=dict)
    """Each alert's latest message seen: its case and area, for the records that name only its id."""
    pending: list[tuple[Source, Any]] = field(default_factory=list)
    skipped: int = 0
    """Records that could not be read (none is expected; counted, never guessed at)."""

    def add(self, source: Source, value: bytes | None) -> None:
        if value is None:
            return
        try:
            decoded = self._decode(source, value)
        except (msgspec.DecodeError, ValueError):
            self.skipped += 1
            return
        if isinstance(decoded, Alert):
            known = self.alerts.get(decoded.alert_id)
            if known is None or decoded.revision >= known.revision:
                self.alerts[decoded.alert_id] = decoded
        self.pending.append((source, decoded))

    @staticmethod
    def _decode(source: Source, value: bytes) -> Any:
        if source == "alerts":
            return ALERT_DECODER.decode(value)
        if source == "commands":
            return COMMAND_DECODER.decode(value)
        if source == "deliveries":
            return _RECEIPT.decode(value)
        shape = msgspec.json.decode(value)
        if not isinstance(shape, dict):
            raise ValueError("not a record")
        if shape.get("kind") == "case_viewed":
            return _VIEW.decode(value)
        if "change" in shape:
            return _SILENCE.decode(value)
        return _TRANSITION.decode(value)

    def rows(self) -> list[Row]:
        out = [row for source, record in self.pending if (row := self._row(record)) is not None]
        return sorted(
            out, key=lambda r: (r.at, _ORDER[r.kind], r.alert_id or r.silence_id or r.case or "", r.revision or 0)
        )

    def _row(self, record: Any) -> Row | None:
        match record:
            case Alert():
                return self._alert(record)
            case Transition():
                return self._transition(record)
            case AckCommand():
                return self._acknowledgement(record)
            case Receipt():
                return self._delivery(record)
            case SilenceChange():
                return self._silence(record)
            case CaseViewed():
                return self._case_view(record)
        return None

    def _about(self, alert_id: str) -> tuple[str | None, str | None, str | None, str | None]:
        """(case, area, rule, stage) of an alert, from its latest message read."""
        a = self.alerts.get(alert_id)
        return (a.case, a.area, a.rule_id, a.stage_name) if a is not None else (None, None, None, None)

    def _alert(self, a: Alert) -> Row | None:
        row = Row("alert", a.raised_at, a.alert_id, a.case, a.area, a.rule_id, a.stage_name, a.status, a.revision)
        return self._keep(msgspec.structs.replace(row, reason=a.reason))

    def _transition(self, t: Transition) -> Row | None:
        case, area, rule, stage = self._about(t.alert_id)
        status = t.notifications or t.state
        row = Row("transition", t.at, t.alert_id, case, area, rule, stage, status, t.revision, t.by, t.reason)
        return self._keep(msgspec.structs.replace(row, silence_id=t.silence_id))

    def _acknowledgement(self, c: AckCommand) -> Row | None:
        case, area, rule, stage = self._about(c.alert_id)
        return self._keep(Row("acknowledgement", c.at, c.alert_id, case, area, rule, stage, by=c.by, reason=c.how))

    def _delivery(self, r: Receipt) -> Row | None:
        alert_id = r.webhook_id[:36]
        if not ALERT_ID.fullmatch(alert_id):
            return None  # a heartbeat: about the monitor, not an alert
        case, area, rule, stage = self._about(alert_id)
        row = Row("delivery", r.at, alert_id, case, area, rule, stage, r.verdict, receiver=r.receiver, reason=r.error)
        return self._keep(msgspec.structs.replace(row, attempt=r.attempt, http_status=r.status))

    def _silence(self, c: SilenceChange) -> Row | None:
        s, wanted = c.silence, self.period.area
        if wanted is not None and s.matcher.areas and not any(self.period.covers(a) for a in s.matcher.areas):
            return None  # it could not hold anything of this area
        window = f"{s.matcher.describe()}; from {s.starts_at.isoformat()} to {s.until.isoformat()}"
        row = Row("silence", c.at, status=c.change, by=c.by, reason=f"{window}: {c.reason}", silence_id=c.silence_id)
        return row if self.period.holds(c.at) else None

    def _case_view(self, v: CaseViewed) -> Row | None:
        area = next((a.area for a in self.alerts.values() if a.case == v.case), None)
        return self._keep(Row("case_view", v.at, case=v.case, area=area, by=v.by, status=v.access))

    def _keep(self, row: Row) -> Row | None:
        return row if self.period.holds(row.at) and self.period.covers(row.area) else None


def csv_row(row: Row) -> list[str]:
    values = msgspec.to_builtins(row)
    return ["" if values.get(c) is None else str(values[c]) for c in COLUMNS]


def collect(period: Period, records: Iterable[tuple[Source, bytes | None]]) -> Export:
    export = Export(period)
    for source, value in records:
        export.add(source, value)
    return export
