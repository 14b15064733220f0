"""Where a ledger's rows begin and end (SPEC §8), in CSV files as WPS and Excel export them: the
header found within the first 20 rows, titles above it and footers below skipped and counted,
header cells matched however they are spelled, a county's own aliases, and a missing column
named with what was found instead."""

from __future__ import annotations

import json

import pytest

from fpservice import read
from fpservice.headers import Headers, aliases_from
from fpservice.read.header import find_header
from tests.ledgerkit import PERSONS, SERVICES, V1, make_id, person, run, service, write_csv

IDS = [make_id(seq=i) for i in range(4)]
BODY = "".join(",".join(service(x, "2011-08-01")) + "\n" for x in IDS)


def wps_export(header: str = ",".join(SERVICES), body: str = BODY) -> str:
    """A sheet saved as CSV by WPS: its title and 填报单位 lines above, blank and footer lines below."""
    return (
        "王何村流动人口服务登记簿,,,,,\n"
        "填报单位：王何村,,填报时间：2011年10月1日,,,\n"
        f"{header}\n{body}"
        ",,,,,\n"
        "合计,,,,,\n"
        "填表人：王五,,审核人：赵六,,,\n"
    )


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_a_titled_csv_is_read_from_its_header(ledger_dir, encoding):
    (ledger_dir / "s.csv").write_bytes(wps_export().encode(encoding))
    result = read.load(ledger_dir)
    (account,) = result.accounts
    # title, 填报单位, a blank row and two footers skipped; four services used
    assert (account.ledger, account.read, account.used, account.rejected, account.skipped) == (
        "services",
        9,
        4,
        0,
        5,
    )
    assert result.frames["services"]["line"].tolist() == [4, 5, 6, 7]  # the lines of the file
    assert result.findings == []


@pytest.mark.parametrize("reader", ["fast", "exact"])
def test_footers_typed_short_are_skipped_and_short_data_is_rejected(ledger_dir, monkeypatch, reader):
    """A CSV file finished by hand: footer and blank lines with fewer cells than the header."""
    from fpservice.read import arrowparse, csvparse

    if reader == "exact":
        monkeypatch.setattr(csvparse, "parse", lambda *a, **k: (_ for _ in ()).throw(arrowparse.Disagree()))
    short = f"{V1},{IDS[0]},2011-08-02\n"  # a data row cut short: rejected, as ever
    footer = ",,\n合计：4 人\n   \n填表人：王五,审核人：赵六\n,,备注：无\n"
    (ledger_dir / "s.csv").write_text(",".join(SERVICES) + "\n" + BODY + short + footer, encoding="utf-8")
    result = read.load(ledger_dir)
    (account,) = result.accounts
    assert (account.read, account.used, account.rejected, account.skipped) == (10, 4, 1, 5)
    assert [(f.code, f.line) for f in result.findings] == [("row.ragged", 6)]


def test_findings_in_a_titled_csv_name_the_files_own_line(ledger_dir):
    body = BODY.replace("2011-08-01", "2011-02-30", 1)
    (ledger_dir / "s.csv").write_text(wps_export(body=body), encoding="utf-8")
    (finding,) = read.load(ledger_dir).findings
    assert (finding.code, finding.line, finding.column) == ("value.date", 4, "服务日期")


def test_header_cells_are_matched_however_they_are_typed(ledger_dir):
    header = '村居代码,"身份证\n号码",服务日期（年月日）, 服务项目 ,是否免费(是/否),服务地点'
    (ledger_dir / "s.csv").write_text(wps_export(header=header), encoding="utf-8")
    result = read.load(ledger_dir)
    assert result.accounts[0].used == 4 and result.findings == []


def test_a_blank_header_cell_takes_the_label_above():
    rows = [
        ["村居代码", "身份证号", "服务情况", "", ""],
        ["", "", "服务日期", "服务项目", "是否免费"],
        [V1, IDS[0], "2011-08-01", "孕检", "是"],
    ]
    found = find_header(rows, Headers())
    assert (found.row, found.labels) == (1, ["村居代码", "身份证号", "服务日期", "服务项目", "是否免费"])


