"""Reports people read: the Excel workbook, the HTML page, small numbers, the equity gap, the trend."""

import json
import shutil
import subprocess

import numpy as np
import pytest
from openpyxl import load_workbook

from fpservice.stats import wilson
from tests.ledgerkit import (
    PERSONS,
    REPO,
    SERVICES,
    V1,
    make_id,
    person,
    pick,
    report_rows,
    run,
    service,
    write_csv,
)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    d = tmp_path_factory.mktemp("out") / "sample"
    shutil.copytree(REPO / "sample_data", d)
    return d


def test_wilson_interval_known_values():
    low, high = wilson([2, 667, 0, 3], [3, 1000, 5, 3])
    assert [round(x, 3) for x in low] == [0.208, 0.637, 0.0, 0.439]
    assert [round(x, 3) for x in high] == [0.939, 0.696, 0.434, 1.0]


def test_small_samples_and_unclear_misses(ledger_dir):
    ids = [make_id(seq=i) for i in range(3)]
    write_csv(ledger_dir / "p.csv", PERSONS, [person(id_=x) for x in ids])
    write_csv(ledger_dir / "s.csv", SERVICES, [service(x, "2011-08-01") for x in ids[:2]])
    rows = report_rows(ledger_dir, "2011Q3", "000", "--details")
    r = pick(rows, V1, "pregnancy_check", "2011Q1-2011Q3")
    assert (r["numerator"], r["denominator"], r["status"]) == (2, 3, "missed")  # status follows the point
    assert r["small_sample"] and not r["clear"]  # 94 % upper end reaches 90 %
    assert round(r["ci_low"], 3) == 0.208 and round(r["ci_high"], 3) == 0.939
    result = run(["report", ledger_dir, "-q", "2011Q3", "-p", "000", "--no-phases"])
    assert "未达标（不确定）" in result.stdout and "样本少" in result.stdout


def test_spec_rows_stay_exact_without_details(ledger_dir):
    write_csv(ledger_dir / "p.csv", PERSONS, [person()])
    rows = report_rows(ledger_dir)
    assert "ci_low" not in rows[0] and "gap" not in rows[0]


def test_equity_gap_compares_registered_with_floating(ledger_dir):
    floating, registered = [make_id(seq=i) for i in range(4)], [make_id(seq=10 + i) for i in range(2)]
    header = PERSONS + ["人口类型"]
    write_csv(
        ledger_dir / "p.csv",
        header,
        [person(id_=x) + ["流动"] for x in floating] + [person(id_=x) + ["户籍"] for x in registered],
    )
    write_csv(ledger_dir / "s.csv", SERVICES, [service(x, "2011-08-01") for x in floating[:1] + registered])
    rows = report_rows(ledger_dir, "2011Q3", "000", "--details")
    r = pick(rows, V1, "pregnancy_check", "2011Q1-2011Q3")
    assert (r["numerator"], r["denominator"]) == (1, 4)  # floating persons only
    assert (r["registered_numerator"], r["registered_denominator"]) == (2, 2)
    assert r["registered_rate"] == 1.0 and r["gap"] == 0.75
    survey = [x for x in rows if x["indicator"] == "policy_awareness"][0]
    assert survey["gap"] is None  # surveys have no population


def test_trend_gives_year_to_date_at_each_quarter_end(ledger_dir):
    a = make_id(seq=1)
    write_csv(ledger_dir / "p.csv", PERSONS, [person(id_=a)])
    write_csv(ledger_dir / "s.csv", SERVICES, [service(a, "2011-05-01")])
    rows = report_rows(ledger_dir, "2011Q3", "000", "--trend", "--no-phases")
    periods = [r["period"] for r in rows if r["unit"] == V1 and r["indicator"] == "pregnancy_check"]
    assert periods == ["2011Q3", "2011Q1-2011Q3", "2011Q1-2011Q1", "2011Q1-2011Q2"]
    assert [
        pick(rows, V1, "pregnancy_check", p)["numerator"] for p in ("2011Q1-2011Q1", "2011Q1-2011Q2")
    ] == [0, 1]
    result = run(["report", ledger_dir, "-q", "2011Q3", "-p", "000", "--trend", "--no-phases"])
    assert "累计值走势" in result.stdout and result.exit_code == 0


