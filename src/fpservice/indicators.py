"""Numerators and denominators of one indicator over one window, for every unit at every level.

Persons are counted once per unit by ID, and recounted at each level (a person registered in two
villages of a township counts once in the township). Rows are summed. A requirement (staffing)
is computed per village and its staff and required counts are summed up the hierarchy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fpservice.conditions import Scope
from fpservice.rules import Indicator
from fpservice.units import LEVELS, VILLAGE


def evaluate(indicator: Indicator, scope: Scope, ancestry: pd.DataFrame, all_units: pd.Index) -> pd.DataFrame:
    """-> frame indexed by unit code (every unit in `all_units`): numerator, denominator."""
    if indicator.count == "requirement":
        num, den = _requirement(indicator, scope, ancestry)
    else:
        frame = scope.frames[indicator.ledger]
        den_mask = scope.mask(indicator.denominator, indicator.ledger)
        num_mask = den_mask & scope.mask(indicator.numerator, indicator.ledger)
        count = _distinct_persons if indicator.count == "persons" else _rows
        num = count(frame, num_mask, ancestry)
        den = count(frame, den_mask, ancestry)
    out = pd.DataFrame({"numerator": num, "denominator": den}).reindex(all_units)
    return out.fillna(0).astype("int64")


def _distinct_persons(frame: pd.DataFrame, mask: np.ndarray, ancestry: pd.DataFrame) -> pd.Series:
    pairs = frame.loc[mask, ["unit", "pid"]].drop_duplicates()
    pairs = pairs.merge(ancestry, left_on="unit", right_on=VILLAGE, how="inner")
    parts = [pairs[[level, "pid"]].drop_duplicates().groupby(level).size() for level in LEVELS]
    return pd.concat(parts)


def _rows(frame: pd.DataFrame, mask: np.ndarray, ancestry: pd.DataFrame) -> pd.Series:
    per_village = frame.loc[mask, "unit"].value_counts()
    return _sum_up(per_village, ancestry)


def _sum_up(per_village: pd.Series, ancestry: pd.DataFrame) -> pd.Series:
    v = ancestry.assign(n=per_village.reindex(ancestry[VILLAGE]).fillna(0).to_numpy())
    parts = [v.groupby(level)["n"].sum() for level in LEVELS]
    return pd.concat(parts)


def _requirement(indicator: Indicator, scope: Scope, ancestry: pd.DataFrame):
    staff = scope.frames[indicator.ledger]
    have = staff.loc[scope.mask(indicator.numerator, indicator.ledger), "unit"].value_counts()
    villages = ancestry[VILLAGE]
    required = pd.Series(indicator.at_least, index=villages.to_numpy(), dtype="int64")
    persons = scope.frames["persons"]
    for cohort, divisor in indicator.per:
        mask = scope.mask(cohort, "persons")
        counts = persons.loc[mask, ["unit", "pid"]].drop_duplicates()["unit"].value_counts()
        need = np.ceil(counts.reindex(villages).fillna(0).to_numpy() / divisor).astype("int64")
        required = np.maximum(required, need)
    return _sum_up(have, ancestry), _sum_up(pd.Series(required, index=villages.to_numpy()), ancestry)
