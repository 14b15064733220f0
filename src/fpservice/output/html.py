"""The report as one self-contained HTML page: no script, no network, fonts from the reader's
system. Per indicator, a bar chart of each unit's year-to-date rate against the target line
(inline SVG), coloured met / missed / not clear / no data; the trend when asked for; the tables."""

from __future__ import annotations

from html import escape

import pandas as pd

from fpservice.output import form as form_mod
from fpservice.output.labels import STATUS_TEXT, percent, plan_identity, window_title
from fpservice.output.tables import (
    EQUITY_HEADERS,
    JUDGEMENT_HEADERS,
    UNIT_HEADERS,
    judgement_cells,
    unit_cells,
)
from fpservice.report import Report
from fpservice.rules import REQUIREMENT
from fpservice.status import MET, MISSED, NO_DATA

COLORS = {MET: "#2e7d32", MISSED: "#c62828", "unclear": "#ef6c00", NO_DATA: "#9e9e9e"}
CSS = """
body{font-family:"Microsoft YaHei","PingFang SC","Noto Sans CJK SC","Source Han Sans SC",sans-serif;
margin:24px;color:#212121}h1{font-size:22px}h2{font-size:18px;margin-top:32px}h3{font-size:15px}
table{border-collapse:collapse;font-size:12px;margin:8px 0 24px}th,td{border:1px solid #ddd;padding:3px 6px}
th{background:#f5f5f5}td.n{text-align:right}.met{color:#2e7d32}.missed{color:#c62828}.unclear{color:#ef6c00}
.no_data{color:#9e9e9e}.summary{background:#fafafa;border:1px solid #eee;padding:8px 12px}
.legend span{display:inline-block;margin-right:16px}.legend i{display:inline-block;width:12px;height:12px;
margin-right:4px;vertical-align:middle}
"""


def _kind(row) -> str:
    if row.status == MISSED and not row.clear:
        return "unclear"
    return row.status if row.status in COLORS else NO_DATA


