"""Reading ledger directories: encodings, header recognition, findings and row accounting."""

import json
import shutil
import subprocess
import sys

import pytest

from fpservice import ledgers
from fpservice.privacy import mask_id
from tests.ledgerkit import DATA, PERSONS, SERVICES, V1, make_id, person, service, write_csv


def load(d):
    return ledgers.load(d)


def codes(result):
    return sorted(f.code for f in result.findings)


@pytest.mark.parametrize(
    "name,encoding", [("utf8.csv", "utf-8"), ("utf8_bom.csv", "utf-8-sig"), ("gb18030.csv", "gb18030")]
)
def test_each_encoding_reads_the_same_rows(ledger_dir, name, encoding):
    shutil.copy(DATA / "encodings" / name, ledger_dir / name)
    result = load(ledger_dir)
    frame = result.frames["persons"]
    assert result.accounts[0].encoding == encoding and result.accounts[0].ledger == "persons"
    assert frame["contraception"].tolist() == ["药具", "上环"]  # alias headers understood
    assert "name" not in frame  # checked, never kept: no computation needs a name
    assert frame["arrived"].dt.strftime("%Y-%m-%d").tolist() == ["2011-03-01", "2011-03-02"]
    assert not result.findings


def test_gbk_character_late_in_a_large_file_is_detected(ledger_dir):
    rows = [person(id_=make_id(seq=i % 90, addr=f"34{i:04d}"), name="李明") for i in range(5000)]
    rows[-1][2] = "龘"  # outside GB2312; GB18030 has it
    write_csv(ledger_dir / "p.csv", PERSONS, rows, encoding="gb18030")
    result = load(ledger_dir)
    assert result.accounts[0].encoding == "gb18030"
    assert result.accounts[0].used == 5000 and not result.findings


@pytest.mark.parametrize(
    "data,code",
    [
        (
            ("村居代码,岗位\n" + f"{V1},专职\n").encode() + "专职".encode("gbk") + b",\xff\n",
            "file.mixed_encoding",
        ),
        (b"unit,role\n" + f"{V1},x\n".encode() + b"\xff\xfe\xff,\xff\n", "file.undecodable"),
        (  # GB18030 parsed in its own bytes: a value that does not decode
            f"村居代码,岗位\n{V1},专职\n{V1},".encode("gb18030") + b"\x81\x20\n",
            "file.undecodable",
        ),
    ],
)
def test_undecodable_file_is_reported_with_its_line(ledger_dir, data, code):
    (ledger_dir / "bad.csv").write_bytes(data)
    write_csv(ledger_dir / "ok.csv", ["村居代码", "岗位"], [[V1, "专职"]])
    result = load(ledger_dir)
    (finding,) = result.findings
    assert (finding.code, finding.file, finding.line) == (code, "bad.csv", 3)
    assert len(result.frames["staff"]) == 1  # the other file still counts


def test_type_by_signature_and_errors_naming_candidates(ledger_dir):
    write_csv(ledger_dir / "a.csv", ["村居代码", "身份证号", "流入日期", "服务项目"], [])
    write_csv(ledger_dir / "b.csv", ["村居代码", "备注"], [])
    write_csv(ledger_dir / "c.csv", ["村居代码", "身份证号", "服务项目"], [[V1, make_id(), "孕检"]])
    result = load(ledger_dir)
    by_file = {f.file: f for f in result.findings}
    assert by_file["a.csv"].code == "file.ambiguous_type"
    assert "流入人口信息登记簿" in by_file["a.csv"].message and "服务登记簿" in by_file["a.csv"].message
    assert by_file["b.csv"].code == "file.unknown_type"
    assert by_file["c.csv"].code == "file.missing_column" and by_file["c.csv"].column == "服务日期"
    account = {a.file: a for a in result.accounts}["c.csv"]
    assert (account.read, account.used, account.rejected) == (1, 0, 1)


def test_persons_file_with_liuchu_date_is_persons_not_outflow(ledger_dir):
    write_csv(
        ledger_dir / "p.csv",
        ["村居代码", "身份证号", "流入日期", "流出日期"],
        [[V1, make_id(), "2011-01-01", "2011-05-01"]],
    )
    result = load(ledger_dir)
    assert result.accounts[0].ledger == "persons"
    assert str(result.frames["persons"]["left"].iloc[0].date()) == "2011-05-01"


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
    result = load(ledger_dir)
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
    assert ("row.left_before_arrived", 9, "离开日期") in found
    assert ("value.unit_not_village", 10, "村居代码") in found
    account = result.accounts[0]
    assert (account.read, account.used, account.rejected) == (9, 2, 7)
    assert sorted(result.frames["persons"]["line"]) == [2, 5]


def test_row_accounting_with_ragged_blank_and_quoted_rows(ledger_dir):
    text = (
        "村居代码,岗位,备注\n"
        f'{V1},专职,"两行\n备注"\n'  # lines 2-3: one row
        "\n"  # line 4: blank line, not a row
        f"{V1},兼职\n"  # line 5: ragged
        ",,\n"  # line 6: blank row
        f"{V1},专职,,多\n"  # line 7: ragged
        f"{V1},协管员,x\n"
    )  # line 8
    (ledger_dir / "staff.csv").write_text(text, encoding="utf-8")
    result = load(ledger_dir)
    account = result.accounts[0]
    assert (account.read, account.used, account.rejected, account.skipped) == (4, 2, 2, 1)
    assert [(f.code, f.line) for f in result.findings] == [("row.ragged", 5), ("row.ragged", 7)]
    assert result.frames["staff"]["line"].tolist() == [2, 8]


