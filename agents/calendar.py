"""Calendar deadlines in Europe/London: next school day, working days, local-time windows.

These are the only clocks that look at a calendar. Legal elapsed-time clocks never do. Every
function takes and returns aware UTC datetimes and does its calendar arithmetic on local
dates, turning local wall times back into instants with zoneinfo. So "08:45 on the next
school day" is 08:45 on that day whether it is GMT or BST, including on the days the clocks
change. A wall time that does not exist (01:30 on the spring-forward day) resolves to the
instant after the gap; an ambiguous one (01:30 on the fall-back day) to its first occurrence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from zoneinfo import ZoneInfo

import holidays

UTC = dt.UTC


@dataclass(frozen=True)
class Calendar:
    timezone: str = "Europe/London"
    school_holidays: tuple[tuple[dt.date, dt.date], ...] = ()
    """Inclusive date ranges when schools are closed, beyond weekends and bank holidays."""
    extra_closures: frozenset[dt.date] = field(default_factory=frozenset)

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def _bank_holidays(self) -> holidays.HolidayBase:
        # England and Wales share their bank holidays; the library keeps them current.
        return holidays.country_holidays("GB", subdiv="ENG")

    def is_bank_holiday(self, day: dt.date) -> bool:
        return day in self._bank_holidays

    def is_working_day(self, day: dt.date) -> bool:
        return day.weekday() < 5 and not self.is_bank_holiday(day) and day not in self.extra_closures

    def is_school_day(self, day: dt.date) -> bool:
        return self.is_working_day(day) and not any(a <= day <= b for a, b in self.school_holidays)

    def local(self, instant: dt.datetime) -> dt.datetime:
        return instant.astimezone(self.zone)

    def at_local(self, day: dt.date, wall: dt.time) -> dt.datetime:
        """The instant when local clocks show ``wall`` on ``day`` (see module note on gaps and folds)."""
        # PEP 495, fold=0: a time in the spring-forward gap uses the pre-gap offset, which lands
        # after the gap; an ambiguous autumn time is its first (BST) occurrence.
        return dt.datetime.combine(day, wall, tzinfo=self.zone).astimezone(UTC)

    # ------------------------------------------------------------------ deadlines
    def next_school_day_start(self, after: dt.datetime, start: dt.time) -> dt.datetime:
        """The first start of a school day strictly after ``after``."""
        day = self.local(after).date()
        for _ in range(400):
            if self.is_school_day(day):
                candidate = self.at_local(day, start)
                if candidate > after:
                    return candidate
            day += dt.timedelta(days=1)
        raise ValueError("no school day within 400 days: check the school holidays")

    def add_working_days(self, start: dt.datetime, days: int) -> dt.datetime:
        """The same local time of day, ``days`` working days later (weekends and bank holidays skipped)."""
        local = self.local(start)
        day, remaining = local.date(), days
        while remaining > 0:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return self.at_local(day, local.time().replace(tzinfo=None))

    def same_day_by(self, start: dt.datetime, by: dt.time, least: dt.timedelta) -> dt.datetime:
        """``by`` local time on the local day ``start`` falls on, or ``start + least`` if that is
        later: a clock started at 23:30 is not breached at 23:59."""
        return max(self.at_local(self.local(start).date(), by), start + least)

    def window_start(self, at: dt.datetime, start: dt.time, end: dt.time) -> dt.datetime:
        """``at`` itself if it falls inside the daily local window [start, end), else the window's
        next opening. The window may run past midnight (22:00–07:00)."""
        if self.in_window(at, start, end):
            return at
        day = self.local(at).date()
        for offset in range(3):
            candidate = self.at_local(day + dt.timedelta(days=offset), start)
            if candidate > at:
                return candidate
        raise AssertionError("a daily window opens within two days")  # pragma: no cover

    def in_window(self, at: dt.datetime, start: dt.time, end: dt.time) -> bool:
        wall = self.local(at).time().replace(tzinfo=None)
        if start <= end:
            return start <= wall < end
        return wall >= start or wall < end


def parse_holidays(ranges: Iterable[tuple[dt.date, dt.date]]) -> tuple[tuple[dt.date, dt.date], ...]:
    out = []
    for a, b in ranges:
        if b < a:
            raise ValueError(f"school holiday ends ({b}) before it starts ({a})")
        out.append((a, b))
    return tuple(sorted(out))
