"""Numerators and denominators of one indicator over one window, for every unit at every level.

Persons are counted once per unit by ID, and recounted at each level (a person registered in two
villages of a township counts once in their township). Rows are summed. A requirement (staffing)
is computed per village and its staff and required counts are summed up the hierarchy.

Counting runs on integers: each ledger row is coded once with its village's position, and every
person has a dense number (`person`, given at load). A frame's distinct (village, person) pairs,
and a level's (unit, person) pairs above them, are found once (`Hierarchy.pairs`; a pair is a
person when everyone is in one village), so a distinct count is a bit set over pairs.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fpservice.rules import PERSONS, REQUIREMENT, Indicator
from fpservice.scope import Scope
from fpservice.units import LEVELS, VILLAGE


class Hierarchy:
    """The units of a report, the villages with their township and county, and ledger rows coded
    against them. Counts come out as arrays over the report's units, in their order."""

    def __init__(self, ancestry: pd.DataFrame, units: pd.Index):
        self.villages = pd.Index(ancestry[VILLAGE].to_numpy(dtype=object))
        self.size = len(units)
        # per level: (position of each village's unit at that level, the number of such units,
        # where each of them is among the report's units, or -1)
        self.levels = {}
        for level in LEVELS:
            at, codes = pd.factorize(ancestry[level].to_numpy(dtype=object))
            self.levels[level] = (at, len(codes), units.get_indexer(codes))
        self._coded: dict[int, tuple] = {}
        self._pairs: dict[int, tuple] = {}

    def fresh(self) -> Hierarchy:
        """The same units, with none of the frames coded yet (the codings hold their frames)."""
        other = copy.copy(self)
        other._coded, other._pairs = {}, {}
        return other

    def coded(self, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None, int]:
        """-> (village position per row or -1, person number per row, number of persons)."""
        key = id(frame)
        if key not in self._coded:
            unit = frame["unit"]  # categorical: look each code up once
            at = self.villages.get_indexer(unit.cat.categories.to_numpy(dtype=object))
            codes = unit.cat.codes.to_numpy()
            village = np.where(codes >= 0, np.append(at, -1)[codes], -1)
            person, n = None, 0
            if "person" in frame:  # int32 like the villages: half the bytes for every mask to move
                person = frame["person"].to_numpy().astype(np.int32, copy=False)
                n = int(person.max()) + 1 if len(person) else 1
            self._coded[key] = (frame, (village.astype(np.int32), person, n))  # keeps `frame` alive
        return self._coded[key][1]

    def pairs(self, frame: pd.DataFrame) -> _Pairs:
        """The frame's distinct (village, person) pairs, and above them each level's distinct
        (unit, person) pairs: found once per frame, and shared by every count over it."""
        key = id(frame)
        if key not in self._pairs:
            village, person, n = self.coded(frame)
            valid = village >= 0
            home = np.full(n, -1, dtype=np.int32)
            home[person[valid]] = village[valid]
            if (home[person[valid]] == village[valid]).all():  # as nearly always: a pair is a person
                one_row = np.count_nonzero(home >= 0) == np.count_nonzero(valid)  # and has one row
                row = np.where(valid, person, n).astype(np.int32)
                pairs = _Pairs(row, home, {}, village if one_row else None)
            else:  # someone is in two villages: pairs found once, and at each level above
                found, uniques = pd.factorize(village[valid].astype(np.int64) * n + person[valid])
                row = np.full(len(village), len(uniques), dtype=np.int32)
                row[valid] = found
                pair_village, pair_person = np.divmod(uniques, n)
                above = {}
                for level in LEVELS:
                    if level != VILLAGE:
                        at = self.levels[level][0][pair_village]
                        up, unit_pairs = pd.factorize(at.astype(np.int64) * n + pair_person)
                        above[level] = (up.astype(np.int32), (unit_pairs // n).astype(np.int32))
                pairs = _Pairs(row, pair_village.astype(np.int32), above)
            self._pairs[key] = (frame, pairs)  # keeps `frame` alive, as `coded` does
        return self._pairs[key][1]

    def distinct_per_village(self, frame: pd.DataFrame, mask: np.ndarray) -> np.ndarray:
        pairs = self.pairs(frame)
        return np.bincount(pairs.village[pairs.hit(mask)], minlength=len(self.villages))

    def distinct_persons(self, frame: pd.DataFrame, mask: np.ndarray) -> np.ndarray:
        pairs = self.pairs(frame)
        if pairs.single is not None:  # a row per person (the persons ledger): count the rows
            village = pairs.single[mask]
            village, hit = village[village >= 0], None
        else:
            hit = pairs.hit(mask)
            village = pairs.village[hit]
        if not pairs.above:  # everyone in one village: a unit's persons are its villages' added up
            return self.sum_up(np.bincount(village, minlength=len(self.villages)))
        out = np.zeros(self.size, dtype=np.int64)
        for level in LEVELS:
            at, size, where = self.levels[level]
            up = pairs.above.get(level)
            if up is None:  # villages, or persons each in one village: a pair is counted once
                counts = np.bincount(at[village], minlength=size)
            else:
                found, unit = up
                mark = np.zeros(len(unit), dtype=bool)
                mark[found[hit]] = True
                counts = np.bincount(unit[mark], minlength=size)
            _place(out, counts, where)
        return out

    def rows_per_village(self, frame: pd.DataFrame, mask: np.ndarray) -> np.ndarray:
        village = self.coded(frame)[0]
        return np.bincount(village[mask & (village >= 0)], minlength=len(self.villages))

    def sum_up(self, per_village: np.ndarray) -> np.ndarray:
        out = np.zeros(self.size, dtype=np.int64)
        for at, size, where in self.levels.values():
            _place(out, np.bincount(at, weights=per_village, minlength=size).astype(np.int64), where)
        return out


def _place(out: np.ndarray, counts: np.ndarray, where: np.ndarray) -> None:
    """Counts of a level's units into the report's units (a unit not in the report is left out;
    a report unit without villages keeps 0)."""
    known = where >= 0
    out[where[known]] = counts[known]


@dataclass
class _Pairs:
    """A frame's distinct (village, person) pairs: each row's pair (the number of pairs for a row
    without a village), each pair's village, and for each level above the village, when a person
    is in two villages, each pair's (unit, person) pair there and that pair's unit. With every
    person in one village, a pair is a person and is one pair at every level (`above` is empty)."""

    row: np.ndarray
    village: np.ndarray
    above: dict[str, tuple[np.ndarray, np.ndarray]]
    single: np.ndarray | None = None  # when every pair has one row and `above` is empty: each row's village

    def hit(self, mask: np.ndarray) -> np.ndarray:
        """The pairs with a row in `mask`: a bit set over the pairs, not a hash of them."""
        mark = np.zeros(len(self.village) + 1, dtype=bool)
        mark[self.row[mask]] = True
        return np.flatnonzero(mark[:-1])


def partial(indicator: Indicator, scope: Scope, hierarchy: Hierarchy) -> tuple[np.ndarray, ...]:
    """Counts that add up across partitions of persons (every person's rows in one partition):
    numerator and denominator per report unit (distinct persons are disjoint between
    partitions, rows too); for a requirement, the staff and the cohorts' persons per village,
    since the required count is rounded up per village only once they are all counted."""
    if indicator.count == REQUIREMENT:
        return _requirement_parts(indicator, scope, hierarchy)
    frame = scope.frames[indicator.ledger]
    den_mask = scope.mask(indicator.denominator, indicator.ledger)
    num_mask = den_mask & scope.mask(indicator.numerator, indicator.ledger)
    if indicator.count == PERSONS:
        return hierarchy.distinct_persons(frame, num_mask), hierarchy.distinct_persons(frame, den_mask)
    return (
        hierarchy.sum_up(hierarchy.rows_per_village(frame, num_mask)),
        hierarchy.sum_up(hierarchy.rows_per_village(frame, den_mask)),
    )


def finish(indicator: Indicator, parts: tuple[np.ndarray, ...], hierarchy: Hierarchy):
    """-> (numerator, denominator) from the partial counts (summed over every partition)."""
    if indicator.count != REQUIREMENT:
        return parts
    have, *present = parts
    required = np.full(len(hierarchy.villages), indicator.at_least, dtype="int64")
    for persons, (_, divisor) in zip(present, indicator.per):
        required = np.maximum(required, np.ceil(persons / divisor).astype("int64"))
    return hierarchy.sum_up(have), hierarchy.sum_up(required)


def _requirement_parts(indicator: Indicator, scope: Scope, hierarchy: Hierarchy) -> tuple[np.ndarray, ...]:
    staff = scope.frames[indicator.ledger]
    have = hierarchy.rows_per_village(staff, scope.mask(indicator.numerator, indicator.ledger))
    persons = scope.frames["persons"]
    present = [
        hierarchy.distinct_per_village(persons, scope.mask(cohort, "persons")) for cohort, _ in indicator.per
    ]
    return (have.astype(np.int64), *(p.astype(np.int64) for p in present))
