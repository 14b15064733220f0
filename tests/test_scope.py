"""Conditions evaluated over frames: each test a mask over a ledger's rows."""

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fpservice import conditions, scope


@given(
    birth=st.dates(dt.date(1900, 1, 1), dt.date(2030, 12, 31)),
    on=st.dates(dt.date(1950, 1, 1), dt.date(2030, 12, 31)),
    low=st.integers(0, 60),
    span=st.integers(0, 40),
)
@example(birth=dt.date(1997, 3, 1), on=dt.date(2012, 2, 29), low=15, span=34)  # 14 on 02-29
@example(birth=dt.date(1997, 2, 28), on=dt.date(2012, 2, 29), low=15, span=34)  # 15
@example(birth=dt.date(1962, 3, 1), on=dt.date(2012, 2, 29), low=15, span=34)  # 49
@example(birth=dt.date(1962, 2, 28), on=dt.date(2012, 2, 29), low=15, span=34)  # 50
@settings(max_examples=400, deadline=None)
def test_age_between_counts_whole_years_on_the_window_end(birth, on, low, span):
    """`birth: {age_between: [low, high]}` compares birth dates with cut-off days instead of
    computing ages: it must agree with whole years reached on the end day, 02-29 included."""
    high = low + span
    age = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    frame = pd.DataFrame({"birth": pd.Series([pd.Timestamp(birth)], dtype="datetime64[ns]")})
    window = scope.Scope({"persons": frame}, dt.date(on.year, 1, 1), on, dt.date(on.year, 1, 1))
    got = window.mask(conditions.Test("birth", "age_between", (low, high)), "persons")
    assert bool(got[0]) == (low <= age <= high)


@given(
    codes=st.lists(st.integers(-1, 9), max_size=40),
    wanted=st.sets(st.integers(0, 9), max_size=10),
)
def test_category_tests_match_a_lookup_by_code(codes, wanted):
    """`item: {in: [...]}` on a categorical column tests its codes (by equality for a few
    wanted categories, by a table for more); a blank (-1) is never among them."""
    codes = np.array(codes, dtype=np.int8)
    got = scope._codes_in(codes, np.array(sorted(wanted), dtype=np.int64))
    assert got.tolist() == [c >= 0 and c in wanted for c in codes.tolist()]
