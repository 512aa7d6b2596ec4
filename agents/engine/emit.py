"""Emitting: diff what is justified now against the ledger of what was said, and say the difference.

- a stage fired and never said (or said and retracted, or superseded by a later stage that
  has since been retracted): raise it (only the latest of a deadline's stages that fired at
  once; the earlier ones are ``superseded`` unsaid, at revision 0);
- an open alert of an earlier stage of the deadline just raised: supersede it, so one alert
  per deadline is open at a time (the warning gives way to the breach);
- a stage said that no longer fires on the complete records: retract it, naming the record;
- an open alert of a deadline that is no longer live: close it (``satisfied``, ``cleared``
  or ``closed``, the breach standing);
- an open alert whose deadline moved (a pause, a resumption): update it;
- an immediate breach never said: raise it;
- an alert said of a clock that no longer exists: retract it.

Every alert is written with the words of ``wording.py``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Final
from zoneinfo import ZoneInfo

import msgspec

from agents.alert import Alert
from agents.engine import wording
from agents.engine.state import (
    EPOCH,
    SEPARATOR,
    CaseState,
    Clock,
    Cycle,
    LedgerEntry,
    LedgerStatus,
    Stage,
    StoredEvent,
    alert_id_of,
    all_clocks,
    area_of,
    cycle_instance,
    find_event,
    stage_key,
    stage_kind,
)
from agents.policy import Policy, Rule
from agents.vocabulary import AlertStatus

OPEN: Final = frozenset({"firing", "updated"})
SAID: Final = frozenset({"firing", "updated", "satisfied", "cleared", "closed"})
UNRAISED: Final = frozenset({None, "retracted"})
"""A stage in one of these states is raised when it fires, unless a later stage stands; while
its deadline is live, a superseded one too (the stage that superseded it was retracted)."""
RAISABLE_LIVE: Final = UNRAISED | {"superseded"}


def said(entry: LedgerEntry | None) -> bool:
    """Something was said of this alert that still stands: a ``superseded`` sent to people
    (revision above 0) counts; one never sent (a stage skipped in hindsight) does not."""
    return entry is not None and (entry.status in SAID or (entry.status == "superseded" and entry.revision > 0))


_CLEARED_BY: Final[dict[wording.Ending, AlertStatus]] = {
    "extended": "cleared",
    "ruled_out": "cleared",
    "action": "satisfied",
    "ended": "cleared",
}
"""How an unbreached deadline's alerts close, by how its clock ended."""


def emit(
    state: CaseState, policy: Policy, now: dt.datetime, trigger: StoredEvent | None, before: Snapshot | None = None
) -> list[Alert]:
    """The alerts that bring what was said in line with what the case justifies at ``now``.

    ``trigger`` is the record being applied, if any: a retraction or an update names it.
    ``before``, a snapshot taken before the change being said: a running clock it shows
    unchanged is passed by (nothing new can be said of it; see ``snapshot``)."""
    return _Emission(state, policy, now, trigger, before).run()


Snapshot = dict[int, tuple[Clock, tuple[object, ...]]]
"""id of each live clock -> (the clock, kept so that its id is not reused; its signature)."""


def snapshot(state: CaseState) -> Snapshot:
    """The live clocks' signatures before a change. Every change is followed by an emission,
    so at rest a case has said everything its clocks justify; an emission then need only look
    at the clocks a change touched. What a live clock justifies follows from its status, its
    current cycle's deadline, ending and fired stages, and its number of cycles (earlier
    cycles only ever drop out): that is its signature."""
    return {id(clock): (clock, _signature(clock)) for clock in state.clocks.values() if clock.live}


def _signature(clock: Clock) -> tuple[object, ...]:
    current = clock.current
    return (clock.status, len(clock.cycles), current.due, current.ended_by, tuple(s.fired for s in current.stages))


def _unchanged(before: Snapshot | None, clock: Clock) -> bool:
    if before is None or not clock.live:
        return False
    seen = before.get(id(clock))
    return seen is not None and seen[0] is clock and seen[1] == _signature(clock)


