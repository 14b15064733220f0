"""Chinese working days: weekends and public holidays off, make-up working days (调休) on.

The official calendar comes from the `chinesecalendar` package. Outside the years it covers,
fpservice counts weekends only; a `Calendar` remembers such years so that the run that needed
them can say so. Each run has its own Calendar: two runs never mix their warnings.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

import chinese_calendar


@cache
def _lookup(day: dt.date) -> tuple[bool, bool]:
    """(is a working day, the official calendar covers the day). A pure function, memoised."""
    try:
        return chinese_calendar.is_workday(day), True
    except NotImplementedError:
        return day.weekday() < 5, False


class Calendar:
    """Working days as one run counts them, and the years it had to count by weekends only."""

    def __init__(self) -> None:
        self.outside_years: set[int] = set()

    def is_workday(self, day: dt.date) -> bool:
        workday, covered = _lookup(day)
        if not covered:
            self.outside_years.add(day.year)
        return workday

    def workday_after(self, day: dt.date, n: int) -> dt.date:
        """The n-th working day strictly after `day` (SPEC §7: even when `day` is a rest day)."""
        d = day
        while n > 0:
            d += dt.timedelta(days=1)
            if self.is_workday(d):
                n -= 1
        return d

    def on_or_after(self, day: dt.date) -> dt.date:
        """`day` if it is a working day, else the next one (how the Civil Code moves a deadline)."""
        while not self.is_workday(day):
            day += dt.timedelta(days=1)
        return day

    def last_before(self, day: dt.date) -> dt.date:
        """The last working day strictly before `day`."""
        day -= dt.timedelta(days=1)
        while not self.is_workday(day):
            day -= dt.timedelta(days=1)
        return day

    def between(self, start: dt.date, end: dt.date) -> int:
        """Working days in (start, end]: how many are left from `start` until `end`."""
        n, d = 0, start
        while d < end:
            d += dt.timedelta(days=1)
            n += self.is_workday(d)
        return n

    def notes(self) -> list[str]:
        """What the run must tell its user about the days it counted."""
        if not self.outside_years:
            return []
        years = "、".join(map(str, sorted(self.outside_years)))
        return [f"警告：{years} 年不在节假日日历范围内，工作日按周一至周五计算。"]
