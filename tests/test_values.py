import pandas as pd
import pytest

from fpservice.values import items_in, parse_dates, parse_yes_no


@pytest.mark.parametrize(
    "text",
    ["2011-05-19", "2011/5/19", "2011.5.19", "20110519", "2011年5月19日", "2011/05/19 0:00", " 2011-5-19 "],
)
def test_date_spellings(text):
    values, bad = parse_dates([text])
    assert values[0] == pd.Timestamp("2011-05-19") and not bad[0]


@pytest.mark.parametrize("text", ["2011-02-30", "2011-13-01", "19/5/2011", "昨天", "2011-5"])
def test_impossible_or_unreadable_dates_are_bad(text):
    values, bad = parse_dates([text])
    assert pd.isna(values[0]) and bad[0]


def test_blank_date_is_missing_not_bad():
    values, bad = parse_dates([None])
    assert pd.isna(values[0]) and not bad[0]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("是", True),
        ("否", False),
        ("Y", True),
        ("n", False),
        ("1", True),
        ("0", False),
        ("√", True),
        ("×", False),
        ("TRUE", True),
        ("false", False),
    ],
)
def test_yes_no(text, expected):
    values, bad = parse_yes_no([text])
    assert values[0] == int(expected) and not bad[0]


def test_yes_no_rejects_other_words():
    values, bad = parse_yes_no(["也许", None])
    assert bad.tolist() == [True, False]


def test_items_accept_chinese_separators():
    assert items_in("婚育证明；管理合同书、信息通报单 维权宣传材料,") == {
        "婚育证明",
        "管理合同书",
        "信息通报单",
        "维权宣传材料",
    }
    assert items_in("") == frozenset()
