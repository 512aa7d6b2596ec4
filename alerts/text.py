"""An alert as text for people: one readable line for a terminal, a log or a chat message, in
London local time. (The console is the web page: worker/web/console.py.)"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from agents.alert import Alert
from agents.durations import format_duration

LONDON = ZoneInfo("Europe/London")


def london(t: dt.datetime) -> str:
    """What people read: London local time with the zone shown."""
    return t.astimezone(LONDON).strftime("%a %d %b %Y %H:%M:%S %Z")


def what_happened(alert: Alert) -> str:
    """The alert's state in words: how overdue (never "0s overdue": at the deadline it is
    "due at"), or for anything but an open deadline the engine's reason, which says why."""
    if alert.status not in ("firing", "updated") or alert.overdue_seconds is None:
        text = alert.reason
    elif alert.overdue_seconds >= 1:
        overdue = format_duration(dt.timedelta(seconds=alert.overdue_seconds))
        text = f"deadline {london(alert.deadline)} passed, {overdue} overdue"
    elif alert.overdue_seconds > -1:
        text = f"due at {london(alert.deadline)}"
    else:
        text = (
            f"deadline {london(alert.deadline)}, {format_duration(dt.timedelta(seconds=-alert.overdue_seconds))} left"
        )
    if alert.hindsight_reason and alert.status == "firing":
        text += f" ({alert.hindsight_reason})"
    return text


def format_line(alert: Alert) -> str:
    """``BREACH high | rule v1 | case … | suite … | what happened | action``."""
    label = alert.stage.upper() if alert.status == "firing" else alert.status.upper()
    parts = [
        f"{label} {alert.severity}",
        f"{alert.rule_id} v{alert.rule_version}",
        f"case {alert.case}",
        *([f"area {alert.area}"] if alert.area else []),
        alert.rule_title,
        what_happened(alert),
    ]
    if alert.status == "firing":
        parts.append(f"action: {alert.action}")
    return " | ".join(parts)
