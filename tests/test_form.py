"""The statistical form (`report --layout form`), the summary that opens a report, the change since
last quarter (环比) and the plan's identity: each output read back and checked against the long
rows of the SPEC contract."""

import csv
import io
import json
import math
import re
import shutil
import subprocess

import pandas as pd
import pytest
from openpyxl import load_workbook

from fpservice import api, rules
from fpservice.output.labels import plan_identity
from tests.ledgerkit import REPO, run

YTD, PREVIOUS = "2011Q1-2011Q3", "2011Q1-2011Q2"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    d = tmp_path_factory.mktemp("form") / "sample"
    shutil.copytree(REPO / "sample_data", d)
    return d


@pytest.fixture(scope="module")
def long_rows(sample):
    """The year-to-date rows of 2011Q3 and 2011Q2 as the contract's JSON gives them."""

    def rows(quarter):
        result = run(["report", sample, "-q", quarter, "-f", "json", "--no-phases"])
        assert result.exit_code == 1
        return {
            (r["unit"], r["indicator"]): r
            for r in json.loads(result.stdout)
            if r["period"].startswith("2011Q1-")
        }

    return rows("2011Q3"), rows("2011Q2")


@pytest.fixture(scope="module")
def units(sample):
    with open(sample / "units.csv", encoding="utf-8-sig") as fh:
        return {r["代码"]: r for r in csv.DictReader(fh)}


def form_csv(sample, quarter="2011Q3"):
    result = run(["report", sample, "-q", quarter, "--layout", "form", "-f", "csv"])
    assert result.exit_code == 1, result.output
    assert result.stdout_bytes.startswith(b"\xef\xbb\xbf")  # a BOM: Excel opens it as UTF-8
    return list(csv.reader(io.StringIO(result.stdout_bytes.decode("utf-8-sig"))))


def percent(rate):
    return "" if rate is None else f"{rate * 100:.1f}%"


def points(now, before):
    if now is None or before is None:
        return ""
    value = round((now - before) * 100, 1)
    return f"{value:+.1f}" if value else "0.0"


def test_form_csv_holds_the_long_rows_a_unit_per_row(sample, long_rows, units):
    now, before = long_rows
    header, *body = form_csv(sample)
    indicators = list(dict.fromkeys(k for _, k in now))
    names = {r["indicator"]: r["indicator_name"] for r in now.values()}
    assert header[:3] == ["单位", "代码", "层级"] and header[-1] == "未达标项数"
    assert header[3:-1] == [
        f"{names[k]} {h}" for k in indicators for h in ("分子", "分母", "比率", "环比", "状态")
    ]
    assert len(body) == len(units)
    for line in body:
        code = line[1]
        missed = 0
        for i, key in enumerate(indicators):
            r = now[(code, key)]
            num, den, rate, change, status = line[3 + 5 * i : 8 + 5 * i]
            assert (int(num), int(den)) == (r["numerator"], r["denominator"])
            assert rate == percent(r["rate"])
            assert change == points(r["rate"], before[(code, key)]["rate"])  # 环比 from Q2's own report
            assert status.rstrip("*") == {"met": "达标", "missed": "未达标", "no_data": "无数据"}[r["status"]]
            missed += r["status"] == "missed"
        assert int(line[-1]) == missed
        assert line[0].removesuffix("（合计）") == units[code]["名称"] and line[2] == units[code]["层级"]
    # hierarchy order: the county (the totals row) first, then each township before its villages
    codes = [line[1] for line in body]
    assert units[codes[0]]["层级"] == "县" and body[0][0].endswith("（合计）")
    seen = {codes[0]}
    for code in codes[1:]:
        parent = units[code]["上级代码"]
        assert parent in seen, (code, parent)
        if units[code]["层级"] == "村":
            township = codes.index(parent)
            assert all(units[c]["层级"] == "村" for c in codes[township + 1 : codes.index(code)])
        seen.add(code)


def test_first_quarter_has_no_change_since_last_quarter(sample):
    header, *body = form_csv(sample, "2011Q1")
    changes = [i for i, h in enumerate(header) if h.endswith(" 环比")]
    assert changes and all(line[i] == "" for line in body for i in changes)
    text = run(["report", sample, "-q", "2011Q1", "--layout", "form"]).stdout
    assert "一季度没有本年的上季度" in text


