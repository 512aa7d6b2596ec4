"""An alert's life after the engine raised it: who is told, when, and what people did about it.

Pure: no Faust, no HTTP, no clock reads. The dispatcher agent (worker/dispatcher.py) holds one
``AlertRecord`` per alert id in a table and feeds it the engine's messages, people's
acknowledgements and ticks; this module says what changes and which notifications are due.

States: raised (a warning or a breach) → acknowledged (someone has seen it) → satisfied (the
required action was recorded in time), resolved (no longer needed before its deadline),
closed (breached, and the clock has since ended: the breach stands), retracted (the
records show the case was compliant) or superseded (the same deadline's later stage was
raised: the warning gives way to the breach, and its pages are resolved; Alertmanager calls
this inhibition, here the record keeps both). An acknowledgement is not compliance: the legal clock keeps running
in the engine, and an ack stops escalation only where the policy says so.

Escalation is by role, from the policy routed when the alert was first raised; that policy
is copied into the record and stays with the alert even if the configuration changes.

A silence (alerts/silence.py) holds an open alert's pages without changing its state: the
record says which silence holds it, its escalation pauses, and when the silence no longer
holds it the roles already paged are told again and the ladder carries on where it paused.
Closing and acknowledgement notices to roles already paged are never held: they end pages.
"""

from __future__ import annotations

import datetime as dt
from typing import Final, Literal

import msgspec

from agents.alert import Alert
from agents.durations import format_duration
from alerts.config import EscalationPolicy, NotifyConfig
from alerts.silence import Silence, Silences

State = Literal["raised", "acknowledged", "satisfied", "resolved", "closed", "retracted", "superseded"]
Action = Literal["trigger", "acknowledge", "resolve"]
"""What a receiver should do with its page (PagerDuty's event actions)."""
Hold = Literal["held", "released"]
"""What a silence did to an alert's pages: a history line that changes no state."""
HOLD_RECHECK: Final = dt.timedelta(seconds=30)
"""How often a held alert looks again at the silences, so one ended early (or while this
worker was down) releases it within this long, even if no word of the change reached it."""
CLOSED: Final = frozenset({"satisfied", "resolved", "closed", "retracted", "superseded"})
_CLOSING: Final[dict[str, State]] = {
    "satisfied": "satisfied",
    "cleared": "resolved",
    "closed": "closed",
    "retracted": "retracted",
    "superseded": "superseded",
}


class Step(msgspec.Struct, array_like=True):
    key: str
    role: str
    offset: float
    """Seconds after the alert was raised."""


class EscalationSnapshot(msgspec.Struct):
    """The escalation policy routed when the alert was raised, as it was then: it stays with the
    alert even if the configuration changes."""

    name: str
    steps: list[Step]
    ack_stops_escalation: bool
    ack_timeout: float | None

    @classmethod
    def of(cls, policy: EscalationPolicy) -> EscalationSnapshot:
        steps = [Step(key, role, offset.total_seconds()) for key, role, offset in policy.steps()]
        timeout = policy.ack_timeout.total_seconds() if policy.ack_timeout else None
        return cls(policy.name, steps, policy.ack_stops_escalation, timeout)


class Transition(msgspec.Struct, frozen=True):
    """One line of an alert's audit history: what changed, when, by whom and why."""

    alert_id: str
    state: State
    at: dt.datetime
    by: str
    reason: str
    revision: int
    """The engine's revision of the alert this transition saw."""
    notifications: Hold | None = None
    """Set on a line about its pages, not its state: held by a silence, or released."""
    silence_id: str | None = None


class Notification(msgspec.Struct, frozen=True):
    """Tell one role's receivers about one alert: goes to the outbox, one job per receiver."""

    delivery_key: str
    """Unique per alert revision, step and action: with the receiver name it is the webhook-id."""
    role: str
    action: Action
    state: State
    alert: Alert
    refresh: bool = False
    """Sent again to keep an open page open where the receiver expires what it stops hearing
    about (Alertmanager): only such receivers get it (alerts/messages.py)."""


