"""`read.load`: which files a directory holds, and what it says when there is nothing to read."""

import pytest

from fpservice import read
from fpservice.errors import InputError
from tests.ledgerkit import V1, write_csv


def test_symlink_loop_is_not_followed(ledger_dir):
    write_csv(ledger_dir / "staff.csv", ["村居代码", "岗位"], [[V1, "专职"]])
    (ledger_dir / "loop").symlink_to(ledger_dir, target_is_directory=True)
    assert len(read.load(ledger_dir).frames["staff"]) == 1


def test_missing_directory_is_an_input_error(tmp_path):
    with pytest.raises(InputError):
        read.load(tmp_path / "nope")
    with pytest.raises(InputError):
        read.load(tmp_path)  # exists, but holds no CSV


def test_latest_date_is_the_latest_event_written_in_any_ledger(ledger_dir):
    """The default 'as of' day: the latest event date across ledgers (persons' arrivals,
    services), a blank date (NaT) never taken for it, and no date from a column whose every
    date is blank."""
    import pandas as pd

    from fpservice.read.ledgerset import _latest
    from tests.ledgerkit import PERSONS, SERVICES, make_id, person, service

    ids = [make_id(seq=i) for i in range(3)]
    write_csv(ledger_dir / "p.csv", PERSONS, [person(id_=x) for x in ids])
    assert str(read.load(ledger_dir).latest_date().date()) == "2011-01-01"  # arrivals
    rows = [service(ids[0], "2011-09-30"), service(ids[1], ""), service(ids[2], "2011-08-01")]
    write_csv(ledger_dir / "s.csv", SERVICES, rows)
    assert str(read.load(ledger_dir).latest_date().date()) == "2011-09-30"
    assert pd.isna(_latest(pd.Series([pd.NaT, pd.NaT], dtype="datetime64[ns]")))


def test_the_latest_date_is_found_without_copying_the_dates():
    """pandas hands out its arrays read-only, and numpy's argmax copies such an array first: at a
    million persons that was 34 MB of fresh pages for the services' dates alone."""
    import tracemalloc

    import numpy as np
    import pandas as pd

    from fpservice.read.ledgerset import _latest

    dates = pd.Series(np.arange(1_000_000, dtype="int64").view("datetime64[ns]"))
    dates.iloc[7] = pd.NaT
    tracemalloc.start()
    try:
        latest = _latest(dates)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert latest == dates.max()
    assert peak < 100_000  # the dates are 8 MB
