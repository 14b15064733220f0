"""Conditions (see `conditions`) evaluated over the ledger frames of one window: a boolean mask
over a ledger's rows per condition, each computed once, on numpy."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fpservice import schema
from fpservice.conditions import AllOf, AnyOf, Cohort, Has, Not, Test, WorkdaysAfter, fields_read
from fpservice.persons import has_person
from fpservice.workdays import Calendar


@dataclass
class Scope:
    """What conditions are evaluated against: the frames and one window. Scopes over the same
    frames may share `shared`, where masks that do not depend on the window are kept (a
    service's item or place is the same in every window)."""

    frames: dict[str, pd.DataFrame]
    start: dt.date
    end: dt.date
    plan_start: dt.date
    shared: dict | None = None
    calendar: Calendar = field(default_factory=Calendar)  # the run's, whose notes it shows

    def __post_init__(self):
        self._cache: dict = {}
        if self.shared is None:
            self.shared = {}

    def date(self, ref) -> pd.Timestamp:
        day = {
            "start": self.start,
            "end": self.end,
            "plan_start": self.plan_start,
            "year_start": dt.date(self.end.year, 1, 1),
        }[ref]
        return pd.Timestamp(day)

    def mask(self, cond, ledger: str) -> np.ndarray:
        """Boolean mask over the rows of `ledger` where `cond` holds (cached per node)."""
        key = (cond, ledger)
        cache = self.shared if _window_free(cond) else self._cache
        if key not in cache:
            cache[key] = self._evaluate(cond, ledger)
        return cache[key]

    def _evaluate(self, cond, ledger: str) -> np.ndarray:
        frame = self.frames[ledger]
        n = len(frame)
        if isinstance(cond, (AllOf, AnyOf)):
            return _combined([self.mask(part, ledger) for part in cond.parts], n, isinstance(cond, AllOf))
        if isinstance(cond, Not):
            return ~self.mask(cond.part, ledger)
        if isinstance(cond, Cohort):
            return self.mask(cond.body, ledger)
        if isinstance(cond, Has):
            return self._has(cond, frame, ledger)
        return self._test(cond, frame)

    def _has(self, cond: Has, frame: pd.DataFrame, ledger: str) -> np.ndarray:
        """Rows of `frame` whose person has a matching row in the other ledger (persons are
        numbered across ledgers at load, so this is a bitmap, not a join)."""
        other, sel = self._rows_where(cond.where, cond.ledger, cond.distinct_field)
        if cond.distinct_field:  # persons with at least n distinct (non-blank) values
            rows = np.flatnonzero(sel)
            person = other["person"].to_numpy()[rows].astype(np.int64)
            value, distinct = pd.factorize(other[cond.distinct_field].iloc[rows])
            known = value >= 0
            pairs = pd.unique(person[known] * max(len(distinct), 1) + value[known])
            counts = np.bincount(pairs // max(len(distinct), 1))
            people = np.flatnonzero(counts >= cond.at_least)
        else:
            people = other["person"].to_numpy()[sel]
        persons = frame["person"].to_numpy()
        return has_person(persons, people, dense=self._dense(ledger, persons))

    def _dense(self, ledger: str, persons: np.ndarray) -> bool:
        """Whether row i of `ledger` is person i (the persons ledger, as persons are numbered)."""
        key = ("dense", ledger)
        if key not in self.shared:
            self.shared[key] = bool((persons == np.arange(len(persons))).all())
        return self.shared[key]

    def _rows_where(self, where: AllOf, ledger: str, also: str | None) -> tuple[pd.DataFrame, np.ndarray]:
        """(rows, mask over them) of `ledger` where `where` holds. When it joins conditions that
        hold in every window with tests of the window's (a service's item and place, and its
        date), the rows that pass the former are taken once, with the columns the tests and the
        caller (`person`, `also`) read, and each window tests only those: its masks and the
        persons it picks out are a fraction of the ledger's length."""
        frame = self.frames[ledger]
        fixed, moving = _split(where)
        if not fixed or not moving or not all(isinstance(t, Test) for t in moving):
            return frame, self.mask(where, ledger)
        key = ("rows", AllOf(fixed), ledger, also)
        if key not in self.shared:
            rows = np.flatnonzero(self.mask(AllOf(fixed), ledger))
            fields = {"person", *([also] if also else []), *fields_read(AllOf(moving), ledger)[ledger]}
            self.shared[key] = _taken(frame, sorted(fields), rows)
        taken = self.shared[key]
        return taken, _combined([self._test(t, taken) for t in moving], len(taken), True)

    def _test(self, t: Test, frame: pd.DataFrame) -> np.ndarray:
        col = frame[t.field]
        if t.shift:
            col = _workdays_after(col, t.shift, self.calendar)
        if t.op in ("eq", "in") and isinstance(col.dtype, pd.CategoricalDtype):
            # A few categories, millions of rows: test the categories, then look rows up by code.
            wanted = [t.arg] if t.op == "eq" else list(t.arg)
            return _codes_in(col.cat.codes.to_numpy(), np.flatnonzero(col.cat.categories.isin(wanted)))
        if t.op == "eq":
            out = col == t.arg
        elif t.op == "in":
            out = col.isin(t.arg)
        elif t.op == "blank":
            blank = (col == 0) if col.dtype == "int64" else col.isna()
            out = blank if t.arg else ~blank
        elif t.op == "yes":
            out = col.fillna(False) == t.arg
        elif t.op in ("on_or_before", "on_or_after", "between"):
            # On numpy's datetime64 (NaT compares false, as a blank date should), not pandas'.
            day = col.to_numpy(dtype="datetime64[ns]")
            if t.op == "on_or_before":
                return day <= self._operand(t.arg, frame)
            if t.op == "on_or_after":
                return day >= self._operand(t.arg, frame)
            return (day >= self._operand(t.arg[0], frame)) & (day <= self._operand(t.arg[1], frame))
        elif t.op == "has_all":
            vocab = schema.VOCABULARIES[t.field]
            need = sum(1 << vocab.index(v) for v in t.arg)
            out = (col & need) == need
        elif t.op == "age_between":  # on numpy's datetime64, as dates above
            day = col.to_numpy(dtype="datetime64[ns]")
            youngest = _born_by(self.end, t.arg[0]).to_datetime64()
            return (day <= youngest) & (day > _born_by(self.end, t.arg[1] + 1).to_datetime64())
        else:  # pragma: no cover - the compiler admits no other operator
            raise AssertionError(t.op)
        return np.asarray(pd.Series(out).fillna(False), dtype=bool)

    def _operand(self, ref, frame: pd.DataFrame):
        """A date reference as numpy datetime64: one day, or a day per row."""
        if isinstance(ref, WorkdaysAfter):
            return _workdays_after(frame[ref.field], ref.days, self.calendar).to_numpy(dtype="datetime64[ns]")
        return self.date(ref).to_datetime64()


def _combined(masks: list[np.ndarray], n: int, every: bool) -> np.ndarray:
    """The parts' masks and-ed (`every`) or or-ed into a new array (the parts' are cached)."""
    if not masks:
        return np.full(n, every, dtype=bool)
    if len(masks) == 1:
        return masks[0].copy()
    join = np.logical_and if every else np.logical_or
    out = join(masks[0], masks[1])
    for mask in masks[2:]:
        join(out, mask, out=out)
    return out


def _split(cond: AllOf) -> tuple[tuple, tuple]:
    """The conditions `cond` joins (its cohorts' too): those that hold in every window, and the
    others."""
    parts: list = []
    todo = list(cond.parts)
    while todo:
        part = todo.pop(0)
        if isinstance(part, Cohort):
            part = part.body
        if isinstance(part, AllOf):
            todo[:0] = part.parts
        else:
            parts.append(part)
    return tuple(p for p in parts if _window_free(p)), tuple(p for p in parts if not _window_free(p))


def _taken(frame: pd.DataFrame, fields: list[str], rows: np.ndarray) -> pd.DataFrame:
    """The `rows` of `frame`'s `fields`, by numpy where a column is a numpy array (a quarter
    of what pandas' take costs)."""
    columns = {}
    for name in fields:
        col = frame[name]
        columns[name] = col.to_numpy()[rows] if isinstance(col.dtype, np.dtype) else col.array.take(rows)
    return pd.DataFrame(columns, copy=False)


@functools.cache
def _window_free(cond) -> bool:
    """Whether a condition gives the same rows in every window: it compares no date with the
    window's start or end (a date against another field's, as workdays_after does, is free)."""
    if isinstance(cond, Test):
        if cond.op == "age_between":
            return False
        if cond.op in ("on_or_before", "on_or_after", "between"):
            refs = cond.arg if cond.op == "between" else (cond.arg,)
            return not any(isinstance(ref, str) for ref in refs)
        return True
    if isinstance(cond, (AllOf, AnyOf)):
        return all(_window_free(part) for part in cond.parts)
    if isinstance(cond, Not):
        return _window_free(cond.part)
    if isinstance(cond, Cohort):
        return _window_free(cond.body)
    if isinstance(cond, Has):
        return _window_free(cond.where)
    return False


def _codes_in(codes: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Rows whose categorical code is among `wanted` (never a blank, code -1). A test or two on
    the small integer codes themselves: indexing a table by them would widen every code first."""
    if len(wanted) > 4:
        return np.append(np.isin(np.arange(codes.max(initial=0) + 1), wanted), False)[codes]
    out = np.zeros(len(codes), dtype=bool)
    for code in wanted.tolist():
        out |= codes == code
    return out


def _workdays_after(dates: pd.Series, n: int, calendar: Calendar) -> pd.Series:
    """Each date's n-th working day after it, computed once per distinct date."""
    table = {
        d: pd.Timestamp(calendar.workday_after(pd.Timestamp(d).date(), n)) for d in dates.dropna().unique()
    }
    return dates.map(table).astype("datetime64[ns]")


def _born_by(on: dt.date, years: int) -> pd.Timestamp:
    """The last birth date at which a person is `years` old (in whole years) on `on`: the same
    day `years` earlier, or 02-28 when that year has no 02-29. Comparing birth dates with it
    gives the age without computing one per person."""
    year = on.year - years
    try:
        return pd.Timestamp(on.replace(year=year))
    except ValueError:  # 02-29 in a year without it
        return pd.Timestamp(dt.date(year, 2, 28))