class AlertRecord(msgspec.Struct):
    alert: Alert
    state: State
    escalation: EscalationSnapshot = msgspec.field(name="policy")
    """Stored under its earlier name, so records written before the rename still decode."""
    raised_at: dt.datetime
    done: list[str] = []
    """Escalation steps already notified."""
    paged_roles: list[str] = []
    acked_by: str | None = None
    acked_at: dt.datetime | None = None
    ack_round: int = 0
    """How many ack timeouts have re-notified this alert (names the re-notifications)."""
    history: list[Transition] = []
    historical: bool = False
    """Raised longer after its stage passed than its route's horizon (history loaded, a long
    backlog): recorded and shown like any alert, but nobody is paged for it."""
    held_by: str | None = None
    """The silence holding its pages now."""
    held_until: dt.datetime | None = None
    """That silence's end, as last seen."""
    held_since: dt.datetime | None = None
    held_checked: dt.datetime | None = None
    paused: float = 0.0
    """Seconds its escalation has spent held: every step comes that much later."""
    released_at: dt.datetime | None = None
    """When a silence last released it: an ack timeout counts from here if the ack was earlier."""
    releases: int = 0
    """How many times a silence has released it (names the re-notifications)."""
    resend: float | None = None
    """Seconds between re-sends to Alertmanager receivers of the paged roles, while it is open."""
    resent_at: dt.datetime | None = None
    resends: int = 0


RECORD_ENCODER: Final = msgspec.msgpack.Encoder()
RECORD_DECODER: Final = msgspec.msgpack.Decoder(AlertRecord)


class Changes(msgspec.Struct):
    notifications: list[Notification] = []
    transitions: list[Transition] = []
    write: bool = True
    """Whether the record must be stored: a look at a hold that still stands, unchanged, needs no
    changelog write (the due index is told the next look in memory)."""


# ============================================================================= entry points
def on_alert(
    record: AlertRecord | None,
    alert: Alert,
    config: NotifyConfig,
    now: dt.datetime,
    silences: Silences | None = None,
) -> tuple[AlertRecord | None, Changes]:
    """A message from the engine about an alert (raised, deadline moved, closed)."""
    out = Changes()
    silence = None if silences is None else silences.holding(alert, now)
    if record is not None and alert.revision <= record.alert.revision:
        return record, out  # a copy (at-least-once) or an older revision: already handled
    if record is None:
        if alert.status != "firing":
            return None, out  # closing an alert never raised here (raised before this layer existed)
        route = config.matching(alert.rule_id, alert.severity, alert.area)
        escalation = EscalationSnapshot.of(config.policies[route.policy])
        record = AlertRecord(alert=alert, state="raised", escalation=escalation, raised_at=now)
        resend = config.resend_for(config.policies[route.policy])
        record.resend = resend.total_seconds() if resend is not None else None
        record.historical = now - alert.stage_at > route.horizon
        _transition(record, out, "raised", now, "watchkeeper", _raised(record, route.horizon, now))
        _escalate_or_hold(record, out, now, silence)
        return record, out
    record.alert = alert
    if alert.status in _CLOSING:
        if record.state not in CLOSED:
            _transition(record, out, _CLOSING[alert.status], now, "watchkeeper", alert.reason)
            _tell_paged(record, out, "resolve", f"close-{alert.revision}", now)  # never held: it ends pages
            _forget_hold(record)
        return record, out
    if alert.status == "firing" and record.state in CLOSED:  # raised again after a retraction
        record.state, record.done, record.paged_roles, record.raised_at = "raised", [], [], now
        record.paused, record.released_at = 0.0, None
        _transition(record, out, "raised", now, "watchkeeper", "raised again: " + alert.reason)
        _escalate_or_hold(record, out, now, silence)
        return record, out
    if record.state not in CLOSED and not _held(record, out, now, silence):
        _tell_paged(record, out, "trigger", f"update-{alert.revision}", now)  # the deadline moved: the paged hear it
    return record, out


