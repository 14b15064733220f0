"""Conditions (see `conditions`) evaluated over the ledger frames of one window: a boolean mask
over a ledger's rows per condition, each computed once, on numpy."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fpservice import schema
from fpservice.conditions import AllOf, AnyOf, Cohort, Has, Not, Test, WorkdaysAfter
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
        if isinstance(cond, AllOf):
            out = np.ones(n, dtype=bool)
            for part in cond.parts:
                out &= self.mask(part, ledger)
            return out
        if isinstance(cond, AnyOf):
            out = np.zeros(n, dtype=bool)
            for part in cond.parts:
                out |= self.mask(part, ledger)
            return out
        if isinstance(cond, Not):
            return ~self.mask(cond.part, ledger)
        if isinstance(cond, Cohort):
            return self.mask(cond.body, ledger)
        if isinstance(cond, Has):
            return self._has(cond, frame)
        return self._test(cond, frame)

    def _has(self, cond: Has, frame: pd.DataFrame) -> np.ndarray:
        """Rows of `frame` whose person has a matching row in the other ledger (persons are
        numbered across ledgers at load, so this is a bitmap, not a join)."""
        other = self.frames[cond.ledger]
        sel = self.mask(cond.where, cond.ledger)
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
        return has_person(frame["person"].to_numpy(), people)

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
        elif t.op == "age_between":
            out = (col <= _born_by(self.end, t.arg[0])) & (col > _born_by(self.end, t.arg[1] + 1))
        else:  # pragma: no cover - the compiler admits no other operator
            raise AssertionError(t.op)
        return np.asarray(pd.Series(out).fillna(False), dtype=bool)

    def _operand(self, ref, frame: pd.DataFrame):
        """A date reference as numpy datetime64: one day, or a day per row."""
        if isinstance(ref, WorkdaysAfter):
            return _workdays_after(frame[ref.field], ref.days, self.calendar).to_numpy(dtype="datetime64[ns]")
        return self.date(ref).to_datetime64()


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
