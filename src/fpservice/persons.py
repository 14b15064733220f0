"""Persons as dense numbers: every ID number across all ledgers gets one small integer at load,
so that "has this person a service?" or "how many distinct persons has a unit?" is a bitmap
over those numbers, not a join or a hash of strings."""

from __future__ import annotations

import numpy as np
import pandas as pd


def number_persons(ids: list[np.ndarray]) -> list[np.ndarray]:
    """One dense number per distinct ID key across the arrays (one per ledger), in the arrays'
    shapes: the same ID has the same number in every ledger."""
    keys = np.concatenate(ids)
    numbers, _ = pd.factorize(keys, size_hint=len(keys))  # sized once: no rehashing as it grows
    bounds = np.cumsum([0, *map(len, ids)])
    return [numbers[a:b].astype(np.int32) for a, b in zip(bounds[:-1], bounds[1:])]


def has_person(persons: np.ndarray, people: np.ndarray, dense: bool = False) -> np.ndarray:
    """For rows with `persons` numbers: is the person among `people`? `dense`: `persons` is
    0, 1, 2 … (a ledger of one row per person, in the order persons were numbered), so the
    marks are the answer, with no lookup per row."""
    size = max(len(persons) if dense else int(persons.max(initial=-1)) + 1, int(people.max(initial=-1)) + 1)
    mark = np.zeros(size, dtype=bool)
    mark[people] = True
    return mark[: len(persons)] if dense else mark[persons]
