"""Cells checked column by column, and the row checks the schema declares between columns:
each problem one finding with file, line, column and masked value; an error rejects its row."""

from hypothesis import given, settings
from hypothesis import strategies as st

from fpservice import read
from tests.ledgerkit import PERSONS, SERVICES, V1, make_id, person, service, write_csv


def codes(result):
    return sorted(f.code for f in result.findings)


def test_an_id_or_a_mobile_typed_in_another_column_is_masked(ledger_dir):
    write_csv(
        ledger_dir / "s.csv",
        SERVICES,
        [
            service(make_id(seq=1), "2011-07-01", item=make_id(seq=2)),
            service(make_id(seq=1), "2011-07-01", item="电话13957400123"),
            service("4.52123197005268E+17", "2011-07-01"),  # an ID Excel kept 15 digits of
        ],
    )
    shown = {(f.code, f.line): f.value for f in read.load(ledger_dir).findings}
    other = make_id(seq=2)
    assert shown[("value.vocabulary", 2)] == other[:6] + "********" + other[-4:]
    assert shown[("value.vocabulary", 3)] == "电话13********3"
    assert shown[("id.excel_number", 4)] == "4.52123E+17"
    assert ("value.id_malformed", 4) not in shown  # one finding: what Excel did, not the shape it left


def test_field_findings_name_line_column_and_masked_value(ledger_dir):
    good = make_id(seq=5)
    wrong_check = good[:-1] + ("0" if good[-1] != "0" else "1")
    write_csv(
        ledger_dir / "p.csv",
        PERSONS,
        [
            person(id_=make_id(seq=1)),  # line 2: fine
            person(arrived="2011-02-30"),  # line 3: no such date
            person(id_="33020519800101123"),  # line 4: 17 characters
            person(id_=wrong_check),  # line 5: warning only, row kept
            person(unit="33020500100"),  # line 6: 11-digit unit code
            person(marital="已经结婚"),  # line 7: outside vocabulary
            person(sex="男"),  # line 8: the ID says female
            person(arrived="2011-05-01", left="2011-04-01"),  # line 9: left before arrived
            person(unit="330205001000"),  # line 10: a township code
        ],
    )
    result = read.load(ledger_dir)
    found = {(f.code, f.line, f.column): f for f in result.findings}
    assert ("value.date", 3, "流入日期") in found
    assert found[("value.id_malformed", 4, "身份证号")].value == "330205*******1123"
    assert found[("value.id_checksum", 5, "身份证号")].severity == "warning"
    assert (
        found[("value.id_checksum", 5, "身份证号")].value == wrong_check[:6] + "********" + wrong_check[-4:]
    )
    assert ("value.unit_malformed", 6, "村居代码") in found
    assert ("value.vocabulary", 7, "婚姻状况") in found
    assert ("value.sex_mismatch", 8, "性别") in found
    assert found[("value.unit_malformed", 6, "村居代码")].value == "33020500100"  # a code, shown
    assert ("row.left_before_arrived", 9, "离开日期") in found
    assert ("value.unit_not_village", 10, "村居代码") in found
    account = result.accounts[0]
    assert (account.read, account.used, account.rejected) == (9, 2, 7)
    assert sorted(result.frames["persons"]["line"]) == [2, 5]


def test_male_pregnancy_check_is_rejected(ledger_dir):
    write_csv(
        ledger_dir / "s.csv",
        SERVICES,
        [
            service(make_id(female=False), "2011-07-01"),
            service(make_id(female=False), "2011-07-01", item="环检"),
        ],
    )
    result = read.load(ledger_dir)
    assert codes(result) == ["row.male_pregnancy_check"]
    assert result.accounts[0].used == 1


def test_requests_and_births_consistency_errors(ledger_dir):
    write_csv(
        ledger_dir / "r.csv",
        ["村居代码", "协查编号", "下发日期", "反馈日期"],
        [[V1, "XC1", "2011-07-05", "2011-07-04"], [V1, "XC2", "2011-07-05", "2011-07-06"]],
    )
    write_csv(
        ledger_dir / "b.csv",
        ["村居代码", "身份证号", "出生日期", "政策内"],
        [[V1, make_id(female=False), "2011-07-01", "是"], [V1, make_id(), "2011-07-01", "否"]],
    )
    result = read.load(ledger_dir)
    found = {(f.code, f.file, f.line, f.column) for f in result.findings}
    assert found == {
        ("row.answered_before_issued", "r.csv", 2, "反馈日期"),
        ("row.male_birth", "b.csv", 2, "身份证号"),
    }
    assert (
        str(result.frames["births"]["birth_on"].iloc[0].date()) == "2011-07-01"
    )  # 出生日期 is the child's here


_CHARACTERS_OF_ALL_KINDS = st.sampled_from("0123456789X 张芳\t\n\r\x00\x01\x1f\x7f\x80é")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=_CHARACTERS_OF_ALL_KINDS, max_size=20)))
def test_control_characters_are_found_wherever_they_are(texts):
    """The byte scan that spares most columns the regular expression finds what it would find:
    a control character in ASCII digits or in Chinese text, and never a tab or a line break."""
    import re

    import pyarrow as pa

    from fpservice.read.validate import _CONTROL, _has_control

    found = _has_control(pa.array(texts, pa.string())).tolist()
    assert found == [re.search(_CONTROL, t) is not None for t in texts]
