"""Workbooks as ledgers (SPEC §8): every sheet read like a CSV file of its own, whatever the
format (xlsx, xls, ods), the layout (titles, merged headers, footers) and the cell types; broken
workbooks are findings, never a traceback."""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.ledgerkit import PERSONS, SERVICES, V1, V2, make_id, person, run, service, write_csv
from tests.workbookkit import Formula, office_sheet, write_workbook

IDS = [make_id(seq=i) for i in range(6)]
FORMATS = [".xlsx", ".xls", ".ods"]


def typed_persons() -> list[list]:
    """Persons as Excel holds them: the unit a number cell, dates date cells, 计划怀孕 as 1/0."""
    return [
        [330205001001, x, "王芳", "女", "已婚", dt.date(2011, 3, 1 + i), "", "药具", i % 2, ""]
        for i, x in enumerate(IDS)
    ]


def typed_services() -> list[list]:
    return [[330205001001, x, dt.date(2011, 8, 1), "孕检", True, "现居住地"] for x in IDS[:4]]


def check(d: Path, *extra) -> tuple[dict, int]:
    result = run(["--no-cache", "check", d, "-p", "000", "-f", "json", "--as-of", "2011-09-30", *extra])
    assert "Traceback" not in result.output + result.stderr
    return json.loads(result.stdout), result.exit_code


def report(d: Path) -> list[dict]:
    result = run(["--no-cache", "report", d, "-q", "2011Q3", "-p", "000", "-f", "json"])
    assert result.exit_code in (0, 1, 2), result.output + result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("suffix", FORMATS)
def test_an_office_workbook_reads_like_its_csv(tmp_path, suffix):
    """Title rows, a header merged down over two rows, footers and a 说明 sheet in a workbook
    give the report the plain CSV files give."""
    groups = {5: "登记情况", 6: "登记情况"}  # 流入日期, 离开日期 under a group label
    write_workbook(
        tmp_path / "book" / f"文廖社区台帐2011{suffix}",
        {
            "说明": [["本工作簿为文廖社区 2011 年台帐。"], ["请勿修改表头。"]],
            "流入人口信息登记簿": office_sheet(
                "文廖社区流入人口信息登记簿", PERSONS, typed_persons(), groups=groups
            ),
            "服务登记簿": office_sheet("文廖社区服务登记簿", SERVICES, typed_services()),
        },
    )
    write_csv(
        tmp_path / "csv" / "p.csv",
        PERSONS,
        [
            person(id_=x, arrived=f"2011-03-0{1 + i}", contraception="药具", planning="是" if i % 2 else "否")
            for i, x in enumerate(IDS)
        ],
    )
    write_csv(tmp_path / "csv" / "s.csv", SERVICES, [service(x, "2011-08-01") for x in IDS[:4]])
    assert report(tmp_path / "book") == report(tmp_path / "csv")

    doc, code = check(tmp_path / "book")
    accounts = {a["file"]: a for a in doc["files"]}
    persons = accounts[f"文廖社区台帐2011{suffix}[流入人口信息登记簿]"]
    # 3 rows above the header (the title, 填报单位, the group labels), 6 persons, a blank row
    # and two footers
    assert (persons["ledger"], persons["used"], persons["rejected"], persons["skipped"]) == (
        "persons",
        6,
        0,
        6,
    )
    assert persons["read"] == persons["used"] + persons["rejected"] + persons["skipped"]
    notes = accounts[f"文廖社区台帐2011{suffix}[说明]"]
    assert (notes["ledger"], notes["read"], notes["skipped"]) == (None, 2, 2)
    assert [(f["code"], f["severity"]) for f in doc["findings"]] == [("sheet.skipped", "info")]
    assert code == 1  # targets missed; nothing rejected


@pytest.mark.parametrize("suffix", FORMATS)
def test_ids_excel_stored_as_numbers_are_rejected_at_their_sheet_and_row(tmp_path, suffix):
    rows = typed_persons()
    rows[2][1] = 452123197005268290  # typed into a number cell: 452123197005268000 is left
    write_workbook(tmp_path / f"台帐{suffix}", {"流入人口": [PERSONS] + rows})
    doc, code = check(tmp_path)
    (bad,) = [f for f in doc["findings"] if f["severity"] == "error"]
    assert (bad["code"], bad["file"], bad["line"], bad["column"]) == (
        "id.excel_number",
        f"台帐{suffix}[流入人口]",
        4,
        "身份证号",
    )
    assert "文本" in bad["message"] and code == 2
    assert doc["files"][0]["rejected"] == 1