def on_ack(record: AlertRecord, user: str, now: dt.datetime, how: str) -> tuple[bool, str, Changes]:
    """Someone has seen the alert. Returns (accepted, why, changes)."""
    out = Changes()
    if record.state in CLOSED:
        return False, f"already {record.state}", out
    if record.state == "acknowledged":
        return False, f"already acknowledged by {record.acked_by}", out
    record.acked_by, record.acked_at = user, now
    _transition(record, out, "acknowledged", now, user, f"acknowledged ({how}); the legal clock keeps running")
    _tell_paged(record, out, "acknowledge", f"ack-{record.ack_round}", now)
    return True, "acknowledged", out


def on_tick(record: AlertRecord, now: dt.datetime, silences: Silences | None = None) -> Changes:
    """Time has passed: escalate to the next tier, or re-notify after an ack timeout; or, for an
    alert a silence holds, look again whether it still does, and release it if not."""
    out = Changes()
    if record.state in CLOSED:
        return out
    silence = None if silences is None else silences.holding(record.alert, now)
    if record.held_by is not None and silence is None:
        _release(record, out, now)
    elif silence is not None and not record.historical:
        unchanged = silence.silence_id == record.held_by and silence.until == record.held_until
        _held(record, out, now, silence)
        _resend(record, out, now)  # a page already open stays open: the silence holds new pages only
        out.write = not unchanged or bool(out.notifications)
        return out
    expires = _ack_expires(record)
    if expires is not None and now >= expires:
        reason = f"acknowledged by {record.acked_by} but not satisfied within the ack timeout"
        record.ack_round += 1
        _transition(record, out, "raised", now, "watchkeeper", reason)
        record.acked_by = record.acked_at = None
        _tell_paged(record, out, "trigger", f"ack-timeout-{record.ack_round}", now)
    _escalate(record, out, now)
    _resend(record, out, now)
    out.write = bool(out.notifications or out.transitions)  # a look that changed nothing writes nothing
    return out


def next_due(record: AlertRecord) -> dt.datetime | None:
    """When this alert next needs a look: its next escalation step or its ack timeout; while a
    silence holds it, the silence's end or the next look at the silences, whichever is first."""
    if record.state in CLOSED:
        return None
    if record.held_until is not None and record.held_checked is not None:
        return min(record.held_until, record.held_checked + HOLD_RECHECK, *_resend_due(record))
    expires = _ack_expires(record)
    times = [expires, *_resend_due(record)] if expires is not None else _resend_due(record)
    if _escalating(record):
        pending = [s for s in record.escalation.steps if s.key not in record.done]
        if pending:
            times.append(record.raised_at + dt.timedelta(seconds=pending[0].offset + record.paused))
    return min(times, default=None)


# ============================================================================= internals
def _ack_expires(record: AlertRecord) -> dt.datetime | None:
    timeout = record.escalation.ack_timeout
    if record.state != "acknowledged" or timeout is None or record.acked_at is None:
        return None
    since = max(record.acked_at, record.released_at or record.acked_at)
    return since + dt.timedelta(seconds=timeout)


def _raised(record: AlertRecord, horizon: dt.timedelta, now: dt.datetime) -> str:
    said = f"{record.alert.stage} raised; policy {record.escalation.name}"
    if not record.historical:
        return said
    late = format_duration(now - record.alert.stage_at)
    within = format_duration(horizon)
    return f"{said}; historical: raised {late} after it passed (the route pages within {within}), so nobody is paged"


def _resend_due(record: AlertRecord) -> list[dt.datetime]:
    if record.resend is None or record.resent_at is None or not record.paged_roles or record.state in CLOSED:
        return []
    return [record.resent_at + dt.timedelta(seconds=record.resend)]


