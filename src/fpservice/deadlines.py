"""Quarterly reporting deadlines (SPEC §3, plan 002): the 5th of the month after each quarter,
moved to the next working day when it is a rest day, as the Civil Code counts periods."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from fpservice.workdays import Calendar

# SPEC §3, from plan 002: "分别于1月5日、4月5日、7月5日和10月5日上报". Plans may set their own.
QUARTERLY = ((1, 5), (4, 5), (7, 5), (10, 5))


@dataclass(frozen=True)
class Deadline:
    year: int  # of the quarter reported
    quarter: int
    nominal: dt.date  # the date the plan names
    due: dt.date  # the nominal date, or the next working day
    last_workday_before: dt.date | None  # when the nominal date falls in rest days: the day offices close

    @property
    def label(self) -> str:
        return f"{self.year}Q{self.quarter}"

    @property
    def moved(self) -> bool:
        return self.due != self.nominal

    def workdays_left(self, today: dt.date, calendar: Calendar) -> int:
        """Working days from `today` to the deadline, both counted."""
        if today > self.due:
            return 0
        return calendar.between(today - dt.timedelta(days=1), self.due)


def _quarter_reported(month: int, year: int) -> tuple[int, int]:
    """A deadline in `month` reports the quarter that ended before that month."""
    q = (month - 1) // 3  # 0 for Jan-Mar: the previous year's Q4
    return (year - 1, 4) if q == 0 else (year, q)


def deadline(nominal: dt.date, calendar: Calendar) -> Deadline:
    year, q = _quarter_reported(nominal.month, nominal.year)
    due = calendar.on_or_after(nominal)
    last = None
    if due != nominal:
        first_rest = nominal
        while not calendar.is_workday(first_rest - dt.timedelta(days=1)):
            first_rest -= dt.timedelta(days=1)
        last = calendar.last_before(first_rest)
    return Deadline(year, q, nominal, due, last)


def next_deadline(today: dt.date, calendar: Calendar, schedule=QUARTERLY) -> Deadline:
    """The first deadline (after moving) on or after `today`."""
    for year in (today.year, today.year + 1):
        for month, day in sorted(schedule):
            d = deadline(dt.date(year, month, day), calendar)
            if d.due >= today:
                return d
    raise AssertionError("a quarterly schedule always has a deadline within a year")