def test_units_csv_makes_unknown_units_errors(ledger_dir):
    write_csv(
        ledger_dir / "units.csv",
        ["代码", "名称", "层级", "上级代码"],
        [
            ["330205000000", "江北区", "县", ""],
            ["330205001000", "甲街道", "乡镇", "330205000000"],
            [V1, "甲社区", "村", "330205001000"],
            ["330205001009", "空村", "村", "330205001000"],
        ],
    )
    write_csv(
        ledger_dir / "s.csv",
        SERVICES,
        [service(make_id(), "2011-07-01"), service(make_id(), "2011-07-01", unit="330205001002")],
    )
    result = load(ledger_dir)
    from fpservice import consistency

    found = codes(result) + sorted(f.code for f in consistency.check(result))
    assert "value.unit_unknown" in found and "unit.no_rows" in found
    assert result.units.table.at[V1, "name"] == "甲社区"


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
    result = load(ledger_dir)
    from fpservice import consistency

    found = sorted((f.code, f.file, f.line, f.value, f.detail) for f in consistency.check(result))
    assert found == [
        ("row.duplicate_id", "p.csv", 3, mask_id(x), "p.csv:2"),
        ("row.duplicate_id", "p.csv", 6, mask_id(x), "p.csv:3"),
        ("row.service_unknown_person", "s.csv", 2, mask_id(make_id(seq=9)), None),
        ("row.two_units", "p.csv", 5, mask_id(y), "330205001002"),
    ]


def test_male_pregnancy_check_is_rejected(ledger_dir):
    write_csv(
        ledger_dir / "s.csv",
        SERVICES,
        [
            service(make_id(female=False), "2011-07-01"),
            service(make_id(female=False), "2011-07-01", item="环检"),
        ],
    )
    result = load(ledger_dir)
    assert codes(result) == ["row.male_pregnancy_check"]
    assert result.accounts[0].used == 1


def test_symlink_loop_is_not_followed(ledger_dir):
    write_csv(ledger_dir / "staff.csv", ["村居代码", "岗位"], [[V1, "专职"]])
    (ledger_dir / "loop").symlink_to(ledger_dir, target_is_directory=True)
    assert len(load(ledger_dir).frames["staff"]) == 1


def test_missing_directory_is_an_input_error(tmp_path):
    from fpservice.errors import InputError

    with pytest.raises(InputError):
        load(tmp_path / "nope")
    with pytest.raises(InputError):
        load(tmp_path)  # exists, but holds no CSV


def test_a_village_whose_rows_were_all_rejected_is_still_reported(ledger_dir):
    write_csv(ledger_dir / "p.csv", PERSONS, [person(), person(unit="330205001002", arrived="2011-02-30")])
    result = load(ledger_dir)
    assert len(result.frames["persons"]) == 1
    assert "330205001002" in result.units.table.index


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
    result = load(ledger_dir)
    found = {(f.code, f.file, f.line, f.column) for f in result.findings}
    assert found == {
        ("row.answered_before_issued", "r.csv", 2, "反馈日期"),
        ("row.male_birth", "b.csv", 2, "身份证号"),
    }
    assert (
        str(result.frames["births"]["birth_on"].iloc[0].date()) == "2011-07-01"
    )  # 出生日期 is the child's here


def test_gb18030_bytes_are_decoded_only_where_read(ledger_dir):
    """A GB18030 file is parsed in its own bytes: a byte that does not decode in a column no
    indicator reads (a remark) does not cost the file, as in UTF-8 files; one in a column read
    rejects the file with its line (above)."""
    data = f"村居代码,岗位,备注\n{V1},专职,好\n{V1},兼职,".encode("gb18030") + b"\x81\x20\n"
    (ledger_dir / "staff.csv").write_bytes(data)
    result = load(ledger_dir)
    assert result.findings == [] and result.accounts[0].encoding == "gb18030"
    assert result.frames["staff"]["role"].tolist() == ["专职", "兼职"]


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8"])
def test_a_short_row_of_chinese_text_is_ragged_and_nothing_else_is_printed(ledger_dir, encoding):
    """pyarrow decodes a row with the wrong number of fields as UTF-8 before handing it over; a
    GB18030 file (or GBK bytes in a UTF-8 one) must still get one finding and no traceback."""
    head = ",".join(PERSONS) + "\n" + ",".join(person(id_=make_id(seq=1))) + "\n"
    short = ",".join(person(id_=make_id(seq=2))[:4]) + "\n"
    (ledger_dir / "p.csv").write_bytes(head.encode(encoding) + short.encode("gb18030"))
    done = subprocess.run(
        [sys.executable, "-m", "fpservice", "--no-cache", "check", ledger_dir, "-p", "000", "-f", "json"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr and "Exception" not in done.stderr
    found = [(f["code"], f["line"]) for f in json.loads(done.stdout)["findings"] if f["severity"] == "error"]
    assert found == ([("row.ragged", 3)] if encoding == "gb18030" else [("file.mixed_encoding", 3)])
