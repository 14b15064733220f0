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


_ITEMS = ["孕检", "环检", "培训"]


@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 7),  # person
            st.sampled_from([*_ITEMS, None]),
            st.sampled_from([True, False, None]),
            st.one_of(st.none(), st.dates(dt.date(2011, 1, 1), dt.date(2011, 12, 31))),
        ),
        max_size=40,
    ),
    items=st.sets(st.sampled_from(_ITEMS), min_size=1),
    quarter=st.integers(1, 4),
    at_least=st.integers(1, 3),
    order=st.permutations(range(8)),
)
@settings(max_examples=200, deadline=None)
def test_has_over_the_rows_that_hold_in_every_window_picks_the_same_persons(
    rows, items, quarter, at_least, order
):
    """`has` takes the rows that pass its window-free conditions once and tests the window's
    dates on those only: the persons it finds must be those a plain filter of every row finds,
    in every window, with and without a number of distinct dates."""
    services = pd.DataFrame(
        {
            "person": pd.Series([r[0] for r in rows], dtype="int32"),
            "item": pd.Categorical([r[1] for r in rows], categories=_ITEMS),
            "free": pd.array([r[2] for r in rows], dtype="boolean"),
            "date": pd.Series([r[3] for r in rows], dtype="datetime64[ns]"),
        }
    )
    # the persons ledger: row i is person i as numbered at load (`dense`), or in another order
    persons = pd.DataFrame({"person": np.array(order, dtype=np.int32)})
    frames = {"persons": persons, "services": services}
    start = dt.date(2011, 3 * quarter - 2, 1)
    end = (pd.Timestamp(start) + pd.offsets.QuarterEnd(0)).date()
    free_here = conditions.Cohort(
        "free_here",
        conditions.AllOf(
            (conditions.Test("date", "between", ("start", "end")), conditions.Test("free", "yes", True))
        ),
    )
    where = conditions.AllOf((free_here, conditions.Test("item", "in", tuple(sorted(items)))))
    plain = (
        services["free"].fillna(False).to_numpy(bool)
        & services["item"].isin(items).to_numpy()
        & (services["date"] >= pd.Timestamp(start)).to_numpy()
        & (services["date"] <= pd.Timestamp(end)).to_numpy()
    )
    picked = services[plain]
    for distinct, wanted in (
        (None, set(picked["person"])),
        ("date", {p for p, n in picked.groupby("person")["date"].nunique().items() if n >= at_least}),
    ):
        has = conditions.Has("services", where, distinct, at_least if distinct else 1)
        window = scope.Scope(frames, start, end, dt.date(2011, 1, 1))
        got = window.mask(has, "persons")
        assert set(persons["person"][got].tolist()) == wanted