def _resend(record: AlertRecord, out: Changes, now: dt.datetime) -> None:
    """Keep an open page open where the receiver forgets what it stops hearing about."""
    if out.notifications:
        return  # something was just sent to the paged: that was the re-send
    due = _resend_due(record)
    if due and now >= due[0]:
        record.resends += 1
        for role in record.paged_roles:
            key = f"{record.alert.alert_id}.resend-{record.resends}"
            out.notifications.append(Notification(key, role, "trigger", record.state, record.alert, refresh=True))
        record.resent_at = now


def _escalating(record: AlertRecord) -> bool:
    if record.historical:
        return False
    return record.state == "raised" or (record.state == "acknowledged" and not record.escalation.ack_stops_escalation)


def _escalate(record: AlertRecord, out: Changes, now: dt.datetime) -> None:
    if not _escalating(record):
        return
    for step in record.escalation.steps:
        if step.key in record.done or record.raised_at + dt.timedelta(seconds=step.offset + record.paused) > now:
            continue
        record.done.append(step.key)
        record.resent_at = now
        if step.role not in record.paged_roles:
            record.paged_roles.append(step.role)
        out.notifications.append(
            Notification(f"{record.alert.alert_id}.{step.key}", step.role, "trigger", record.state, record.alert)
        )


def _tell_paged(record: AlertRecord, out: Changes, action: Action, key: str, now: dt.datetime) -> None:
    if action == "trigger" and record.paged_roles:
        record.resent_at = now
    for role in record.paged_roles:
        out.notifications.append(
            Notification(f"{record.alert.alert_id}.{key}", role, action, record.state, record.alert)
        )


def _transition(
    record: AlertRecord,
    out: Changes,
    state: State,
    now: dt.datetime,
    by: str,
    reason: str,
    notifications: Hold | None = None,
    silence_id: str | None = None,
) -> None:
    record.state = state
    change = Transition(record.alert.alert_id, state, now, by, reason, record.alert.revision, notifications, silence_id)
    record.history.append(change)
    out.transitions.append(change)


# ----------------------------------------------------------------------------- silences
def _escalate_or_hold(record: AlertRecord, out: Changes, now: dt.datetime, silence: Silence | None) -> None:
    """A newly raised alert: page the first tier, unless a silence holds it (historical ones page nobody anyway)."""
    if not _held(record, out, now, silence):
        _escalate(record, out, now)


def _held(record: AlertRecord, out: Changes, now: dt.datetime, silence: Silence | None) -> bool:
    """Whether ``silence`` holds this alert's pages now; records the hold, or a change of silence,
    as a history line."""
    if silence is None or record.historical:
        return False
    record.held_checked = now
    if silence.silence_id == record.held_by:
        record.held_until = silence.until
        return True
    record.held_by, record.held_until = silence.silence_id, silence.until
    record.held_since = record.held_since or now
    reason = f"notifications held by {silence.describe()}; the alert stays on the record and the console"
    _transition(record, out, record.state, now, "watchkeeper", reason, "held", silence.silence_id)
    return True


def _release(record: AlertRecord, out: Changes, now: dt.datetime) -> None:
    """No silence holds it now: the paged are told again, and the ladder resumes where it paused."""
    held = now - (record.held_since or now)
    record.paused += held.total_seconds()
    record.releases += 1
    record.released_at = now
    silence_id = record.held_by or ""
    _forget_hold(record)
    reason = f"notifications released: silence {silence_id[:8]} no longer holds it, after {format_duration(held)}"
    _transition(record, out, record.state, now, "watchkeeper", reason, "released", silence_id)
    _tell_paged(record, out, "trigger", f"release-{record.releases}", now)


def _forget_hold(record: AlertRecord) -> None:
    record.held_by = record.held_until = record.held_since = record.held_checked = None
