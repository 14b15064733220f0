"""The form (output/form.py) as text: for the terminal and markdown, after the summary, and as CSV
for a spreadsheet (numerator and denominator in columns of their own, one header row)."""

from __future__ import annotations

import csv
import io

from fpservice.output import summary as summary_mod
from fpservice.output.form import CHANGE, RATE, RATIO, Form, cell_text, layout
from fpservice.output.labels import text_table
from fpservice.output.rows import neutralize
from fpservice.report import Report

INDENT = "\u3000"  # a full-width space per level: markdown keeps it, and it is as wide as a character


def form_text(report: Report, fmt: str = "table") -> str:
    """The summary, then the form: title, 填报单位 and 报告期, the indicators by number, the table
    (a row per unit, indented by level), the notes and the signature lines."""
    form = layout(report)
    markdown = fmt == "markdown"
    out = [f"{report.plan.name}（{report.plan.id}）", *report.quality.lines(), ""]
    out += [summary_mod.summary(report, fmt).rstrip("\n"), ""]
    out += [f"## {form.title}" if markdown else form.title, ""]
    out += [f"填报单位：{form.unit}　　报告期：{form.period}", ""]
    legend = [f"{g.number}：{g.name}（目标 {g.target}）" for g in form.groups]
    out += ["各列指标：", ""] + ([f"- {line}" for line in legend] if markdown else legend) + [""]
    headers = [
        c.header if c.group is None else f"{form.groups[c.group].number} {c.header}" for c in form.columns
    ]
    body = [_text_row(form, r) for r in form.rows]
    out += [text_table(body, headers, "github" if markdown else "simple", indented=True), ""]
    out += form.notes + [""] + ["　　".join(form.footer)]
    return "\n".join(out) + "\n"


def _text_row(form: Form, row) -> list[str]:
    cells = [cell_text(v, c.kind) for v, c in zip(row.cells, form.columns)]
    cells[0] = INDENT * row.depth + cells[0]
    return cells


def form_csv(report: Report) -> str:
    """The form as CSV (the caller writes it with a BOM): one header row naming each indicator's
    columns, rates as percentages and changes in points as Excel reads them, blank where there is
    no value; text cells that would start a formula are neutralised."""
    form = layout(report, split_counts=True)
    headers = [
        c.header if c.group is None else f"{form.groups[c.group].name} {c.header}" for c in form.columns
    ]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(headers)
    for row in form.rows:
        writer.writerow([_csv_cell(v, c.kind) for v, c in zip(row.cells, form.columns)])
    return buf.getvalue()


def _csv_cell(value, kind: str):
    if value is None:
        return ""
    if kind in (RATE, CHANGE, RATIO):
        return cell_text(value, kind)
    return neutralize(value) if isinstance(value, str) else value