def test_no_header_within_twenty_rows_is_an_unknown_ledger(ledger_dir):
    text = "说明\n" * 20 + ",".join(SERVICES) + "\n" + BODY
    (ledger_dir / "s.csv").write_text(text, encoding="utf-8")
    (finding,) = read.load(ledger_dir).findings
    assert finding.code == "file.unknown_type"


def test_a_missing_column_says_what_was_found_and_what_was_meant(ledger_dir):
    header = ",".join(SERVICES).replace("服务日期", "服务曰期")
    (ledger_dir / "s.csv").write_text(wps_export(header=header), encoding="utf-8")
    result = run(["--no-cache", "check", ledger_dir, "-p", "000", "-f", "json"])
    (finding,) = [f for f in json.loads(result.stdout)["findings"] if f["severity"] == "error"]
    assert finding["code"] == "file.missing_column" and finding["line"] == 3
    assert "表头中有：村居代码、身份证号、服务曰期、服务项目" in finding["message"]
    assert "“服务曰期”是不是“服务日期”" in finding["message"]
    assert result.exit_code == 2


def test_a_countys_aliases_from_the_ledger_directory(ledger_dir):
    header = ",".join(SERVICES).replace("服务日期", "服务时间").replace("服务项目", "项目名称")
    (ledger_dir / "s.csv").write_text(header + "\n" + BODY, encoding="utf-8")
    write_csv(ledger_dir / "p.csv", PERSONS, [person(id_=x) for x in IDS])
    (ledger_dir / "fpservice.yaml").write_text(
        "plan: '000'\naliases:\n  services:\n    date: 服务时间\n    item: [项目名称, 服务类别]\n",
        encoding="utf-8",
    )
    result = run(["--no-cache", "check", ledger_dir, "-f", "json", "--as-of", "2011-09-30"])
    doc = json.loads(result.stdout)
    assert {a["file"]: a["used"] for a in doc["files"]} == {"p.csv": 4, "s.csv": 4}
    assert [f for f in doc["findings"] if f["severity"] == "error"] == []


def test_aliases_in_the_rule_directory(tmp_path, ledger_dir):
    from tests.test_rules import rule_copy

    rules = rule_copy(tmp_path)
    (rules / "aliases.yaml").write_text("persons:\n  arrived: 来本地日期\n", encoding="utf-8")
    write_csv(
        ledger_dir / "p.csv", [h.replace("流入日期", "来本地日期") for h in PERSONS], [person(id_=IDS[0])]
    )
    result = run(["--rules", rules, "--no-cache", "check", ledger_dir, "-p", "000", "-f", "json"])
    assert json.loads(result.stdout)["files"][0]["ledger"] == "persons"


@pytest.mark.parametrize(
    "text,message,line",
    [
        ("aliases:\n  service:\n    date: 服务时间\n", "未知的台帐类型：service", 2),
        ("aliases:\n  services:\n    dates: 服务时间\n", "没有列 `dates`", 3),
        ("aliases:\n  services:\n    date: 服务项目\n", "已是服务登记簿的列 `item`", 3),
        ("aliases:\n  services:\n    date: 流入日期\n", "是流入人口信息登记簿的标志列", 3),
        ("aliases:\n  services:\n    date: []\n", "应是非空的表头文字", 3),
    ],
)
def test_a_wrong_alias_names_its_file_and_line(ledger_dir, text, message, line):
    write_csv(ledger_dir / "s.csv", SERVICES, [service(IDS[0], "2011-08-01")])
    (ledger_dir / "fpservice.yaml").write_text("plan: '000'\n" + text, encoding="utf-8")
    result = run(["--no-cache", "check", ledger_dir])
    assert result.exit_code == 3 and message in result.stderr, result.stderr
    assert f"fpservice.yaml:{line + 1}:" in result.stderr  # the plan line comes first
    assert "Traceback" not in result.stderr


def test_aliases_from_checks_without_a_file():
    assert aliases_from({"staff": {"role": "职务"}}, "x.yaml") == {"staff": {"role": ("职务",)}}
    headers = Headers(aliases_from({"staff": {"role": "职务"}}, "x.yaml"))
    assert headers.candidate_types(["村居代码", "职务"]) == ["staff"]
