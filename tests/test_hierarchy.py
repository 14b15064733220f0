"""Distinct persons per unit at every level, the counting every persons indicator stands on,
against a count by hand: a person in two villages of one township counts once for the township,
a person in two townships once for the county, whatever the rows and the mask."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from fpservice.indicators import Hierarchy
from fpservice.units import COUNTY, TOWNSHIP, VILLAGE

VILLAGES = ["330205001001", "330205001002", "330205002001", "330205002002"]
ANCESTRY = pd.DataFrame(
    {VILLAGE: VILLAGES, TOWNSHIP: [v[:9] + "000" for v in VILLAGES], COUNTY: ["330205000000"] * 4}
)
# the report's units: the county, the townships, the villages, and one it has no rows for
UNITS = pd.Index(["330205000000", "330205001000", "330205002000", *VILLAGES, "330205003001"])

row = st.tuples(st.sampled_from([*VILLAGES, "999999999999"]), st.integers(0, 7), st.booleans())
rows = st.lists(row, max_size=40)


def by_hand(data) -> np.ndarray:
    ancestors = {v: {VILLAGE: v, TOWNSHIP: v[:9] + "000", COUNTY: "330205000000"} for v in VILLAGES}
    seen = {unit: set() for unit in UNITS}
    for village, person, selected in data:
        if selected and village in ancestors:
            for unit in ancestors[village].values():
                seen[unit].add(person)
    return np.array([len(seen[unit]) for unit in UNITS])


@settings(max_examples=200, deadline=None)
@given(rows)
def test_distinct_persons_are_recounted_at_every_level(data):
    frame = pd.DataFrame(
        {
            "unit": pd.Categorical([v for v, _, _ in data], categories=[*VILLAGES, "999999999999"]),
            "person": np.array([p for _, p, _ in data], dtype=np.int32),
        }
    )
    mask = np.array([s for _, _, s in data], dtype=bool)
    hierarchy = Hierarchy(ANCESTRY, UNITS)
    expected = by_hand(data)
    assert hierarchy.distinct_persons(frame, mask).tolist() == expected.tolist()
    # the pairs are found once per frame and shared: a second count over the same frame agrees
    assert (
        hierarchy.distinct_persons(frame, ~mask).tolist()
        == by_hand([(v, p, not s) for v, p, s in data]).tolist()
    )
    per_village = hierarchy.distinct_per_village(frame, mask)
    assert per_village.tolist() == expected[3:7].tolist()


@settings(max_examples=200, deadline=None)
@given(st.lists(row, max_size=8, unique_by=lambda r: r[1]))
def test_a_row_per_person_is_counted_as_rows(data):
    """The persons ledger has a row per person: there a distinct count is a count of the
    masked rows (with no hit pairs found), which must give the same numbers."""
    frame = pd.DataFrame(
        {
            "unit": pd.Categorical([v for v, _, _ in data], categories=[*VILLAGES, "999999999999"]),
            "person": np.array([p for _, p, _ in data], dtype=np.int32),
        }
    )
    mask = np.array([s for _, _, s in data], dtype=bool)
    hierarchy = Hierarchy(ANCESTRY, UNITS)
    assert hierarchy.distinct_persons(frame, mask).tolist() == by_hand(data).tolist()
    assert hierarchy.pairs(frame).single is not None
