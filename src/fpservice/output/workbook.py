"""The report as an Excel workbook: a sheet per level (县, 乡镇, 村) and one for phases.

Statuses are coloured by conditional formatting, so a reader who sorts or filters keeps the
colours; text cells are always stored as text, so a unit name like `=cmd|…` can never run.

Written with XlsxWriter, which streams cells to the sheet's XML: building openpyxl's cell
objects took ten seconds for the 25,000 rows of a county with 250 villages.
"""

from __future__ import annotations

import io
import math

import pandas as pd
import xlsxwriter
from wcwidth import wcswidth

from fpservice.errors import UsageError
from fpservice.output import form as form_mod
from fpservice.output.form import Form, layout
from fpservice.output.labels import STATUS_TEXT, note, plan_identity, status_text
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


def to_xlsx(report: Report, *, form: bool = False) -> bytes:
    """The workbook: a sheet per level and one for phases; with `form`, the statistical form
    first (output/form.py), set up to print. The plan's identity is in the file's properties."""
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
        identity = plan_identity(report.plan)
        wb.set_properties({"title": report.plan.name, "subject": identity, "company": report.plan.issuer})
        if form:
            _form_sheet(wb, layout(report, split_counts=True))
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


# The form sheet: what a statistician prints, stamps and submits.
FORM_SHEET = "报表"
FORM_FILLS = {form_mod.MET: FILLS["达标"], form_mod.MISSED: FILLS["未达标"]}
FORM_FILLS |= {form_mod.UNCLEAR: FILLS["不确定"], form_mod.NO_DATA: FILLS["无数据"]}
A4 = 9  # Excel's paper size code
FORM_HEAD = 3  # rows above the header: title, 填报单位 and 报告期, the plan
FORM_FONT = 9  # points: a row of six indicators, five columns each, fits A4 landscape at about 75 %


def _form_sheet(wb: xlsxwriter.Workbook, form: Form) -> None:
    """Title, 填报单位 and 报告期, the plan; two header rows (each indicator over its columns),
    repeated on every printed page; a row per unit; the notes and the signatures the Statistics
    Law asks for. A4 landscape, one page wide; panes frozen below the header and beside the
    names; statuses coloured by conditional formatting, as on the other sheets."""
    ws = wb.add_worksheet(FORM_SHEET)
    ws.activate()  # the sheet Excel opens at and prints
    last = len(form.columns) - 1
    f = _form_formats(wb)
    ws.merge_range(0, 0, 0, last, form.title, f["title"])
    half = max(2, last // 2)
    ws.merge_range(1, 0, 1, half, f"填报单位：{form.unit}", f["left"])
    ws.merge_range(1, half + 1, 1, last, f"报告期：{form.period}", f["right"])
    ws.merge_range(2, 0, 2, last, form.basis, f["left"])

    top, sub = FORM_HEAD, FORM_HEAD + 1
    for col, c in enumerate(form.columns):
        if c.group is None:
            ws.merge_range(top, col, sub, col, c.header, f["head"])
        else:
            ws.write_string(sub, col, c.header, f["head"])
    start = form.first_group_column
    width = (len(form.columns) - start - 1) // max(len(form.groups), 1)
    for g, group in enumerate(form.groups):
        first = start + g * width
        ws.merge_range(top, first, top, first + width - 1, f"{group.name}（目标 {group.target}）", f["head"])
    ws.set_row(top, 33)

    body = sub + 1
    widths = [wcswidth(c.header) for c in form.columns]
    for i, row in enumerate(form.rows):
        at = body + i
        bold = "b" if row.total else ""
        for col, (value, c) in enumerate(zip(row.cells, form.columns)):
            style = f[c.kind + bold] if col else f[f"name{row.depth}{bold}"]
            if value is None:
                ws.write_blank(at, col, None, style)
            elif isinstance(value, str):
                ws.write_string(at, col, value, style)
            else:
                ws.write_number(at, col, value * 100 if c.kind == form_mod.CHANGE else value, style)
            shown = wcswidth(form_mod.cell_text(value, c.kind)) + (2 * row.depth if col == 0 else 0)
            widths[col] = max(widths[col], shown)
    end = body + max(len(form.rows), 1) - 1
    for g in range(len(form.groups)):
        first = start + g * width
        status = _column_letter(first + width - 1)
        for colour, text in form_mod.STATUS_OF.items():
            ws.conditional_format(
                body,
                first,
                end,
                first + width - 1,
                {
                    "type": "formula",
                    "criteria": f'=${status}{body + 1}="{text}"',
                    "format": wb.add_format({"bg_color": FORM_FILLS[colour]}),
                },
            )
    for col, w in enumerate(widths):  # in characters of the 11-point default font; cells are 9-point
        ws.set_column(col, col, min(math.ceil(w * 0.85) + 1, 34 if col == 0 else 14))

    after = end + 2
    for n, text in enumerate(form.notes):
        ws.merge_range(after + n, 0, after + n, last, text, f["note"])
    sign = after + len(form.notes) + 1
    step = max(1, (last + 1) // len(form.footer))
    for n, text in enumerate(form.footer):
        ws.write_string(sign, n * step, text, f["left"])

    ws.freeze_panes(body, 1)
    ws.set_landscape()
    ws.set_paper(A4)
    ws.fit_to_pages(1, 0)  # one page wide, as many pages tall as the units need
    ws.repeat_rows(top, sub)
    ws.print_area(0, 0, sign, last)
    ws.center_horizontally()
    ws.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    ws.set_footer("&C第 &P 页，共 &N 页")


def _form_formats(wb: xlsxwriter.Workbook) -> dict:
    border = {"border": 1, "valign": "vcenter", "font_size": FORM_FONT}
    specs = {
        "title": {"bold": True, "font_size": 16, "align": "center", "valign": "vcenter"},
        "left": {"font_size": FORM_FONT + 1},
        "right": {"font_size": FORM_FONT + 1, "align": "right"},
        "note": {"font_size": FORM_FONT},
        "head": {**border, "bold": True, "align": "center", "text_wrap": True},
    }
    cells = {
        form_mod.TEXT: {},
        form_mod.COUNT: {"num_format": "0"},
        form_mod.RATE: {"num_format": PERCENT},
        form_mod.CHANGE: {"num_format": "+0.0;-0.0;0.0"},
        form_mod.STATUS: {"align": "center"},
        form_mod.MISSED_COUNT: {"num_format": "0", "align": "center"},
    }
    for kind, spec in cells.items():
        specs[kind] = {**border, **spec}
        specs[kind + "b"] = {**border, **spec, "bold": True}
    for depth in range(3):
        specs[f"name{depth}"] = {**border, "indent": depth}
        specs[f"name{depth}b"] = {**border, "indent": depth, "bold": True}
    return {name: wb.add_format(spec) for name, spec in specs.items()}