def test_the_previous_quarter_changes_no_row_of_the_contract(sample):
    """Counting 2011Q1-2011Q2 beside the report's windows leaves its rows exactly as they were."""
    plain = api.report(sample, "2011Q3", trend=True)
    with_change = api.report(sample, "2011Q3", trend=True, change=True)
    pd.testing.assert_frame_equal(plain.report.rows, with_change.report.rows)
    assert plain.report.previous is None and set(with_change.report.previous["period"]) == {PREVIOUS}
    default = run(["report", sample, "-q", "2011Q3", "-f", "json"]).stdout
    assert run(["report", sample, "-q", "2011Q3", "-f", "json", "--layout", "long"]).stdout == default
    refused = run(["report", sample, "-q", "2011Q3", "-f", "json", "--layout", "form"])
    assert refused.exit_code == 3 and "json 只有 long 布局" in refused.stderr


def test_summary_comes_first_with_the_largest_misses(sample, long_rows):
    now, before = long_rows
    text = run(["report", sample, "-q", "2011Q3", "--no-phases"]).stdout
    lines = text.splitlines()
    plan = rules.load().plan("jiangbei-2011")
    assert lines[1] == "数据质量：所有台帐行均已使用。"  # what the numbers come from, first
    assert lines[3] == plan_identity(plan)
    assert lines[5].startswith(f"概况：累计 {YTD}") and PREVIOUS in lines[5]
    assert text.index("概况") < text.index("本期 2011Q3 与累计")
    statuses = [r["status"] for r in now.values()]
    assert f"目标 {len(now)} 项" in lines[7] and f"无数据 {statuses.count('no_data')}" in lines[7]
    # the five largest misses: villages, most persons short first, then farthest below target
    villages = [r for r in now.values() if r["level"] == "村" and r["status"] == "missed"]
    for r in villages:
        r["short"] = math.ceil(round(r["target"] * r["denominator"] - r["numerator"], 9))
    top = sorted(villages, key=lambda r: (-r["short"], r["rate"] - r["target"], r["unit"]))[:5]
    section = text.split("未达标差距最大的 5 项")[1].split("\n\n")[1].splitlines()[2:]
    assert len(section) == 5
    for line, r in zip(section, top):
        cells = line.split()
        assert cells[2] == f"{r['numerator']}/{r['denominator']}" and cells[3] == percent(r["rate"])
        counts = rules.load().indicators[r["indicator"]].count
        assert cells[5:8] == ["差", str(r["short"]), "条" if counts == "rows" else "人"]  # 差 13 人
        assert cells[8] == points(r["rate"], before[(r["unit"], r["indicator"])]["rate"])
    markdown = run(["report", sample, "-q", "2011Q3", "-f", "markdown"]).stdout
    assert markdown.splitlines()[3] == plan_identity(plan) and "## 概况：累计" in markdown


def test_form_as_text_is_indented_by_level(sample):
    text = run(["report", sample, "-q", "2011Q3", "--layout", "form"]).stdout
    assert "概况：累计" in text and "填报单位：江北区　　报告期：2011年1—9月" in text
    table = text.split("各列指标：")[1]
    assert re.search(r"^江北区（合计）\s+330205000000", table, re.M)
    assert re.search(r"^\u3000中马街道\s+330205001000", table, re.M)
    assert re.search(r"^\u3000\u3000伟强社区\s+330205001001", table, re.M)
    assert "单位负责人：" in text and "统计负责人：" in text and "填表人：" in text and "报出日期：" in text
    markdown = run(["report", sample, "-q", "2011Q3", "--layout", "form", "-f", "markdown"]).stdout
    assert (
        "| \u3000\u3000伟强社区" in markdown and "## 流动人口计划生育基本公共服务指标完成情况表" in markdown
    )


