"""Reports and `check` results as text for people: terminal tables or markdown (report rows, the
trend, findings, row accounts). Rendering never computes; it only lays out what it is given."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from fpservice.findings import ERROR, INFO, WARNING, Finding
from fpservice.output import summary as summary_mod
from fpservice.output.labels import (
    interval,
    note,
    percent,
    ratio,
    status_text,
    target_text,
    text_table,
    window_title,
)
from fpservice.read import FileAccount
from fpservice.report import Report
from fpservice.status import MET, MISSED, NO_DATA, NO_TARGET

UNIT_HEADERS = ["代码", "单位", "层级", "指标"]
JUDGEMENT_HEADERS = ["分子/分母", "比率", "95%区间", "目标", "状态", "备注"]
EQUITY_HEADERS = ["户籍比率", "差距(百分点)"]


def unit_cells(row) -> list[str]:
    return [row.unit, row.unit_name, row.level, row.indicator_name]


def judgement_cells(row, equity: bool) -> list[str]:
    """Numerator/denominator, rate, interval, target, status, note (and the equity gap)."""
    cells = [
        ratio(row.numerator, row.denominator),
        percent(row.rate),
        interval(row.ci_low, row.ci_high),
        target_text(row.target, row.count),
        status_text(row),
        note(row),
    ]
    if equity:
        gap = row.gap
        cells += [percent(row.registered_rate), "—" if gap is None or pd.isna(gap) else f"{gap * 100:+.1f}"]
    return cells


def report_tables(
    report: Report, fmt: str = "table", width: int | None = None, *, summary: bool = False
) -> str:
    """The quarterly table (本期 beside 累计), the trend, and one table per other window; with
    `summary`, the summary of the year to date first (output/summary.py). With a `width` (a
    terminal's), columns are left out, least needed first, until each table fits."""
    tablefmt = "github" if fmt == "markdown" else "simple"
    rows, equity = report.rows, report.equity
    extra = EQUITY_HEADERS if equity else []
    out = [f"{report.plan.name}（{report.plan.id}）", *report.quality.lines()]
    if summary:
        out += ["", *summary_mod.summary_parts(report, fmt)]
    left_out: dict[str, None] = {}

    def table(body, headers):
        body, headers, dropped = fit(body, headers, width)
        left_out.update(dict.fromkeys(dropped))
        return text_table(body, headers, tablefmt)

    quarter, ytd = rows[rows["kind"] == "quarter"], rows[rows["kind"] == "ytd"]
    if len(quarter) and len(ytd):
        q_label, y_label = quarter["period"].iloc[0], ytd["period"].iloc[0]
        merged = ytd.merge(
            quarter[["unit", "indicator", "numerator", "denominator", "rate"]],
            on=["unit", "indicator"],
            how="left",
            suffixes=("", "_q"),
        )
        body = [
            unit_cells(r)
            + [ratio(r.numerator_q, r.denominator_q), percent(r.rate_q)]
            + judgement_cells(r, equity)
            for r in merged.itertuples()
        ]
        headers = (
            UNIT_HEADERS
            + [
                f"本期 {q_label}",
                "本期比率",
                f"累计 {y_label}",
                "累计比率",
                "95%区间",
                "目标",
                "累计状态",
                "备注",
            ]
            + extra
        )
        out += ["", _heading(f"本期 {q_label} 与累计 {y_label}", fmt), table(body, headers), _summary(ytd)]

    trend = rows[rows["kind"] == "trend"]
    if len(trend):
        out += ["", _heading("累计值走势（各季度末）", fmt), _trend_table(pd.concat([trend, ytd]), tablefmt)]

    single = ~rows["kind"].isin(["quarter", "ytd", "trend"]) | ((len(quarter) == 0) & (rows["kind"] == "ytd"))
    others = rows[single]
    for label in others["period"].unique():
        part = others[others["period"] == label]
        first = part.iloc[0]
        body = [unit_cells(r) + judgement_cells(r, equity) for r in part.itertuples()]
        title = window_title(label, first)
        out += [
            "",
            _heading(title, fmt),
            table(body, UNIT_HEADERS + JUDGEMENT_HEADERS + extra),
            _summary(part),
        ]
    if len(rows) == 0:
        out += ["", "没有可报告的行：没有可计算的单位，或方案在此期间没有设定目标。"]
    else:
        out += [
            "",
            f"95%区间为 Wilson 区间；样本少：分母小于 {report.plan.small_sample}；"
            "未达标（不确定）：区间上限达到目标，未达标不能确定。"
            + ("差距 = 户籍比率 − 流动比率。" if equity else ""),
        ]
    if left_out:
        out.append(f"（终端宽 {width} 列，未显示：{'、'.join(left_out)}；加 --wide 显示全部列）")
    if width is not None:  # prose too: a line at a time, folded at the width
        out = [part if "\n" in part else "\n".join(_folded(part, width)) for part in out]
    return "\n".join(out) + "\n"


def _folded(line: str, width: int) -> list[str]:
    """A line of prose cut into pieces of at most `width` display columns (Chinese counts two)."""
    from wcwidth import wcwidth

    pieces, current, used = [], "", 0
    for ch in line:
        w = max(wcwidth(ch), 0)
        if used + w > width and current:
            pieces.append(current)
            current, used = "  " if line.startswith("  ") else "", 2 if line.startswith("  ") else 0
        current += ch
        used += w
    return [*pieces, current]


# The columns a narrow terminal keeps first: who, what, the year-to-date rate against its target
# and status; then the rest in this order ("本期 …" and "累计 …" stand for their windows' labels).
KEEP_FIRST = (
    "单位", "指标", "累计比率", "比率", "目标", "累计状态", "状态", "代码", "本期比率", "备注",
    "累计 ", "分子/分母", "层级", "本期 ", "95%区间", "户籍比率", "差距(百分点)",
)  # fmt: skip


def fit(body: list[list[str]], headers: list[str], width: int | None):
    """The columns of a table that fit `width` display columns (None: all), least needed left
    out first. -> (body, headers, the headers left out)."""
    if width is None or not headers:
        return body, headers, []
    from wcwidth import wcswidth

    # as tabulate lays them out: a column is its widest cell, and at least its header and two
    # spaces wide; columns are two spaces apart
    size = [max([wcswidth(str(h)) + 2] + [wcswidth(str(r[i])) for r in body]) for i, h in enumerate(headers)]
    keep = list(range(len(headers)))
    by_need = sorted(keep, key=lambda i: _need(headers[i]), reverse=True)
    while len(keep) > 2 and sum(size[i] for i in keep) + 2 * (len(keep) - 1) > width:
        keep.remove(next(i for i in by_need if i in keep))
    dropped = [headers[i] for i in range(len(headers)) if i not in keep]
    return [[r[i] for i in keep] for r in body], [headers[i] for i in keep], dropped


def _need(header: str) -> int:
    for rank, name in enumerate(KEEP_FIRST):
        if header == name or (name.endswith(" ") and header.startswith(name)):
            return rank
    return len(KEEP_FIRST)  # a trend's period columns: after the named ones


def _trend_table(series: pd.DataFrame, tablefmt: str) -> str:
    """A row per unit and indicator (units in report order, each unit's indicators together), a
    column per year-to-date window. Laid out from the rows themselves: a pivot over the unit's
    code, name and level would pair every code with every name and level."""
    labels = list(dict.fromkeys(series["period"]))
    unit_rank = {u: i for i, u in enumerate(dict.fromkeys(series["unit"]))}
    indicator_rank = {k: i for i, k in enumerate(dict.fromkeys(series["indicator"]))}
    rate = {(r.unit, r.indicator, r.period): r.rate for r in series.itertuples()}
    keys = series.drop_duplicates(["unit", "indicator"])
    keys = sorted(keys.itertuples(), key=lambda r: (unit_rank[r.unit], indicator_rank[r.indicator]))
    body = [
        [*unit_cells(r), *(percent(rate.get((r.unit, r.indicator, lab))) for lab in labels)] for r in keys
    ]
    return text_table(body, UNIT_HEADERS + labels, tablefmt)


def _heading(text: str, fmt: str) -> str:
    return f"## {text}\n" if fmt == "markdown" else text


def _summary(rows: pd.DataFrame) -> str:
    c = Counter(rows["status"])
    return f"达标 {c[MET]}，未达标 {c[MISSED]}，无数据 {c[NO_DATA]}" + (
        f"，无目标 {c[NO_TARGET]}" if c[NO_TARGET] else ""
    )


_SEVERITY_TEXT = {ERROR: "错误", WARNING: "警告", INFO: "提示"}


def findings_text(findings: list[Finding], limit_per_code: int | None = 20) -> str:
    """Findings as lines `file:line 列“…” [severity code] message`, capped per code and file
    (None: every one)."""
    if not findings:
        return "没有发现问题。\n"
    ordered = sorted(findings, key=lambda f: (f.severity != ERROR, f.file, f.line or 0))
    shown: Counter = Counter()
    lines, hidden = [], Counter()
    for f in ordered:
        key = (f.file, f.code)
        shown[key] += 1
        if limit_per_code is not None and shown[key] > limit_per_code:
            hidden[key] += 1
            continue
        where = f.file + (f":{f.line}" if f.line else "")
        column = f" 列“{f.column}”" if f.column else ""
        label = _SEVERITY_TEXT[f.severity]
        lines.append(f"{where}{column} [{label} {f.code}] {f.message}")
    for (file, code), n in sorted(hidden.items()):
        lines.append(f"{file} [{code}] 另有 {n} 条同类问题未列出")
    return "\n".join(lines) + "\n"


def accounts_table(accounts: list[FileAccount]) -> str:
    body = [
        [a.file, a.ledger or "—", a.encoding or "—", a.read, a.used, a.rejected, a.skipped] for a in accounts
    ]
    total = [
        "合计",
        "",
        "",
        sum(a.read for a in accounts),
        sum(a.used for a in accounts),
        sum(a.rejected for a in accounts),
        sum(a.skipped for a in accounts),
    ]
    return text_table(body + [total], ["文件", "台帐", "编码", "读入行", "使用行", "拒绝行", "跳过行"]) + "\n"


def findings_summary(findings: list[Finding], rejected: int) -> str:
    errors = sum(f.severity == ERROR for f in findings)
    warnings = sum(f.severity == WARNING for f in findings)
    return f"台帐检查：{errors} 个错误（{rejected} 行被拒绝），{warnings} 个警告。"
