"""The report as an Excel workbook: a sheet per level (县, 乡镇, 村) and one for phases.

Statuses are coloured by conditional formatting, so a reader who sorts or filters keeps the
colours; text cells are always stored as text, so a unit name like `=cmd|…` can never run.

Written with XlsxWriter, which streams cells to the sheet's XML: building openpyxl's cell
objects took ten seconds for the 25,000 rows of a county with 250 villages.
"""

from __future__ import annotations

import io

import pandas as pd
import xlsxwriter
from wcwidth import wcswidth

from fpservice.errors import UsageError
from fpservice.output.labels import STATUS_TEXT, note, status_text
from fpservice.report import Report
from fpservice.rules import REQUIREMENT
from fpservice.status import MISSED
from fpservice.units import LEVELS

HEADERS = [
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
EQUITY = ["户籍分子", "户籍分母", "户籍比率", "差距(百分点)"]
PERCENT_COLUMNS = {"比率", "95%下限", "95%上限", "户籍比率"}
POINTS = "+0.0;-0.0;0.0"  # the equity gap: 户籍 minus 流动, in percentage points
FILLS = {"达标": "#C6EFCE", "未达标": "#FFC7CE", "不确定": "#FFEB9C", "无数据": "#E7E6E6"}
PERCENT = "0.0%"
MAX_ROWS = 1_048_576  # rows of an Excel sheet, the header's included
WIDTH_SAMPLE = 500  # column widths follow the header and the first rows


def to_xlsx(report: Report) -> bytes:
    rows = report.rows
    regular = rows[rows["kind"] != "phase"]
    sheets = {level: regular[regular["level"] == level] for level in LEVELS}
    phases = rows[rows["kind"] == "phase"]
    if len(phases):
        sheets["阶段"] = phases
    for title, part in sheets.items():
        if len(part) + 1 > MAX_ROWS:  # Excel would not open the rows beyond it: say so, drop none
            raise UsageError(
                f"工作表“{title}”有 {len(part):,} 行，超过 Excel 每张工作表 {MAX_ROWS - 1:,} 行的上限；"
                "请改用 -f csv，或用 --no-phases、不加 --trend/--all-indicators 缩小报告。"
            )
    buf = io.BytesIO()
    # Text is only ever text: never a formula, a number or a link, whatever it starts with.
    options = {
        "in_memory": True,
        "strings_to_formulas": False,
        "strings_to_numbers": False,
        "strings_to_urls": False,
    }
    with xlsxwriter.Workbook(buf, options) as wb:
        _quality_sheet(wb, report)
        for title, part in sheets.items():
            _sheet(wb, title, part, report.equity)
    return buf.getvalue()


def _sheet(wb: xlsxwriter.Workbook, title: str, rows: pd.DataFrame, equity: bool) -> None:
    ws = wb.add_worksheet(title)
    headers = HEADERS + (EQUITY if equity else [])
    percent = wb.add_format({"num_format": PERCENT})
    ws.write_row(0, 0, headers, wb.add_format({"bold": True, "align": "center"}))
    widths = [wcswidth(name) for name in headers]
    points = wb.add_format({"num_format": POINTS})
    styles = [
        percent if name in PERCENT_COLUMNS else points if name == EQUITY[-1] else None for name in headers
    ]
    target_col = headers.index("目标")
    for row, r in enumerate(rows.itertuples(), start=1):
        head_count = r.count == REQUIREMENT  # its target is a number of staff, not a rate
        styles[target_col] = None if head_count else percent
        for col, value in enumerate(_values(r, head_count, equity)):
            style = styles[col]
            if value is None or value == "":
                ws.write_blank(row, col, None, style)
            elif isinstance(value, str):
                ws.write_string(row, col, value, style)
            else:
                ws.write_number(row, col, value, style)
            if row <= WIDTH_SAMPLE:
                shown = f"{value:.1%}" if style is percent and value is not None else str(value or "")
                widths[col] = max(widths[col], wcswidth(shown))
    last = max(len(rows), 1)
    status = _column_letter(headers.index("状态"))
    for text, fill in (
        ("不确定", FILLS["不确定"]),
        (STATUS_TEXT[MISSED], FILLS["未达标"]),
        ("达标", FILLS["达标"]),
        ("无数据", FILLS["无数据"]),
    ):
        ws.conditional_format(
            1,
            0,
            last,
            len(headers) - 1,
            {
                "type": "formula",
                "criteria": f'=ISNUMBER(SEARCH("{text}",${status}2))',
                "format": wb.add_format({"bg_color": fill}),
                "stop_if_true": True,
            },
        )
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, len(rows), len(headers) - 1)
    for col, width in enumerate(widths):
        ws.set_column(col, col, min(width + 2, 60))


def _quality_sheet(wb: xlsxwriter.Workbook, report: Report) -> None:
    """The first sheet: the plan, and what the numbers were computed from (files and rows not used)."""
    ws = wb.add_worksheet("数据质量")
    ws.write_string(0, 0, f"{report.plan.name}（{report.plan.id}）", wb.add_format({"bold": True}))
    warn = wb.add_format({"font_color": "#9C0006"})
    for i, line in enumerate(report.quality.lines(), start=2):
        ws.write_string(i, 0, line.strip(), warn if line.strip().startswith("注意") else None)
    ws.set_column(0, 0, 100)


def _values(r, head_count: bool, equity: bool) -> list:
    values = [
        r.unit,
        r.unit_name,
        r.level,
        r.indicator_name,
        r.period,
        r.start,
        r.end,
        int(r.numerator),
        int(r.denominator),
        _num(r.rate),
        _num(r.ci_low),
        _num(r.ci_high),
        (int(r.target) if head_count else _num(r.target)) if r.target is not None else None,
        status_text(r),
        note(r),
    ]
    if equity:
        values += [
            _int(r.registered_numerator),
            _int(r.registered_denominator),
            _num(r.registered_rate),
            None if _num(r.gap) is None else _num(r.gap) * 100,  # percentage points, not a percentage
        ]
    return values


def _column_letter(col: int) -> str:
    return xlsxwriter.utility.xl_col_to_name(col)


def _num(value):
    return None if value is None or pd.isna(value) else float(value)


def _int(value):
    return None if value is None or pd.isna(value) else int(value)
