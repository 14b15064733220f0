"""Workbooks as offices keep them, written for real in the formats fpservice reads: xlsx
(XlsxWriter), xls (xlwt, Excel 97-2003) and ods (odfpy, through pandas). Cells keep their types:
a number is a number cell, a date a date cell, True a boolean cell."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Formula:
    """A formula cell whose cached value is `value` (an error such as #REF!)."""

    formula: str
    value: str


def office_sheet(title: str, header: list[str], rows: list[list], *, groups: dict[int, str] | None = None):
    """A ledger sheet as an office lays it out: a title, a 填报单位 line, the header (with a row
    of group labels above it when `groups` maps a column to its group: the header's other
    cells are then blank in the lower row, merged down from the upper one), the data, a blank
    row and the 合计 / 填表人 / 审核人 footers."""
    top = [[title], ["填报单位：文廖社区    填报时间：2011年10月1日"]]
    if groups:
        upper = [groups.get(i, h) for i, h in enumerate(header)]
        lower = [h if i in groups else "" for i, h in enumerate(header)]
        head = [upper, lower]
    else:
        head = [header]
    footer = [[], [f"合计：{len(rows)} 人"], ["填表人：张三", "", "审核人：李四"]]
    return top + head + [list(r) for r in rows] + footer


def write_workbook(path: Path, sheets: dict[str, list[list]]) -> Path:
    """One workbook, a sheet per entry, in the format the file name says."""
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        _xlsx(path, sheets)
    elif suffix == ".xls":
        _xls(path, sheets)
    elif suffix == ".ods":
        _ods(path, sheets)
    else:
        raise ValueError(path)
    return path


def _xlsx(path: Path, sheets: dict[str, list[list]]) -> None:
    import xlsxwriter

    with xlsxwriter.Workbook(str(path)) as wb:
        day = wb.add_format({"num_format": "yyyy年m月d日"})
        for name, rows in sheets.items():
            ws = wb.add_worksheet(name)
            for r, row in enumerate(rows):
                for c, value in enumerate(row):
                    if value is None or value == "":
                        continue
                    if isinstance(value, Formula):
                        ws.write_formula(r, c, value.formula, None, value.value)
                    elif isinstance(value, bool):
                        ws.write_boolean(r, c, value)
                    elif isinstance(value, int | float):
                        ws.write_number(r, c, value)
                    elif isinstance(value, dt.date):
                        ws.write_datetime(r, c, dt.datetime.combine(value, dt.time()), day)
                    else:
                        ws.write_string(r, c, str(value))


def _xls(path: Path, sheets: dict[str, list[list]]) -> None:
    import xlwt

    wb = xlwt.Workbook(encoding="utf-8")
    day = xlwt.easyxf(num_format_str="YYYY-MM-DD")
    for name, rows in sheets.items():
        ws = wb.add_sheet(name)
        for r, row in enumerate(rows):
            for c, value in enumerate(row):
                if value is None or value == "":
                    continue
                if isinstance(value, Formula):
                    value = value.value  # xlwt writes no cached value: the error's text
                if isinstance(value, dt.date):
                    ws.write(r, c, dt.datetime.combine(value, dt.time()), day)
                else:
                    ws.write(r, c, value)
    wb.save(str(path))


def _ods(path: Path, sheets: dict[str, list[list]]) -> None:
    import pandas as pd

    with pd.ExcelWriter(path, engine="odf") as writer:
        for name, rows in sheets.items():
            width = max((len(r) for r in rows), default=1)
            cells = [
                [(v.value if isinstance(v, Formula) else v) if v != "" else None for v in r]
                + [None] * (width - len(r))
                for r in rows
            ]
            pd.DataFrame(cells, dtype=object).to_excel(writer, sheet_name=name, header=False, index=False)
