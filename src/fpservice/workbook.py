"""The report as an Excel workbook: a sheet per level (县, 乡镇, 村) and one for phases.

Statuses are coloured by conditional formatting, so a reader who sorts or filters keeps the
colours; text cells are always stored as text, so a unit name like `=cmd|…` can never run.
"""

from __future__ import annotations

import io

import pandas as pd
from openpyxl import Workbook
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from wcwidth import wcswidth

from fpservice.render import STATUS_TEXT, status_text
from fpservice.report import MISSED, Report
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
EQUITY = ["户籍分子", "户籍分母", "户籍比率", "差距"]
PERCENT_COLUMNS = {"比率", "95%下限", "95%上限", "户籍比率", "差距"}
FILLS = {"达标": "C6EFCE", "未达标": "FFC7CE", "不确定": "FFEB9C", "无数据": "E7E6E6"}


def to_xlsx(report: Report) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    rows = report.rows
    regular = rows[rows["kind"] != "phase"]
    for level in LEVELS:
        _sheet(wb, level, regular[regular["level"] == level], report.equity)
    phases = rows[rows["kind"] == "phase"]
    if len(phases):
        _sheet(wb, "阶段", phases, report.equity)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _sheet(wb: Workbook, title: str, rows: pd.DataFrame, equity: bool) -> None:
    ws = wb.create_sheet(title)
    headers = HEADERS + (EQUITY if equity else [])
    ws.append(headers)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center")
    for r in rows.itertuples():
        staffing = r.indicator == "staffing"
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
            (int(r.target) if staffing else _num(r.target)) if r.target is not None else None,
            status_text(r),
            "样本少" if r.small_sample else "",
        ]
        if equity:
            values += [
                _int(r.registered_numerator),
                _int(r.registered_denominator),
                _num(r.registered_rate),
                _num(r.gap),
            ]
        ws.append(values)
        row = ws.max_row
        for col, value in enumerate(values, start=1):
            cell = ws.cell(row, col)
            if isinstance(value, str):
                cell.data_type = "s"  # text stays text: never a formula
            name = headers[col - 1]
            if name in PERCENT_COLUMNS or (name == "目标" and not staffing):
                cell.number_format = "0.0%"
    status_col = get_column_letter(headers.index("状态") + 1)
    area = f"A2:{get_column_letter(len(headers))}{max(ws.max_row, 2)}"
    for text, color in (
        ("不确定", FILLS["不确定"]),
        (STATUS_TEXT[MISSED], FILLS["未达标"]),
        ("达标", FILLS["达标"]),
        ("无数据", FILLS["无数据"]),
    ):
        formula = f'ISNUMBER(SEARCH("{text}",${status_col}2))'
        ws.conditional_formatting.add(
            area, FormulaRule(formula=[formula], stopIfTrue=True, fill=PatternFill("solid", bgColor=color))
        )
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{ws.max_row}"
    for col, name in enumerate(headers, start=1):
        width = max(wcswidth(str(ws.cell(r, col).value or "")) for r in range(1, min(ws.max_row, 500) + 1))
        ws.column_dimensions[get_column_letter(col)].width = min(max(width, wcswidth(name)) + 2, 60)


def _num(value):
    return None if value is None or pd.isna(value) else float(value)


def _int(value):
    return None if value is None or pd.isna(value) else int(value)
