"""Chinese working days: weekends and public holidays off, make-up working days (调休) on.

The official calendar comes from the `chinesecalendar` package. Outside the years it covers,
fpservice counts weekends only and records the year in `outside_years`, so the CLI can warn.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

import chinese_calendar

outside_years: set[int] = set()


@cache
def _lookup(day: dt.date) -> tuple[bool, bool]:
    """(is a working day, the official calendar covers the day)."""
    try:
        return chinese_calendar.is_workday(day), True
    except NotImplementedError:
        return day.weekday() < 5, False


def is_workday(day: dt.date) -> bool:
    workday, covered = _lookup(day)
    if not covered:
        outside_years.add(day.year)
    return workday


def start_run() -> None:
    """Forget the years noted by an earlier run in this process."""
    outside_years.clear()


def workday_after(day: dt.date, n: int) -> dt.date:
    """The n-th working day strictly after `day` (SPEC §7: even when `day` is a rest day)."""
    d = day
    while n > 0:
        d += dt.timedelta(days=1)
        if is_workday(d):
            n -= 1
    return d


def on_or_after(day: dt.date) -> dt.date:
    """`day` if it is a working day, else the next one (how the Civil Code moves a deadline)."""
    while not is_workday(day):
        day += dt.timedelta(days=1)
    return day


def last_before(day: dt.date) -> dt.date:
    """The last working day strictly before `day`."""
    day -= dt.timedelta(days=1)
    while not is_workday(day):
        day -= dt.timedelta(days=1)
    return day


def between(start: dt.date, end: dt.date) -> int:
    """Working days in (start, end]: how many are left from `start` until `end`."""
    n, d = 0, start
    while d < end:
        d += dt.timedelta(days=1)
        n += is_workday(d)
    return n