def bar_chart(rows: pd.DataFrame, title: str) -> str:
    """Horizontal bars, one per unit, with the target as a dashed line."""
    label_w, bar_w, row_h = 180, 420, 18
    height = row_h * len(rows) + 30
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="{label_w + bar_w + 70}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg" font-size="11">'
    ]
    target = None
    for i, r in enumerate(rows.itertuples()):
        y = 20 + i * row_h
        indent = {"县": 0, "乡镇": 8, "村": 16}.get(r.level, 0)
        parts.append(f'<text x="{indent}" y="{y + 12}">{escape(str(r.unit_name))}</text>')
        kind = _kind(r)
        if r.rate is None or pd.isna(r.rate):
            parts.append(f'<text x="{label_w}" y="{y + 12}" fill="{COLORS[NO_DATA]}">无数据</text>')
        else:
            w = max(1.0, bar_w * min(float(r.rate), 1.0))
            parts.append(
                f'<rect class="bar {kind}" x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row_h - 5}" '
                f'fill="{COLORS[kind]}"><title>{escape(str(r.unit_name))} {r.numerator}/{r.denominator} '
                f"{percent(r.rate)}</title></rect>"
            )
            parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 12}">{percent(r.rate)}</text>')
        if isinstance(r.target, float):
            target = r.target
    if target is not None:
        x = label_w + bar_w * target
        parts.append(
            f'<line class="target" x1="{x:.1f}" y1="10" x2="{x:.1f}" y2="{height - 4}" stroke="#000" '
            f'stroke-dasharray="4 3"/><text x="{x + 3:.1f}" y="12">目标 {percent(target)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(points: list[tuple[str, float | None]], target: float | None, title: str) -> str:
    """Year-to-date value at the end of each quarter (the trend), as a small line chart."""
    w, h, pad = 360, 140, 30
    xs = [pad + i * (w - 2 * pad) / max(1, len(points) - 1) for i in range(len(points))]

    def y(v):
        return h - pad - (h - 2 * pad) * v

    parts = [
        f'<svg class="trend" role="img" aria-label="{escape(title)}" width="{w}" height="{h}" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="10">'
    ]
    coords = [(x, y(v)) for x, (_, v) in zip(xs, points) if v is not None]
    if len(coords) > 1:
        parts.append(
            '<polyline fill="none" stroke="#1565c0" stroke-width="2" points="'
            + " ".join(f"{a:.1f},{b:.1f}" for a, b in coords)
            + '"/>'
        )
    for (a, b), (label, v) in zip(coords, [p for p in points if p[1] is not None]):
        parts.append(
            f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="#1565c0"><title>{escape(label)} '
            f"{percent(v)}</title></circle>"
        )
    for x, (label, _) in zip(xs, points):
        parts.append(f'<text x="{x:.1f}" y="{h - 8}" text-anchor="middle">{escape(label[-2:])}</text>')
    if target is not None:
        parts.append(
            f'<line x1="{pad}" y1="{y(target):.1f}" x2="{w - pad}" y2="{y(target):.1f}" stroke="#000" '
            f'stroke-dasharray="4 3"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(rows: pd.DataFrame, equity: bool) -> str:
    head = UNIT_HEADERS + JUDGEMENT_HEADERS + (EQUITY_HEADERS if equity else [])
    status_at = len(UNIT_HEADERS) + JUDGEMENT_HEADERS.index("状态")
    out = ["<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"]
    for r in rows.itertuples():
        cells = unit_cells(r) + judgement_cells(r, equity)
        tds = []
        for i, cell in enumerate(cells):
            css = _kind(r) if i == status_at else ("n" if len(UNIT_HEADERS) <= i < status_at else "")
            tds.append(
                f'<td class="{css}">{escape(str(cell))}</td>' if css else f"<td>{escape(str(cell))}</td>"
            )
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def to_html(report: Report) -> str:
    rows = report.rows
    plan = report.plan
    ytd = rows[rows["kind"].isin(["ytd", "range"])]
    judged_label = ytd["period"].iloc[0] if len(ytd) else ""
    periods = list(dict.fromkeys(rows["period"]))
    missed = ytd[ytd["status"] == MISSED]
    out = [
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{escape(plan.name)} {escape(judged_label)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(plan.name)}</h1>",
        '<div class="summary">',
        f"<p>方案：{escape(plan.id)}　{escape(plan_identity(plan))}　期间：{escape('、'.join(periods))}</p>",
        "".join(f'<p class="quality">{escape(line.strip())}</p>' for line in report.quality.lines()),
        f"<p>累计未达标：{len(missed)} 项（{missed['unit'].nunique()} 个单位）</p>",
        '<p class="legend">'
        + "".join(
            f'<span><i style="background:{c}"></i>{t}</span>'
            for c, t in (
                (COLORS[MET], "达标"),
                (COLORS[MISSED], "未达标"),
                (COLORS["unclear"], "未达标（不确定）"),
                (COLORS[NO_DATA], "无数据"),
            )
        )
        + "</p></div>",
    ]
    out.append(f"<h2>各指标累计值（{escape(judged_label)}）</h2>")
    for key in dict.fromkeys(ytd["indicator"]):
        part = ytd[ytd["indicator"] == key]
        name = part["indicator_name"].iloc[0]
        out.append(f"<h3>{escape(name)}</h3>")
        if part["count"].iloc[0] == REQUIREMENT:  # head counts: a table, not bars of rates
            out.append(_table(part, False))
            continue
        out.append(bar_chart(part, name))
        trend = rows[(rows["kind"] == "trend") & (rows["indicator"] == key) & (rows["level"] == "县")]
        if len(trend):
            series = pd.concat([trend, part[part["level"] == "县"]])
            points = [
                (r.period, None if r.rate is None or pd.isna(r.rate) else float(r.rate))
                for r in series.itertuples()
            ]
            target = part["target"].iloc[0] if isinstance(part["target"].iloc[0], float) else None
            out.append(line_chart(points, target, f"{name} 走势"))
    for label in periods:
        part = rows[rows["period"] == label]
        first = part.iloc[0]
        out.append(f"<h2>{escape(window_title(label, first))}</h2>")
        out.append(_table(part, report.equity))
    out.append(
        f"<p>95%区间为 Wilson 区间；样本少：分母小于 {plan.small_sample}；"
        f"{escape(STATUS_TEXT[MISSED])}（不确定）：区间上限达到目标。</p></body></html>"
    )
    return "".join(out)


# The form page: the statistical form alone, on A4 landscape when printed, the header rows
# repeated on every page. On screen the data-quality line shows above it; it is not printed.
FORM_CSS = """
body{font-family:"SimSun","Songti SC","Noto Serif CJK SC","Microsoft YaHei","Noto Sans CJK SC",serif;
margin:24px;color:#000}h1{font-size:20px;text-align:center;margin:0 0 8px}
.meta{display:flex;justify-content:space-between;font-size:13px;margin:4px 0}
.basis{font-size:12px;margin:4px 0 8px}
table.form{border-collapse:collapse;width:100%;font-size:12px}
table.form th,table.form td{border:1px solid #000;padding:2px 3px}
table.form th{font-weight:bold;text-align:center;background:#f2f2f2}td.n{text-align:right}
td.s{text-align:center}tr.total td{font-weight:bold}td.d1{padding-left:1.2em}td.d2{padding-left:2.4em}
td.met{background:#C6EFCE}td.missed{background:#FFC7CE}td.unclear{background:#FFEB9C}
td.no_data{background:#E7E6E6}.notes{font-size:11px;margin:6px 0}
.sign{display:flex;justify-content:space-between;font-size:13px;margin-top:16px}
.screen{background:#fafafa;border:1px solid #eee;padding:6px 10px;font-size:12px}
@page{size:A4 landscape;margin:10mm}
@media print{body{margin:0}.screen{display:none}table.form{font-size:7pt}
table.form th,table.form td{padding:1px 2px}thead{display:table-header-group}tr{break-inside:avoid}
td.met,td.missed,td.unclear,td.no_data,table.form th{-webkit-print-color-adjust:exact;
print-color-adjust:exact}}
"""


def form_page(report: Report) -> str:
    """The form (output/form.py) as one self-contained page, ready to print."""
    form = form_mod.layout(report)
    title = f"{form.title} {form.period}"
    out = [
        '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title><style>{FORM_CSS}</style></head><body>",
        '<div class="quality">'
        + "".join(f"<p>{escape(x.strip())}</p>" for x in report.quality.lines())
        + "</div>",
        f"<h1>{escape(form.title)}</h1>",
        f'<div class="meta"><span>填报单位：{escape(form.unit)}</span>'
        f"<span>报告期：{escape(form.period)}</span></div>",
        f'<p class="basis">{escape(form.basis)}</p>',
        _form_table(form),
        '<div class="notes">' + "".join(f"<p>{escape(n)}</p>" for n in form.notes) + "</div>",
        '<div class="sign">' + "".join(f"<span>{escape(t)}</span>" for t in form.footer) + "</div>",
        "</body></html>",
    ]
    return "".join(out)


def _form_table(form) -> str:
    top, sub = [], []
    for c in form.columns[: form.first_group_column]:
        top.append(f'<th rowspan="2">{escape(c.header)}</th>')
    for g, group in enumerate(form.groups):
        span = sum(c.group == g for c in form.columns)
        top.append(f'<th colspan="{span}">{escape(group.name)}<br>（目标 {escape(group.target)}）</th>')
        sub += [f"<th>{escape(c.header)}</th>" for c in form.columns if c.group == g]
    top.append(f'<th rowspan="2">{escape(form.columns[-1].header)}</th>')
    out = ['<table class="form"><thead><tr>', *top, "</tr><tr>", *sub, "</tr></thead><tbody>"]
    numeric = (form_mod.RATIO, form_mod.COUNT, form_mod.RATE, form_mod.CHANGE, form_mod.MISSED_COUNT)
    for row in form.rows:
        out.append('<tr class="total">' if row.total else "<tr>")
        for col, (value, c) in enumerate(zip(row.cells, form.columns)):
            text = escape(form_mod.cell_text(value, c.kind))
            if col == 0:
                css = f"d{row.depth}"
            elif c.kind == form_mod.STATUS:
                css = f"s {row.colours[c.group]}"
            else:
                css = "n" if c.kind in numeric else ""
            out.append(f'<td class="{css}">{text}</td>' if css else f"<td>{text}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)
