"""Reporting periods (SPEC §3): quarters, year-to-date, date ranges and plan phases."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from fpservice.errors import UsageError
from fpservice.spelling import DATE_SPELLINGS, day_of

_QUARTER = re.compile(r"^\s*(\d{4})\s*[Qq]([1-4])\s*$")
# Reports, deadlines and working days are worked out for these years: with a year or two either
# side, a date outside them is a typo (0000Q1, 9999-12-31)
YEARS = range(1900, 2100)


@dataclass(frozen=True)
class Window:
    """A named date range [start, end], both inclusive. `kind`: quarter, ytd, phase or range.
    A phase that has not ended by the report's quarter end is cut there and `in_progress`."""

    label: str
    start: dt.date
    end: dt.date
    kind: str = "range"
    in_progress: bool = False


def parse_quarter(text: str) -> tuple[int, int]:
    m = _QUARTER.match(text or "")
    if not m:
        raise UsageError(f"季度应写作 2011Q3：{text}")
    year = int(m.group(1))
    if year not in YEARS:
        raise UsageError(f"季度的年份应在 {YEARS[0]}–{YEARS[-1]} 年之间：{text}")
    return year, int(m.group(2))


def parse_quarter_label(text: str) -> str:
    """A quarter as written in reports and file names: 2011Q3 (from 2011q3, ` 2011Q3 `)."""
    year, q = parse_quarter(text)
    return f"{year}Q{q}"


def quarter_bounds(year: int, q: int) -> tuple[dt.date, dt.date]:
    start = dt.date(year, 3 * q - 2, 1)
    end = dt.date(year, 12, 31) if q == 4 else dt.date(year, 3 * q + 1, 1) - dt.timedelta(days=1)
    return start, end


def quarter_windows(year: int, q: int) -> tuple[Window, Window]:
    """The quarter alone (本期) and year-to-date (累计)."""
    start, end = quarter_bounds(year, q)
    return (
        Window(f"{year}Q{q}", start, end, "quarter"),
        Window(f"{year}Q1-{year}Q{q}", dt.date(year, 1, 1), end, "ytd"),
    )


def trend_windows(year: int, q: int) -> list[Window]:
    """Year-to-date at the end of each earlier quarter of the year (the trend up to `q`)."""
    return [replace_kind(quarter_windows(year, k)[1], "trend") for k in range(1, q)]


def replace_kind(window: Window, kind: str) -> Window:
    return Window(window.label, window.start, window.end, kind)


def as_of_window(day: dt.date) -> Window:
    """Year-to-date up to a day, as `check --as-of` judges it."""
    start = dt.date(day.year, 1, 1)
    return Window(f"{start.isoformat()}..{day.isoformat()}", start, day, "ytd")


def parse_date(text: str) -> dt.date:
    """A date given in an option, in any spelling a ledger cell may use."""
    day = day_of(str(text))
    if day is None:
        raise UsageError(f"日期无法识别或不存在：{text}（可写作 {DATE_SPELLINGS}）")
    if day.year not in YEARS:
        raise UsageError(f"日期的年份应在 {YEARS[0]}–{YEARS[-1]} 年之间：{text}")
    return day