def test_ids_and_codes_in_scientific_notation_from_a_csv_are_diagnosed(ledger_dir):
    rows = [person(id_=x) for x in IDS[:3]]
    rows[1][1] = "4.52123E+17"
    rows[2][0] = "3.30205E+11"
    write_csv(ledger_dir / "p.csv", PERSONS, rows)
    doc, code = check(ledger_dir)
    found = sorted((f["code"], f["line"], f["value"]) for f in doc["findings"] if f["severity"] == "error")
    assert found == [("id.excel_number", 3, "4.52123E+17"), ("unit.excel_number", 4, "3.30205E+11")]
    assert code == 2


def test_formula_errors_are_findings_of_their_own(tmp_path):
    rows = typed_services()
    rows[0][2] = Formula("=1/0", "#DIV/0!")
    rows[1][0] = Formula("=A99", "#REF!")
    write_workbook(tmp_path / "s.xlsx", {"服务": [SERVICES] + rows})
    doc, code = check(tmp_path)
    found = sorted((f["code"], f["line"], f["column"], f["value"]) for f in doc["findings"])
    assert found == [
        ("value.excel_error", 2, "服务日期", "#DIV/0!"),
        ("value.excel_error", 3, "村居代码", "#REF!"),
    ]
    assert code == 2


def test_typed_cells_read_as_excel_shows_them(tmp_path):
    """Dates in any display format, whole numbers in code columns, 1/0 and TRUE/FALSE as yes/no,
    text stripped of non-breaking spaces."""
    rows = typed_persons()[:2]
    rows[0][4] = "\xa0已婚\xa0"
    rows[1][8] = True
    write_workbook(tmp_path / "p.xlsx", {"p": [PERSONS] + rows})
    write_workbook(
        tmp_path / "s.xlsx",
        {"s": [SERVICES] + [[330205001001, IDS[0], dt.date(2011, 8, 1), "孕检", 1, "现居住地"]]},
    )
    doc, code = check(tmp_path)
    assert [f for f in doc["findings"] if f["severity"] != "info"] == []
    r = next(r for r in report(tmp_path) if r["unit"] == V1 and r["indicator"] == "pregnancy_check")
    assert (r["numerator"], r["denominator"]) == (1, 2)


def test_a_workbook_is_cached_and_read_again_when_it_changes(tmp_path):
    d = tmp_path / "ledgers"
    write_workbook(d / "台帐.xlsx", {"p": [PERSONS] + typed_persons(), "s": [SERVICES] + typed_services()})
    cache = ["--cache-dir", str(tmp_path / "cache")]
    args = ["report", d, "-q", "2011Q3", "-p", "000", "-f", "json"]
    cold, warm = run([*cache, *args]), run([*cache, *args])
    assert cold.stdout == warm.stdout == run(["--no-cache", *args]).stdout
    assert len(list((tmp_path / "cache").rglob("*.arrow"))) == 3  # the workbook's list and its two sheets
    write_workbook(
        d / "台帐.xlsx", {"p": [PERSONS] + typed_persons(), "s": [SERVICES] + typed_services()[:1]}
    )
    changed = json.loads(run([*cache, *args]).stdout)
    r = next(
        r
        for r in changed
        if r["unit"] == V1 and r["indicator"] == "pregnancy_check" and r["period"] == "2011Q3"
    )
    assert r["numerator"] == 1


def test_lock_files_and_csv_named_xls_are_handled(tmp_path):
    """`~$台帐.xlsx` is the lock file Excel keeps beside an open workbook: not a ledger. A CSV
    saved under an .xls name (as web systems export) is read as the CSV it is."""
    write_csv(tmp_path / "导出.xls", PERSONS, [person(id_=x) for x in IDS[:2]])
    (tmp_path / "~$导出.xlsx").write_bytes(b"\x00" * 165)
    doc, _ = check(tmp_path)
    assert [a["file"] for a in doc["files"]] == ["导出.xls"] and doc["files"][0]["used"] == 2


