"""One readable line per alert, in London local time, for a terminal or a log."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from agents.durations import format_duration
from alerts.model import Alert

LONDON = ZoneInfo("Europe/London")


def _local(t: dt.datetime) -> str:
    return t.astimezone(LONDON).strftime("%d %b %H:%M:%S %Z")


def format_line(alert: Alert) -> str:
    """``BREACH high | rule v1 | case … | suite … | what happened | action``."""
    label = alert.stage.upper() if alert.status == "firing" else alert.status.upper()
    overdue = dt.timedelta(seconds=alert.overdue_seconds)
    if alert.status != "firing":
        when = alert.reason
    elif alert.overdue_seconds >= 0:
        when = f"deadline {_local(alert.deadline)} passed, {format_duration(overdue)} overdue"
    else:
        when = f"deadline {_local(alert.deadline)}, {format_duration(-overdue)} left"
    if alert.hindsight_reason and alert.status == "firing":
        when += f" ({alert.hindsight_reason})"
    parts = [
        f"{label} {alert.severity}",
        f"{alert.rule_id} v{alert.rule_version}",
        f"case {alert.case}",
        *([f"area {alert.area}"] if alert.area else []),
        alert.rule_title,
        when,
    ]
    if alert.status == "firing":
        parts.append(f"action: {alert.action}")
    return " | ".join(parts)
