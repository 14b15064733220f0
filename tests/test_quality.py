"""The data-quality summary at the top of every report meant for people: a ledger file that
dropped out is said above the numbers, and the indicators it feeds are marked."""

from __future__ import annotations

import json
import shutil

import pytest
from openpyxl import load_workbook

from tests.ledgerkit import REPO, run

Q3 = "services/服务登记簿_2011Q3.csv"


@pytest.fixture
def typo(tmp_path):
    """The sample district with one header typo in the 2011Q3 services file (服务曰期)."""
    d = tmp_path / "ledgers"
    shutil.copytree(REPO / "sample_data", d)
    path = d / Q3
    path.write_bytes(path.read_bytes().replace("服务日期".encode(), "服务曰期".encode(), 1))
    return d


def test_a_file_that_dropped_out_is_said_above_the_numbers(typo, tmp_path):
    text = run(["--no-cache", "report", typo, "-q", "2011Q3"]).stdout
    head, tables = text.split("\n本期", 1)
    assert f"注意：{Q3}（服务登记簿，整个文件未能使用）" in head and "“服务曰期”是不是“服务日期”" in head
    lines = {line.split()[3]: line for line in tables.splitlines() if line.startswith("330205000000")}
    assert "数据不全" in lines["流入地免费服务率"] and "数据不全" in lines["现居住地免费孕检率"]
    assert "数据不全" not in lines["计划生育政策知晓率"]  # surveys: not fed by services

    out = tmp_path / "r.xlsx"
    run(["--no-cache", "report", typo, "-q", "2011Q3", "-f", "xlsx", "-o", out])
    quality = [c.value for c in load_workbook(out)["数据质量"]["A"] if c.value]
    assert any(v.startswith(f"注意：{Q3}") for v in quality)
    page = run(["--no-cache", "report", typo, "-q", "2011Q3", "-f", "html"]).stdout
    assert page.index("整个文件未能使用") < page.index("<table")
    for fmt in ("html", "table"):  # the form too
        form = run(["--no-cache", "report", typo, "-q", "2011Q3", "--layout", "form", "-f", fmt]).stdout
        assert form.index("整个文件未能使用") < form.index("江北区", form.index("填报单位"))


def test_the_json_rows_stay_the_contract(typo):
    rows = json.loads(run(["--no-cache", "report", typo, "-q", "2011Q3", "-f", "json"]).stdout)
    assert set(rows[0]) == {
        "unit", "unit_name", "level", "indicator", "indicator_name", "period", "start", "end",
        "numerator", "denominator", "rate", "target", "status",
    }  # fmt: skip


def test_follow_on_warnings_of_a_persons_file_that_dropped_out_are_summarised(tmp_path):
    d = tmp_path / "ledgers"
    shutil.copytree(REPO / "sample_data", d)
    path = d / "中马街道" / "流入人口信息登记簿.csv"
    path.write_bytes(path.read_bytes().replace("流入日期".encode(), "流入曰期".encode(), 1))
    doc = json.loads(run(["--no-cache", "check", d, "-f", "json"]).stdout)
    codes = [f["code"] for f in doc["findings"]]
    assert "row.service_unknown_person" not in codes
    summaries = [f for f in doc["findings"] if f["code"] == "file.services_without_persons"]
    assert len(summaries) >= 4 and all(
        f["file"].startswith(("services/", "中马街道", "孔浦街道")) for f in summaries
    )
    (unknown,) = [f for f in doc["findings"] if f["code"] == "file.unknown_type"]
    assert "“流入曰期”是不是流入人口信息登记簿的“流入日期”" in unknown["message"]
    persons = {a["file"]: a for a in doc["files"]}["中马街道/流入人口信息登记簿.csv"]
    assert persons["ledger"] == "persons" and persons["used"] == 0