@dataclass
class _Emission:
    state: CaseState
    policy: Policy
    now: dt.datetime
    trigger: StoredEvent | None
    before: Snapshot | None = None
    out: list[Alert] = field(default_factory=list)

    @property
    def zone(self) -> ZoneInfo:
        return self.policy.calendar.zone

    def run(self) -> list[Alert]:
        ended: list[Clock] = []
        for clock in all_clocks(self.state):
            rule = self.policy.rule(clock.rule_id)
            if rule is None or clock.settled or _unchanged(self.before, clock):
                continue
            live = clock.live
            for cycle in clock.cycles:
                prefix = stage_key(rule.id, cycle_instance(clock, cycle), "")
                self._cycle(rule, clock, cycle, prefix, live=live and cycle is clock.current)
            if not live:
                ended.append(clock)
        for record in self.state.immediates:
            key = stage_key(record.rule_id, record.event_id, "breach")
            rule = self.policy.rule(record.rule_id)
            sent = self.state.ledger.get(key)
            if rule is not None and (sent is None or sent.status == "retracted"):
                context = LedgerEntry(
                    "firing", 0, rule.id, record.rule_version, "breach", record.at, record.at, record.at
                )
                reason = wording.immediate_reason(self.state, rule, record, self.zone)
                self.say(rule, key, context, "firing", reason)
        for key, sent in list(self.state.ledger.items()):  # said before, no longer part of any clock
            if said(sent) and not _present(self.state, key) and (rule := self.policy.rule(sent.rule_id)) is not None:
                reason = wording.retraction_reason(sent.stage_name, sent.stage_at, self.trigger, self.zone)
                self.say(rule, key, sent, "retracted", reason)
        for clock in ended:  # all it justifies is said: its cycles come back only by a rebuild
            fired = [s.at for cycle in clock.cycles for s in cycle.stages if s.fired]
            clock.settled, clock.cycles, clock.fired_until = True, [], max(fired, default=EPOCH)
        return self.out

    def _status(self, prefix: str, stage: Stage) -> LedgerStatus | None:
        sent = self.state.ledger.get(prefix + stage.name)
        return sent.status if sent is not None else None

    def _cycle(self, rule: Rule, clock: Clock, cycle: Cycle, prefix: str, *, live: bool) -> None:
        self._raise_pending(rule, clock, cycle, prefix, live=live)
        ledger = self.state.ledger
        for stage in cycle.stages:
            sent = ledger.get(prefix + stage.name)
            if sent is not None and said(sent):
                self._follow_up(rule, clock, cycle, stage, prefix, sent, live=live)
        if not live:
            self._close_unsuperseded(rule, clock, cycle, prefix)

    def _close_unsuperseded(self, rule: Rule, clock: Clock, cycle: Cycle, prefix: str) -> None:
        """A stage superseded by one since retracted, on a deadline that has ended: it did happen,
        so it closes as an open alert would. (A live deadline raises it again instead.)"""
        for stage in cycle.stages:
            sent = self.state.ledger.get(prefix + stage.name)
            if sent is None or sent.status != "superseded" or not said(sent) or not stage.fired:
                continue
            if not self._later_stands(cycle, stage, prefix) and (closed := self._closing(rule, clock, cycle)):
                self.say(rule, prefix + stage.name, _context(rule, clock, cycle, stage), *closed)

    def _later_stands(self, cycle: Cycle, stage: Stage, prefix: str) -> bool:
        ledger = self.state.ledger
        return any(said(ledger.get(prefix + s.name)) for s in cycle.stages if s.offset > stage.offset)

    def _raise_pending(self, rule: Rule, clock: Clock, cycle: Cycle, prefix: str, *, live: bool) -> None:
        """Raise the latest stage that fired and was never said, unless a later one stands; then
        supersede the earlier stages still open, so the deadline has one open alert."""
        raisable = RAISABLE_LIVE if live else UNRAISED
        pending = [s for s in cycle.stages if s.fired and self._status(prefix, s) in raisable]
        if not pending or self._later_stands(cycle, pending[-1], prefix):
            return
        latest = pending[-1]
        for stage in pending[:-1]:
            if self._status(prefix, stage) is None:  # never sent: skipped, unsaid
                self.state.ledger[prefix + stage.name] = _context(rule, clock, cycle, stage, "superseded")
        reason = wording.firing_reason(self.state, rule, clock, cycle, latest, self.now, self.zone)
        hindsight = wording.hindsight(self.state, latest, self.now, self.zone)
        self.say(rule, prefix + latest.name, _context(rule, clock, cycle, latest), "firing", reason, hindsight)
        for stage in cycle.stages:
            if stage.offset < latest.offset and self._status(prefix, stage) in OPEN:
                superseded = wording.superseded_reason(latest.name, self.now, self.zone)
                context = _context(rule, clock, cycle, stage)
                self.say(rule, prefix + stage.name, context, "superseded", superseded, ended_at=latest.at)

    def _follow_up(
        self, rule: Rule, clock: Clock, cycle: Cycle, stage: Stage, prefix: str, sent: LedgerEntry, *, live: bool
    ) -> None:
        """What changed for a stage already said: retracted, closed or moved."""
        context, key = _context(rule, clock, cycle, stage), prefix + stage.name
        if not stage.fired:
            reason = wording.retraction_reason(stage.name, stage.at, self.trigger, self.zone)
            self.say(rule, key, context, "retracted", reason)
        elif sent.status not in OPEN:
            return
        elif not live:
            closed = self._closing(rule, clock, cycle)
            if closed is not None:
                self.say(rule, key, context, *closed)
        elif sent.deadline != cycle.due and clock.status == "running":
            reason = wording.moved_reason(self.state, sent.deadline, cycle.due, self.trigger, self.zone)
            self.say(rule, key, context, "updated", reason)

    def _closing(
        self, rule: Rule, clock: Clock, cycle: Cycle
    ) -> tuple[AlertStatus, str, str | None, dt.datetime] | None:
        """How an open alert of a deadline that is no longer live closes.

        A deadline that was breached stays breached: its alerts close as ``closed`` and say how
        the clock ended (the action taken late, custody ended while in breach, an authorisation
        recorded after the limit). ``satisfied`` is only the required action in time (at the
        deadline instant included); ``cleared`` only a clock that ended or moved before its
        deadline. Only a retraction, on records that show the breach never happened, undoes one."""
        breached = any(s.fired and s.name == "breach" for s in cycle.stages)
        event: StoredEvent | None = None
        ending: wording.Ending
        if cycle.extended:
            ending = "extended"
        elif clock.status == "not_applicable" and cycle is clock.current:
            # Stages that fired were justified on the facts known at their time (a fact that
            # arrives out of order rebuilds the case, and then they never fire at all).
            ending = "ruled_out"
        else:
            event = find_event(self.state, cycle.ended_by or clock.ended_by)
            if event is None:
                return None
            ending = "action" if event.type in {s.type for s in rule.required} else "ended"
        reason = wording.closing_reason(self.state, rule, clock, cycle, ending, event, breached, self.zone)
        return ("closed" if breached else _CLEARED_BY[ending]), reason, None, event.time if event else self.now

    def say(
        self,
        rule: Rule,
        key: str,
        context: LedgerEntry,
        status: AlertStatus,
        reason: str,
        hindsight: str | None = None,
        ended_at: dt.datetime | None = None,
    ) -> None:
        """Build the alert and record it in the ledger (by stage key) with the next revision."""
        state, now = self.state, self.now
        previous = state.ledger.get(key)
        revision = (previous.revision if previous is not None else 0) + 1
        deadline = context.deadline
        if status not in OPEN and previous is not None:
            deadline = previous.deadline  # a closing message speaks of the deadline it closes
        state.ledger[key] = msgspec.structs.replace(context, status=status, revision=revision, deadline=deadline)
        kind = stage_kind(context.stage_name)
        immediate = rule.kind == "immediate"
        open_now = status in OPEN
        self.out.append(
            Alert(
                alert_id=alert_id_of(state.case, key),
                revision=revision,
                status=status,
                stage=kind,
                stage_name=context.stage_name,
                severity=rule.severity_breach if kind == "breach" else rule.severity_warning,
                rule_id=rule.id,
                rule_version=context.rule_version,
                rule_title=rule.title,
                legal_basis=rule.legal_basis,
                local_standard=rule.is_local_standard,
                grade=rule.grade,
                domain=state.domain,
                case=state.case,
                area=area_of(state.facts),
                clock_started_at=context.clock_started_at,
                deadline=deadline,
                stage_at=context.stage_at,
                raised_at=now,
                # How overdue only means something for an open deadline: never on an immediate rule
                # (nothing was due), a retraction (nothing was breached) or a closing.
                overdue_seconds=round((now - deadline).total_seconds(), 3) if open_now and not immediate else None,
                target="immediate" if immediate else rule.describe_target(),
                ended_at=ended_at,
                hindsight=hindsight is not None,
                hindsight_reason=hindsight,
                reason=reason,
                explanation=rule.explanation,
                action=rule.action if open_now else wording.NO_ACTION[status],
                policy_note=wording.override_note(rule),
                timeline=wording.timeline(state, rule, max(now, context.stage_at)),
            )
        )


def _context(rule: Rule, clock: Clock, cycle: Cycle, stage: Stage, status: LedgerStatus = "firing") -> LedgerEntry:
    """The ledger entry a stage's alert would have; ``say`` sets its status and revision."""
    return LedgerEntry(status, 0, rule.id, clock.rule_version, stage.name, cycle.due, stage.at, clock.anchor)


def _present(state: CaseState, key: str) -> bool:
    """Whether a stage key still names a stage of one of the case's clocks, or an immediate
    breach: a rebuild, or a cycle given up, can leave an alert said of a stage that is gone."""
    parts = key.split(SEPARATOR)
    if len(parts) != 3:
        return False  # an alert id from the first format whose stage was already gone
    rule_id, instance, name = parts
    if name == "breach" and any(r.rule_id == rule_id and r.event_id == instance for r in state.immediates):
        return True
    for clock in all_clocks(state):
        if clock.rule_id != rule_id:
            continue
        if clock.settled and instance.startswith(f"{clock.ordinal}#"):
            return True  # every alert said of a settled clock was of one of its stages
        for cycle in clock.cycles:
            if cycle_instance(clock, cycle) == instance and any(stage.name == name for stage in cycle.stages):
                return True
    return False
