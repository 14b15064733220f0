import datetime as dt

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fpservice import idnumber
from tests.ledgerkit import make_id


def parse_one(text):
    return idnumber.parse(pd.Series([text], dtype="str"), dt.date(2026, 1, 1)).iloc[0]


def test_valid_id_gives_sex_birth_and_key():
    r = parse_one(make_id("19800229", female=False))
    assert r["id"] == make_id("19800229", female=False)
    assert r["checksum_ok"] and r["sex"] == "男"
    assert r["birth"] == pd.Timestamp("1980-02-29")
    assert r["key"] > 0


@pytest.mark.parametrize(
    "typed",
    [
        " 11010519491231002x ",  # spaces, lower-case x
        "'11010519491231002X",  # Excel's text apostrophe
        "１１０１０５１９４９１２３１００２Ｘ",  # full-width
        "110105491231002",  # the 15-digit form of the same person
    ],
)
def test_normalised_spellings_are_one_person(typed):
    r = parse_one(typed)
    assert r["id"] == "11010519491231002X"
    assert r["key"] == parse_one("11010519491231002X")["key"]


def test_fifteen_digit_id_gets_century_and_check_digit():
    assert parse_one("110105491231002")["id"] == "11010519491231002X"


@pytest.mark.parametrize(
    "bad",
    [
        "123",
        "11010519491231002Y",
        "1101051949123100",
        "11010519490231002X",
        "11010520990101002X",
        "abcdefghijklmnopqr",
    ],
)
def test_malformed_ids_have_a_problem(bad):
    r = parse_one(bad)
    assert pd.notna(r["problem"]) and pd.isna(r["id"]) and r["key"] == -1


def test_wrong_check_digit_is_kept_but_flagged():
    good = make_id()
    wrong = good[:-1] + ("0" if good[-1] != "0" else "1")
    r = parse_one(wrong)
    assert pd.isna(r["problem"]) and r["id"] == wrong and not r["checksum_ok"]


def test_blank_is_missing_not_malformed():
    r = parse_one(None)
    assert pd.isna(r["problem"]) and pd.isna(r["id"])


def _both(values, today=dt.date(2026, 1, 1)):
    import numpy as np
    import pyarrow as pa

    fast = idnumber.parse_values(pa.array(values, pa.string()), today)
    slow = idnumber.parse(pd.Series(values, dtype="str"), today)
    male = np.select([slow["sex"] == "男", slow["sex"] == "女"], [1, 0], -1)
    assert fast.key.tolist() == slow["key"].tolist()
    assert [p is not None for p in fast.problem] == slow["problem"].notna().tolist()
    assert fast.malformed.tolist() == slow["problem"].notna().tolist()
    assert fast.checksum_ok.tolist() == slow["checksum_ok"].tolist()
    assert fast.male.tolist() == male.tolist()
    assert pd.Series(fast.birth).equals(slow["birth"].astype("datetime64[ns]").reset_index(drop=True))


@given(
    st.lists(
        st.one_of(
            st.text(alphabet="0123456789Xx", min_size=18, max_size=18),
            st.builds(
                lambda d, female, seq: make_id(d.strftime("%Y%m%d"), female, seq=seq),
                st.dates(dt.date(1890, 1, 1), dt.date(2030, 12, 31)),
                st.booleans(),
                st.integers(0, 99),
            ),
            st.builds(
                lambda y, m, d: f"110105{y:04d}{m:02d}{d:02d}0021",
                st.integers(1890, 2030),
                st.integers(0, 13),
                st.integers(0, 32),
            ),
        ),
        min_size=1,
        max_size=30,
    )
)
@settings(max_examples=200, deadline=None)
def test_the_fast_parse_of_18_characters_agrees_with_the_general_one(values):
    """parse_values reads 18-character IDs straight from arrow's bytes; `parse` is the general
    text path (and the one the spelling tests above pin down). They must never disagree."""
    _both(values)


def test_fast_parse_handles_mixed_lengths_and_spellings():
    _both([make_id(seq=1), " " + make_id(seq=2), make_id(seq=3).lower(), "110105491231002", "12345"])
