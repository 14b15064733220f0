"""Encodings found without being told (SPEC §2): UTF-8, UTF-8 with BOM, GB18030 parsed in its
own bytes, and files that are none of them, reported at their line."""

import json
import shutil
import subprocess
import sys

import pytest

from fpservice import read
from tests.ledgerkit import DATA, PERSONS, V1, make_id, person, write_csv


@pytest.mark.parametrize(
    "name,encoding", [("utf8.csv", "utf-8"), ("utf8_bom.csv", "utf-8-sig"), ("gb18030.csv", "gb18030")]
)
def test_each_encoding_reads_the_same_rows(ledger_dir, name, encoding):
    shutil.copy(DATA / "encodings" / name, ledger_dir / name)
    result = read.load(ledger_dir)
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
    result = read.load(ledger_dir)
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
    result = read.load(ledger_dir)
    (finding,) = result.findings
    assert (finding.code, finding.file, finding.line) == (code, "bad.csv", 3)
    assert len(result.frames["staff"]) == 1  # the other file still counts


def test_gb18030_bytes_are_decoded_only_where_read(ledger_dir):
    """A GB18030 file is parsed in its own bytes: a byte that does not decode in a column no
    indicator reads (a remark) does not cost the file, as in UTF-8 files; one in a column read
    rejects the file with its line (above)."""
    data = f"村居代码,岗位,备注\n{V1},专职,好\n{V1},兼职,".encode("gb18030") + b"\x81\x20\n"
    (ledger_dir / "staff.csv").write_bytes(data)
    result = read.load(ledger_dir)
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
