"""Checks across rows and files: duplicate stays, one person in two units, services for nobody."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from fpservice import consistency, read
from fpservice.privacy import mask_id
from tests.ledgerkit import PERSONS, SERVICES, make_id, person, service, write_csv


def test_consistency_warnings(ledger_dir):
    x, y = make_id(seq=1), make_id(seq=2)
    write_csv(
        ledger_dir / "p.csv",
        PERSONS,
        [
            person(id_=x, arrived="2011-01-01"),
            person(id_=x, arrived="2011-03-01"),  # duplicate stay
            person(unit="330205001002", id_=y, arrived="2011-01-01"),
            person(unit="330205001003", id_=y, arrived="2011-02-01"),
            person(id_=x, arrived="2011-06-01", left="2011-06-30"),  # ...and a third, also inside the first
            person(unit="330205001002", id_=make_id(seq=3), arrived="2010-01-01", left="2010-12-31"),
            person(unit="330205001003", id_=make_id(seq=3), arrived="2011-01-01"),  # moved: no overlap
        ],
    )  # two units at once
    write_csv(ledger_dir / "s.csv", SERVICES, [service(make_id(seq=9), "2011-07-01")])
    result = read.load(ledger_dir)
    found = sorted((f.code, f.file, f.line, f.value, f.detail) for f in consistency.check(result))
    assert found == [
        ("row.duplicate_id", "p.csv", 3, mask_id(x), "p.csv:2"),
        ("row.duplicate_id", "p.csv", 6, mask_id(x), "p.csv:3"),
        ("row.service_unknown_person", "s.csv", 2, mask_id(make_id(seq=9)), None),
        ("row.two_units", "p.csv", 5, mask_id(y), "330205001002"),
    ]
    # `check` runs the checks on two threads: the same findings, in the same order, as on one
    rank = {a.file: i for i, a in enumerate(result.accounts)}
    alone = consistency.finish([consistency.partial(result.frames, False, threads=1)], result.units, rank)
    assert consistency.check(result) == alone


@given(
    rows=st.lists(
        st.tuples(st.integers(0, 5), st.integers(-3, 3), st.integers(0, 4)), min_size=1, max_size=60
    ),
    wide=st.sampled_from([1, 2**20, 2**61]),
)
def test_cross_file_checks_sort_rows_as_lexsort_does(rows, wide):
    """Consistency checks pack their sort keys into one integer when the ranges allow (and fall
    back to np.lexsort when not): the order, ties included, must be lexsort's."""
    keys = [np.array([r[i] for r in rows], dtype=np.int64) for i in range(3)]
    keys[1] = keys[1] * wide  # widen a key's range: packed below 2**63, lexsort above
    expected = np.lexsort(keys[::-1])
    assert consistency._sorted_order(keys).tolist() == expected.tolist()
