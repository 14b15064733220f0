"""The report as one self-contained HTML page: no script, no network, fonts from the reader's
system. Per indicator, a bar chart of each unit's year-to-date rate against the target line
(inline SVG), coloured met / missed / not clear / no data; the trend when asked for; the tables."""

from __future__ import annotations

from html import escape

import pandas as pd

from fpservice.output.labels import STATUS_TEXT, percent, window_title
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
        f"<p>方案：{escape(plan.id)}　依据：{escape(plan.seed)}　期间：{escape('、'.join(periods))}</p>",
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
