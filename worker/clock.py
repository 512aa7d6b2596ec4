"""The wall clock, read by the shell alone: the core always takes the time as a parameter, and a
shell takes ``utcnow`` as its default clock so a test can hand it another."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