def _zip_with_sizes(base: bytes, declared: int) -> bytes:
    """A workbook whose zip directory says its sheet unpacks to `declared` bytes."""
    data = bytearray(base)
    z = zipfile.ZipFile(io.BytesIO(base))
    info = z.getinfo("xl/worksheets/sheet1.xml")
    at = data.rfind(b"PK\x01\x02xl/worksheets/sheet1.xml"[:4], 0, len(data))
    while at >= 0:  # the central directory entry of the sheet
        name_len = int.from_bytes(data[at + 28 : at + 30], "little")
        if data[at + 46 : at + 46 + name_len] == info.filename.encode():
            data[at + 24 : at + 28] = declared.to_bytes(4, "little")
            break
        at = data.rfind(b"PK\x01\x02", 0, at)
    return bytes(data)


def hostile_workbooks(tmp: Path) -> dict[str, bytes]:
    plain = tmp / "plain.xlsx"
    write_workbook(plain, {"p": [PERSONS] + typed_persons()})
    base = plain.read_bytes()
    from msoffcrypto.format.ooxml import OOXMLFile

    encrypted = io.BytesIO()
    with plain.open("rb") as fh:
        OOXMLFile(fh).encrypt("1234", encrypted)
    import xlsxwriter

    wide = tmp / "wide.xlsx"
    with xlsxwriter.Workbook(str(wide)) as wb:
        ws = wb.add_worksheet("p")
        ws.write_row(0, 0, PERSONS)
        ws.write(1_048_575, 16_383, "x")
    return {
        "not_a_zip.xlsx": b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8,
        "truncated.xlsx": base[: len(base) // 2],
        "bomb.xlsx": _zip_with_sizes(base, 0xFFFF_FFF0),  # says it unpacks to 4 GB
        "lies.xlsx": _zip_with_sizes(base, 100),  # says 100 bytes, holds more
        "encrypted.xlsx": encrypted.getvalue(),
        "wide.xlsx": wide.read_bytes(),  # a cell at XFD1048576: 17 billion cells
        "garbage.ods": b"PK\x03\x04" + b"\x00" * 500,
        "garbage.xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 4000,
    }


EXPECTED = {
    "not_a_zip.xlsx": "file.not_workbook",
    "truncated.xlsx": "file.not_workbook",
    "bomb.xlsx": "file.too_large",
    "lies.xlsx": "file.not_workbook",
    "encrypted.xlsx": "file.encrypted",
    "wide.xlsx": "file.too_large",
    "garbage.ods": "file.not_workbook",
    "garbage.xls": "file.not_workbook",
}


def test_broken_workbooks_are_findings_never_a_crash(tmp_path):
    d = tmp_path / "ledgers"
    d.mkdir()
    for name, data in hostile_workbooks(tmp_path).items():
        (d / name).write_bytes(data)
    write_csv(d / "p.csv", PERSONS, [person(id_=x) for x in IDS[:2]])
    done = subprocess.run(
        [sys.executable, "-m", "fpservice", "--no-cache", "check", str(d), "-p", "000", "-f", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    doc = json.loads(done.stdout)
    found = {f["file"]: f["code"] for f in doc["findings"] if f["severity"] == "error"}
    assert found == EXPECTED
    assert {a["file"]: a["used"] for a in doc["files"]}["p.csv"] == 2  # the good file still counts


def test_a_tall_sheet_is_read_in_bounded_time(tmp_path):
    """A sheet whose last row is row 1,048,576 (Excel's limit): read, its blank rows skipped."""
    import xlsxwriter

    with xlsxwriter.Workbook(str(tmp_path / "tall.xlsx"), {"constant_memory": True}) as wb:
        ws = wb.add_worksheet("p")
        ws.write_row(0, 0, PERSONS)
        ws.write_row(1, 0, person(id_=IDS[0]))
        ws.write_row(1_048_575, 0, person(id_=IDS[1], unit=V2))
    doc, code = check(tmp_path)
    (account,) = doc["files"]
    assert (account["read"], account["used"], account["skipped"]) == (1_048_575, 2, 1_048_573)
