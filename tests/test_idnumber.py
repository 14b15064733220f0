import datetime as dt

import pandas as pd
import pytest

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
