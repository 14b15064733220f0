"""Problem lists for the offices that keep the ledgers, and `check`'s findings grouped by rule.

The findings of `check` go back to the village whose row each is about (`Finding.unit`, the unit
code written on that row): one list per village office that has any, and one for the county with
the findings on whole files, on units.csv and on rows without a valid village code. A list holds
its findings sorted by file, sheet and row, with the rule (its code), the column, the value
(masked, as every output shows it) and the message; a workbook's first sheet counts them by rule
with what to do about each (`findings.REMEDIES`). Notes (`info`) are no problems and stay out.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass

from fpservice.findings import ERROR, REMEDIES, WARNING, Finding
from fpservice.output.rows import neutralize
from fpservice.units import COUNTY, Units

SEVERITY_TEXT = {ERROR: "错误", WARNING: "警告"}
FINDING_HEADERS = ["序号", "文件", "工作表", "行", "列", "规则", "严重程度", "值（已脱敏）", "问题"]
RULE_HEADERS = ["规则", "严重程度", "条数", "怎么改"]
SUFFIX = "问题清单"
SCREENFUL = 40  # more finding lines than this, and the terminal shows them by rule


@dataclass
class ProblemList:
    """The findings one office gets back: a village's (code and name), or the county's."""

    code: str | None  # the unit's code; None for a county list when the units name no county
    name: str
    village: bool  # False: the county's list (files, units.csv, rows without a village code)
    findings: list[Finding]

    def file_name(self, ext: str) -> str:
        """`330205001001_伟强社区_问题清单.xlsx`: the unit's code and name, safe as a file name."""
        parts = [p for p in (self.code, self.name) if p]
        if len(parts) == 2 and parts[0] == parts[1]:  # without units.csv a unit is named by its code
            parts = parts[:1]
        stem = "_".join(_safe(p) for p in parts) or "县级"
        return f"{stem}_{SUFFIX}.{ext}"

    def counts(self) -> list[tuple[str, str, int]]:
        """(code, severity, count) per rule, errors first, then by how many."""
        c = Counter(f.code for f in self.findings)
        severity = {f.code: f.severity for f in self.findings}
        return sorted(((k, severity[k], n) for k, n in c.items()), key=lambda t: (t[1] != ERROR, -t[2], t[0]))


def problem_lists(findings: list[Finding], units: Units) -> list[ProblemList]:
    """One list per village with findings (in code order), then the county's list, if any."""
    table = units.table
    names = dict(zip(table.index.tolist(), table["name"].astype(str).tolist())) if len(table) else {}
    by_village: dict[str, list[Finding]] = {}
    county: list[Finding] = []
    for f in findings:
        if f.severity not in SEVERITY_TEXT:
            continue
        if f.unit:
            by_village.setdefault(f.unit, []).append(f)
        else:
            county.append(f)
    lists = [
        ProblemList(code, names.get(code, code), True, sorted(found, key=_position))
        for code, found in sorted(by_village.items())
    ]
    if county:
        counties = table.index[table["level"] == COUNTY].tolist() if len(table) else []
        code = counties[0] if len(counties) == 1 else None
        lists.append(
            ProblemList(code, names.get(code, "") if code else "", False, sorted(county, key=_position))
        )
    return lists


_SHEET = re.compile(r"^(.*)\[([^\[\]]*)\]$")


def file_and_sheet(where: str) -> tuple[str, str]:
    """`台帐.xlsx[服务登记簿]` -> (`台帐.xlsx`, `服务登记簿`); a CSV file has no sheet."""
    m = _SHEET.match(where)
    return (m.group(1), m.group(2)) if m else (where, "")


def _position(f: Finding) -> tuple:
    file, sheet = file_and_sheet(f.file)
    return (file, sheet, f.line or 0, f.column or "", f.code)


def _safe(text: str) -> str:
    cleaned = re.sub(r'[\\/:*?"<>|\x00-\x1f\x7f]+', "_", text).strip(" .")
    return cleaned[:60]


def finding_cells(n: int, f: Finding) -> list:
    file, sheet = file_and_sheet(f.file)
    return [
        n,
        file,
        sheet,
        f.line,
        f.column or "",
        f.code,
        SEVERITY_TEXT[f.severity],
        f.value or "",
        f.message,
    ]


