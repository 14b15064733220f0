"""Problem lists for the village offices (`check -f xlsx|csv -o DIR`) and check's findings grouped
by rule: each village gets exactly the findings on its own rows, the county the rest, and no list
shows personal data."""

import csv
import io
import json
import re
import shutil

import pytest
from openpyxl import load_workbook

from fpservice.findings import CODES, REMEDIES
from tests.ledgerkit import (
    PERSONS,
    REPO,
    SERVICES,
    T1,
    T2,
    V1,
    V2,
    V3,
    C,
    make_id,
    person,
    run,
    service,
    write_csv,
    write_units,
)
from tests.test_cli import personal_values

NAMES = {V1: "伟强社区", V2: "军燕社区", V3: "琴平社区"}


def test_every_finding_code_says_what_to_do():
    assert set(REMEDIES) == set(CODES) and all(REMEDIES.values())


@pytest.fixture
def offices(ledger_dir):
    """Three villages with problems of every kind: bad cells in each village's rows of a shared
    file, small service files read as one batch, a duplicate entry (a check across rows), a ragged
    row, rows whose unit code is no village's, and a file that is no ledger."""
    write_units(
        ledger_dir,
        [
            [C, "江北区", "县", ""],
            [T1, "中马街道", "乡镇", C],
            [V1, NAMES[V1], "村", T1],
            [V2, NAMES[V2], "村", T1],
            [T2, "白沙街道", "乡镇", C],
            [V3, NAMES[V3], "村", T2],
        ],
    )
    twice = make_id(seq=7)
    persons = [
        person(V1, make_id(seq=1), arrived="2011-02-30"),
        person(V2, make_id(seq=2), planning="可能"),
        person(V3, make_id(seq=3), sex="男"),
        person(V1, twice, arrived="2011-01-01", name="李红"),
        person(V1, twice, arrived="2011-03-01", name="李红"),
        person("3302050010", make_id(seq=4)),
        person(T1, make_id(seq=5)),
        person(V2, make_id(seq=6), arrived="2011/13/01"),
    ]
    path = write_csv(ledger_dir / "中马" / "persons.csv", PERSONS, persons)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(
            ",".join([V3, make_id(seq=8), "王芳", "女", "已婚", "2011-01-01", "", "", "", "", "多余"]) + "\n"
        )
    for n, (unit, date) in enumerate([(V1, "2011-02-31"), (V3, "2011-04-31"), (V2, "2011-05-01")]):
        write_csv(ledger_dir / "services" / f"s{n}.csv", SERVICES, [service(make_id(seq=1), date, unit=unit)])
    write_csv(ledger_dir / "notes.csv", ["备注", "说明"], [["x", "y"]])
    return ledger_dir


def own_village(ledger_dir, finding, villages):
    """The village whose row a finding is about, read from the file itself (not by fpservice)."""
    if not finding["line"] or finding["file"] == "units.csv":
        return None
    with open(ledger_dir / finding["file"], encoding="utf-8-sig") as fh:
        lines = fh.read().splitlines()
    header = next(csv.reader([lines[0]]))
    if "村居代码" not in header:
        return None
    cells = next(csv.reader([lines[finding["line"] - 1]]))
    code = cells[header.index("村居代码")]
    return code if code in villages else None


def key(f):
    return (f["file"], f["line"], f["column"] or "", f["code"])


def test_each_village_gets_exactly_its_own_findings(offices, tmp_path):
    findings = json.loads(run(["check", offices, "-p", "000", "-f", "json"]).stdout)["findings"]
    problems = [f for f in findings if f["severity"] != "info"]
    assert {"value.date", "value.yes_no", "value.sex_mismatch", "row.duplicate_id", "row.ragged"} <= {
        f["code"] for f in problems
    }
    assert "unit" not in findings[0]  # check's JSON stays as it was
    expected = {}
    for f in problems:
        expected.setdefault(own_village(offices, f, NAMES), set()).add(key(f))

    out = tmp_path / "lists"
    result = run(["check", offices, "-p", "000", "-f", "xlsx", "-o", out])
    assert result.exit_code == 2 and "已写入 4 份问题清单（3 个村/社区）" in result.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [f"{v}_{n}_问题清单.xlsx" for v, n in NAMES.items()] + [f"{C}_江北区_问题清单.xlsx"]
    )
    for village, wanted in expected.items():
        name = f"{village}_{NAMES[village]}" if village else f"{C}_江北区"
        wb = load_workbook(out / f"{name}_问题清单.xlsx")
        assert wb.sheetnames == ["按规则汇总", "问题明细"]
        detail = [r for r in wb["问题明细"].iter_rows(min_row=2, values_only=True)]
        got = {
            (f + (f"[{s}]" if s else ""), line, col or "", code) for _, f, s, line, col, code, *_ in detail
        }
        assert got == wanted, village
        positions = [(f, s or "", line or 0) for _, f, s, line, *_ in detail]
        assert positions == sorted(positions)  # by file, sheet and row
        summary = list(wb["按规则汇总"].iter_rows(min_row=5, values_only=True))
        counted = {code: n for code, _, n, _ in summary if code in CODES}
        assert counted == {c: sum(k[3] == c for k in wanted) for c in {k[3] for k in wanted}}
        assert all(remedy == REMEDIES[code] for code, _, _, remedy in summary if code in CODES)
    county = {k[3] for k in expected[None]}
    assert {"file.unknown_type", "value.unit_malformed", "value.unit_not_village"} <= county