def test_trend_rows_do_not_change_the_exit_code(ledger_dir):
    a = make_id(seq=1)
    write_csv(ledger_dir / "p.csv", PERSONS, [person(id_=a, arrived="2011-01-01")])
    write_csv(ledger_dir / "s.csv", SERVICES, [service(a, "2011-08-01")])
    # Q1 and Q1-Q2 year-to-date are missed, but the report judges Q1-Q3 only.
    assert run(["report", ledger_dir, "-q", "2011Q3", "-p", "001", "--trend", "--no-phases"]).exit_code == 1
    staff = ledger_dir / "staff.csv"
    write_csv(staff, ["村居代码", "岗位"], [[V1, "专职"]])
    write_csv(
        ledger_dir / "s.csv", SERVICES, [service(a, "2011-08-01"), service(a, "2011-08-01", "避孕药具")]
    )
    assert run(["report", ledger_dir, "-q", "2011Q3", "-p", "001", "--trend", "--no-phases"]).exit_code == 0


def test_workbook_reads_back(sample, tmp_path):
    out = tmp_path / "r.xlsx"
    result = run(["report", sample, "-q", "2011Q3", "--trend", "-f", "xlsx", "-o", out])
    assert result.exit_code == 1
    wb = load_workbook(out)
    assert wb.sheetnames == ["数据质量", "县", "乡镇", "村", "阶段"]
    assert wb["数据质量"]["A3"].value == "数据质量：所有台帐行均已使用。"
    ws = wb["村"]
    headers = [c.value for c in ws[1]]
    assert headers[:15] == [
        "代码",
        "单位",
        "层级",
        "指标",
        "期间",
        "开始",
        "结束",
        "分子",
        "分母",
        "比率",
        "95%下限",
        "95%上限",
        "目标",
        "状态",
        "备注",
    ]
    assert ws.freeze_panes == "A2"
    rate = ws.cell(2, headers.index("比率") + 1)
    assert rate.number_format == "0.0%" and isinstance(rate.value, float)
    statuses = {ws.cell(r, headers.index("状态") + 1).value for r in range(2, ws.max_row + 1)}
    assert {"达标", "未达标", "无数据"} <= {s.split("（")[0] for s in statuses}
    rules = [r for cf in ws.conditional_formatting for r in cf.rules]
    assert len(rules) == 4 and ws.column_dimensions["D"].width >= 18  # Chinese indicator names fit
    json_rows = json.loads(run(["report", sample, "-q", "2011Q3", "--trend", "-f", "json"]).stdout)
    assert sum(ws.max_row - 1 for ws in wb.worksheets[1:]) == len(json_rows)


def test_trend_table_has_a_row_per_unit_and_indicator(sample):
    """The trend as people read it in the terminal or markdown: each unit with its own name and
    level, each indicator once, and the year-to-date rates the JSON gives."""
    rows = json.loads(run(["report", sample, "-q", "2011Q3", "--trend", "-f", "json"]).stdout)
    text = run(["report", sample, "-q", "2011Q3", "--trend", "-f", "markdown"]).stdout
    section = text.split("## 累计值走势（各季度末）")[1].split("## ")[0]
    table = [line for line in section.splitlines() if line.startswith("|")][2:]  # after header, rule
    lines = [[c.strip() for c in line.strip("|").split("|")] for line in table]
    ytd = {
        (r["unit"], r["unit_name"], r["level"], r["indicator_name"]): r
        for r in rows
        if r["period"] == "2011Q1-2011Q3"
    }
    assert len(lines) == len(ytd) == 18 * 6
    for line in lines:
        r = ytd[tuple(line[:4])]  # a pairing that is no unit would not be found
        assert line[-1] == ("—" if r["rate"] is None else f"{r['rate'] * 100:.1f}%")
    first = [line[:4] for line in lines[:2]]
    assert first == [
        ["330205000000", "江北区", "县", "计划生育政策知晓率"],
        ["330205000000", "江北区", "县", "流入地免费服务率"],
    ]


def test_workbook_too_large_for_excel_is_refused(sample, tmp_path, monkeypatch):
    """A sheet beyond Excel's row limit would lose rows when opened: the report says so instead."""
    from fpservice.output import workbook

    monkeypatch.setattr(workbook, "MAX_ROWS", 100)
    out = tmp_path / "r.xlsx"
    result = run(["report", sample, "-q", "2011Q3", "-f", "xlsx", "-o", out])
    assert result.exit_code == 3 and not out.exists()
    assert "工作表“村”有 " in result.stderr and "-f csv" in result.stderr and "Traceback" not in result.output
    monkeypatch.setattr(workbook, "MAX_ROWS", 1_048_576)
    assert run(["report", sample, "-q", "2011Q3", "-f", "xlsx", "-o", out]).exit_code == 1 and out.exists()