def test_form_workbook_is_ready_to_print(sample, tmp_path, long_rows):
    now, _ = long_rows
    out = tmp_path / "form.xlsx"
    assert run(["report", sample, "-q", "2011Q3", "--layout", "form", "-f", "xlsx", "-o", out]).exit_code == 1
    wb = load_workbook(out)
    assert wb.sheetnames == ["报表", "数据质量", "县", "乡镇", "村", "阶段"] and wb.active.title == "报表"
    ws = wb["报表"]
    plan = rules.load().plan("jiangbei-2011")
    assert ws["A1"].value == "流动人口计划生育基本公共服务指标完成情况表"
    assert ws["A2"].value == "填报单位：江北区"
    assert [c.value for c in ws[2] if c.value and str(c.value).startswith("报告期")] == [
        "报告期：2011年1—9月"
    ]
    assert ws["A3"].value == plan_identity(plan)
    # print setup: A4 landscape, one page wide, the two header rows on every page, page numbers
    assert ws.page_setup.orientation == "landscape" and int(ws.page_setup.paperSize) == 9
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.page_setup.fitToWidth in (None, 1) and int(ws.page_setup.fitToHeight) == 0  # absent: 1
    assert ws.print_title_rows == "$4:$5" and ws.freeze_panes == "B6"
    assert "&P" in ws.oddFooter.center.text
    values = [c.value for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    for signature in ("单位负责人：", "统计负责人：", "填表人：", "报出日期："):
        assert any(v.startswith(signature) for v in values)
    # headers: an indicator over its five columns; then a row per unit with the long rows' numbers
    assert ws["D4"].value == "计划生育政策知晓率（目标 90%）" and ws["D5"].value == "分子"
    assert [ws.cell(5, c).value for c in range(4, 9)] == ["分子", "分母", "比率", "环比", "状态"]
    county = now[("330205000000", "policy_awareness")]
    assert (ws["D6"].value, ws["E6"].value) == (county["numerator"], county["denominator"])
    assert ws["F6"].value == pytest.approx(county["rate"]) and ws["F6"].number_format == "0.0%"
    assert ws["A6"].font.b and ws["A8"].alignment.indent == 2  # the totals row; a village indented
    rules_ = [r for cf in ws.conditional_formatting for r in cf.rules]
    assert len(rules_) == 4 * 6 and {r.formula[0] for r in rules_} >= {'$H6="未达标"', '$H6="达标"'}
    fills = {r.dxf.fill.bgColor.rgb[-6:] for r in rules_}
    assert fills == {"C6EFCE", "FFC7CE", "FFEB9C", "E7E6E6"}  # the colours of the other sheets


def test_every_report_for_people_names_its_plan(sample, tmp_path):
    plan = rules.load().plan("jiangbei-2011")
    identity = plan_identity(plan)
    assert "宁波市江北区卫生和计划生育局" in identity and "2011年5月19日" in identity
    page = tmp_path / "r.html"
    run(["report", sample, "-q", "2011Q3", "-f", "html", "-o", page])
    text = page.read_text(encoding="utf-8")
    assert identity in text and plan.seed not in text
    book = tmp_path / "r.xlsx"
    run(["report", sample, "-q", "2011Q3", "-f", "xlsx", "-o", book])
    assert load_workbook(book).properties.subject == identity


@pytest.mark.parametrize(
    "plan", ["jiangbei-2011", "dayang-2011", "rongxian-2008", "shizhong-2013", "xinjiang-2010"]
)
def test_every_plan_file_gives_title_issuer_and_date(plan):
    p = rules.load().plan(plan)
    assert p.name and p.issuer and p.issued
    with open(p.file, encoding="utf-8") as fh:
        text = fh.read()
    document = re.search(r"^document: .*$", text, re.M).group(0)
    assert p.document or "no document number" in document  # say so where the seed has none


def test_form_page_prints_on_a4_landscape(sample, tmp_path):
    out = tmp_path / "form.html"
    assert run(["report", sample, "-q", "2011Q3", "--layout", "form", "-f", "html", "-o", out]).exit_code == 1
    page = out.read_text(encoding="utf-8")
    assert "<script" not in page and "http" not in page
    assert "@page{size:A4 landscape" in page and "thead{display:table-header-group}" in page
    assert page.count("<tr") == 2 + 18 and "<thead>" in page and "单位负责人：" in page
    if not CHROMIUM:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    pdf = tmp_path / "form.pdf"
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--no-pdf-header-footer",
        f"--print-to-pdf={pdf}",
    ]
    done = subprocess.run([CHROMIUM, *flags, out.as_uri()], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and pdf.stat().st_size > 1000, done.stderr[-2000:]
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf.read_bytes())
    assert boxes
    for width, height in boxes:  # every page A4 (297 x 210 mm) and landscape
        assert float(width) == pytest.approx(297 / 25.4 * 72, abs=2)
        assert float(height) == pytest.approx(210 / 25.4 * 72, abs=2)


def test_form_file_name_in_a_directory(sample, tmp_path):
    result = run(["report", sample, "-q", "2011Q3", "--layout", "form", "-f", "xlsx", "-o", tmp_path])
    assert (tmp_path / "jiangbei-2011_2011Q3_报表.xlsx").is_file(), result.stderr