def test_problem_lists_as_csv(offices, tmp_path):
    out = tmp_path / "lists"
    run(["check", offices, "-p", "000", "-f", "csv", "-o", out])
    raw = (out / f"{V1}_{NAMES[V1]}_问题清单.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == [
        "序号",
        "文件",
        "工作表",
        "行",
        "列",
        "规则",
        "严重程度",
        "值（已脱敏）",
        "问题",
        "怎么改",
    ]
    assert {r[5] for r in rows[1:]} == {"value.date", "row.duplicate_id"}
    assert all(r[9] == REMEDIES[r[5]] for r in rows[1:])
    # a village whose problems were fixed keeps no fresh list; the old one is named, not deleted
    (out / "330205009009_旧村_问题清单.csv").write_text("x", encoding="utf-8")
    result = run(["check", offices, "-p", "000", "-f", "csv", "-o", out])
    assert (
        "330205009009_旧村_问题清单.csv" in result.stderr
        and (out / "330205009009_旧村_问题清单.csv").exists()
    )
    assert run(["check", offices, "-p", "000", "-f", "csv"]).exit_code == 3  # a directory is needed


def test_problem_lists_show_no_personal_data(tmp_path):
    sample = tmp_path / "sample"
    shutil.copytree(REPO / "sample_data", sample)
    secrets = personal_values(sample)
    path = sample / "中马街道" / "流入人口信息登记簿.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    header = lines[0].split(",")
    for n in range(1, 6):  # real IDs and names in rows that are rejected or warned about
        cells = lines[n].split(",")
        cells[header.index("流入日期")] = "2011-02-30"
        cells[header.index("身份证号")] = cells[header.index("身份证号")][:-1] + ("1" if n % 2 else "X")
        cells[header.index("姓名")] += "\x01" if n == 3 else ""
        lines[n] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "lists"
    texts = []
    for fmt in ("xlsx", "csv"):
        run(["check", sample, "-f", fmt, "-o", out])
    for p in out.iterdir():
        if p.suffix == ".csv":
            texts.append(p.read_text(encoding="utf-8-sig"))
        else:
            wb = load_workbook(p)
            texts += [
                str(c) for ws in wb for row in ws.iter_rows(values_only=True) for c in row if c is not None
            ]
    everything = "\n".join(texts)
    assert "value.date" in everything and re.search(r"\d{6}\*{8}[\dX]{4}", everything)
    leaked = [v for v in secrets if v in everything and len(v) >= 3]
    assert not leaked, leaked[:5]


def test_terminal_check_groups_findings_past_a_screenful(ledger_dir):
    ids = [make_id(seq=i) for i in range(45)]
    write_csv(ledger_dir / "p.csv", PERSONS, [person(V1, x, arrived="2011-02-30") for x in ids[:30]])
    write_csv(ledger_dir / "s.csv", SERVICES, [service(x, "昨天") for x in ids[:15]])
    grouped = run(["check", ledger_dir, "-p", "000"]).stdout
    section = grouped.split("== 台帐问题 ==\n")[1].split("台帐检查")[0]
    assert "按规则汇总" in section and "--all" in section
    assert re.search(r"\[错误 value\.date\] 45 条，2 个文件；例：", section)
    assert f"怎么改：{REMEDIES['value.date']}" in section and len(section.splitlines()) < 10
    listed = run(["check", ledger_dir, "-p", "000", "--all"]).stdout
    lines = listed.split("== 台帐问题 ==\n")[1].split("台帐检查")[0].splitlines()
    assert sum("[错误 value.date]" in line for line in lines) == 45  # every one, none capped