def heading(pl: ProblemList) -> str:
    who = f"{pl.name}（{pl.code}）" if pl.code and pl.name != pl.code else (pl.code or pl.name or "县级")
    what = "" if pl.village else "：整个文件、units.csv 和没有有效村居代码的行"
    return f"{who}台帐问题清单{what}"


def totals(pl: ProblemList) -> str:
    errors = sum(f.severity == ERROR for f in pl.findings)
    return (
        f"共 {len(pl.findings)} 条：错误 {errors} 条（这些行未计入指标，改正后重新报送），"
        f"警告 {len(pl.findings) - errors} 条（行已计入，请核实）。"
        "行号即 Excel 中显示的行号（CSV 文件为文本的行号）。"
    )


def to_csv(pl: ProblemList) -> str:
    """The list as CSV (the caller writes it with a BOM): a row per finding, with what to do."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow([*FINDING_HEADERS, "怎么改"])
    for n, f in enumerate(pl.findings, start=1):
        writer.writerow([neutralize(c) for c in finding_cells(n, f)] + [f.remedy])
    return buf.getvalue()


def to_xlsx(pl: ProblemList) -> bytes:
    """The list as a workbook: the count by rule with what to do first, then every finding."""
    import xlsxwriter
    from wcwidth import wcswidth

    buf = io.BytesIO()
    options = {"in_memory": True, "strings_to_formulas": False, "strings_to_numbers": False}
    options["strings_to_urls"] = False
    with xlsxwriter.Workbook(buf, options) as wb:
        bold = wb.add_format({"bold": True})
        head = wb.add_format({"bold": True, "bg_color": "#F2F2F2", "border": 1})
        title = wb.add_format({"bold": True, "font_size": 14})
        ws = wb.add_worksheet("按规则汇总")
        ws.write_string(0, 0, heading(pl), title)
        ws.write_string(1, 0, totals(pl))
        ws.write_row(3, 0, RULE_HEADERS, head)
        for i, (code, severity, n) in enumerate(pl.counts(), start=4):
            ws.write_string(i, 0, code)
            ws.write_string(i, 1, SEVERITY_TEXT[severity])
            ws.write_number(i, 2, n)
            ws.write_string(i, 3, REMEDIES[code])
        ws.write_string(5 + len(pl.counts()), 0, "每条问题的文件、行和列见“问题明细”。", bold)
        ws.set_column(0, 0, 28)
        ws.set_column(1, 2, 9)
        ws.set_column(3, 3, 60)
        ws.set_landscape()
        ws.set_paper(9)

        ws = wb.add_worksheet("问题明细")
        ws.write_row(0, 0, FINDING_HEADERS, head)
        widths = [wcswidth(h) for h in FINDING_HEADERS]
        for row, f in enumerate(pl.findings, start=1):
            for col, value in enumerate(finding_cells(row, f)):
                if value is None or value == "":
                    ws.write_blank(row, col, None)
                elif isinstance(value, str):
                    ws.write_string(row, col, value)
                else:
                    ws.write_number(row, col, value)
                if row <= 500:
                    widths[col] = max(widths[col], wcswidth(str(value or "")))
        for col, width in enumerate(widths):
            ws.set_column(col, col, min(width + 2, 70))
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, max(len(pl.findings), 1), len(FINDING_HEADERS) - 1)
        ws.set_landscape()
        ws.set_paper(9)
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(0)
    return buf.getvalue()


def grouped_text(findings: list[Finding]) -> str:
    """`check`'s findings by rule when they are more than a screenful: per rule its count, how
    many files, one example and what to do."""
    by_code: dict[str, list[Finding]] = {}
    for f in findings:
        by_code.setdefault(f.code, []).append(f)
    order = sorted(by_code.items(), key=lambda kv: (kv[1][0].severity != ERROR, -len(kv[1]), kv[0]))
    label = {**SEVERITY_TEXT, "info": "提示"}
    lines = [f"共 {len(findings)} 条，按规则汇总（加 --all 逐条列出；-f xlsx -o 目录 生成各村的问题清单）："]
    for code, found in order:
        first = found[0]
        where = first.file + (f":{first.line}" if first.line else "")
        column = f" 列“{first.column}”" if first.column else ""
        files = len({f.file for f in found})
        example = f"{where}{column} {first.message}"
        lines.append(f"[{label[first.severity]} {code}] {len(found)} 条，{files} 个文件；例：{example}")
        lines.append(f"    怎么改：{first.remedy}")
    return "\n".join(lines) + "\n"