def test_workbook_text_cells_never_become_formulas(tmp_path):
    d = tmp_path / "f"
    shutil.copytree(REPO / "tests" / "corpus" / "formula_cells", d)
    (d / "expected.yaml").unlink()
    out = tmp_path / "r.xlsx"
    run(["report", d, "-q", "2011Q3", "-p", "000", "-f", "xlsx", "-o", out])
    ws = load_workbook(out)["县"]
    cell = ws.cell(2, 2)
    assert cell.value == "=cmd|' /C calc'!A0" and cell.data_type == "s"


def test_html_is_self_contained(sample, tmp_path):
    out = tmp_path / "r.html"
    assert run(["report", sample, "-q", "2011Q3", "--trend", "-f", "html", "-o", out]).exit_code == 1
    page = out.read_text(encoding="utf-8")
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page and "@import" not in page and "url(" not in page
    assert page.count('<svg class="chart"') == 6 and page.count('<svg class="trend"') == 6
    assert "数据质量：所有台帐行均已使用。" in page and "江北区" in page


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(not CHROMIUM, reason="chromium is not installed (apt-get install chromium)")
def test_html_renders_in_headless_chromium(sample, tmp_path):
    out = tmp_path / "r.html"
    run(["report", sample, "-q", "2011Q3", "--trend", "-f", "html", "-o", out])
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    dom = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", out.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert dom.stdout.count("<rect") > 50 and "计划生育政策知晓率" in dom.stdout
    shot = tmp_path / "page.png"
    done = subprocess.run(
        [CHROMIUM, *flags, f"--screenshot={shot}", "--window-size=1200,2000", out.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and shot.stat().st_size > 10_000
    assert "Uncaught" not in dom.stderr + done.stderr


@pytest.mark.parametrize("details,plan", [(False, "jiangbei-2011"), (True, "dayang-2011")])
def test_json_text_is_json_dumps_of_each_record(sample, details, plan):
    """The JSON writer encodes each distinct cell once and lays rows out from the cells: the text
    must be exactly json.dumps of every record, one per line (staffing targets stay integers,
    rates floats, missing values null, flags true/false)."""
    from fpservice import api
    from fpservice.output import rows as render

    outcome = api.report(sample, "2011Q3", plan=plan, trend=True, all_indicators=True, equity=details)
    records = render.records(outcome.report, details)
    expected = "[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n]\n"
    assert render.to_json(outcome.report, details) == expected
    kinds = {type(r["target"]) for r in records}
    assert {float, type(None)} <= kinds  # the memo must not confuse 1 with 1.0 or None
    assert int in kinds or plan == "jiangbei-2011"  # staffing: the required count, an integer


def test_json_command_writes_the_records_bytes_as_they_are(sample, tmp_path):
    """The command line writes the JSON writer's UTF-8 bytes straight out (no text in between):
    stdout and -o hold exactly json.dumps of each record, Chinese names unescaped."""
    from fpservice import api
    from fpservice.output import rows as render

    outcome = api.report(sample, "2011Q3", plan="dayang-2011", all_indicators=True)
    records = render.records(outcome.report)
    expected = "[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n]\n"
    args = ["report", sample, "-q", "2011Q3", "-p", "dayang-2011", "--all-indicators", "-f", "json"]
    assert run(args).stdout_bytes == expected.encode("utf-8")
    assert run([*args, "-o", tmp_path / "r.json"]).exit_code in (0, 1)
    assert (tmp_path / "r.json").read_bytes() == expected.encode("utf-8")
    assert "江北区" in expected


def test_json_cells_keep_types_that_compare_equal(sample):
    """A staffing target of 1 person and a rate target of 1.0 (100 %) share the target column,
    rates of 0.0 and 1.0 sit beside counts of 0 and 1: the writer factorizes each column, and
    must still write each cell as json.dumps writes its record."""
    from fpservice import api
    from fpservice.output import rows as render
    from fpservice.rules import REQUIREMENT

    report = api.report(sample, "2011Q3", plan="dayang-2011", all_indicators=True).report
    rows = report.rows
    staffing = (rows["count"] == REQUIREMENT).to_numpy()
    assert staffing.any() and not staffing.all()
    rows["target"] = np.where(staffing, 1, 1.0).astype(object)
    rows.loc[rows.index[:3], "rate"] = [0.0, 1.0, 1e-7]
    rows.loc[rows.index[:2], ["numerator", "denominator"]] = [[0, 1], [1, 1]]
    rows.loc[rows.index[3], "unit_name"] = None
    records = render.records(report)
    expected = "[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n]\n"
    assert render.to_json(report) == expected
    assert '"target": 1,' in expected and '"target": 1.0,' in expected and '"unit_name": null' in expected
