"""How the engine speaks to people about time: London local time with the zone shown, and a
"not later than" deadline in words. Every time a person reads goes through here, so one
alert never mixes UTC and BST. (Event types in words: ``streams.contract.event_label``.)"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from agents.durations import format_duration


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
