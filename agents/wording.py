"""How the engine speaks to people: London local time with the zone shown, plain words for
event types, durations as people say them. Every time a person reads goes through here, so
one alert never mixes UTC and BST."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from agents.durations import format_duration
from streams.contract import event_label

__all__ = ["event_label", "format_duration", "lateness", "local_time"]


def local_time(instant: dt.datetime, zone: ZoneInfo) -> str:
    """``Sun 31 Oct 2021 01:30 GMT``; seconds only when they are not zero."""
    local = instant.astimezone(zone)
    clock = "%H:%M:%S" if local.second or local.microsecond else "%H:%M"
    return local.strftime(f"%a %d %b %Y {clock} %Z")


def lateness(at: dt.datetime, deadline: dt.datetime, deadline_text: str) -> str:
    """How ``at`` stands against a "not later than" deadline, in words."""
    if at == deadline:
        return f"at the deadline instant {deadline_text}, which is in time (not later than the deadline)"
    if at < deadline:
        return f"{format_duration(deadline - at)} before the deadline {deadline_text}"
    return f"{format_duration(at - deadline)} after the deadline {deadline_text}"
