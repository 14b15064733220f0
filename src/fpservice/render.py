"""Rendering: report rows as terminal tables, markdown, CSV (UTF-8 with BOM) or JSON; findings
and row accounts for `check`. Rendering never computes; it only lays out what it is given."""

from __future__ import annotations

import io
import json
from collections import Counter

import pandas as pd
from tabulate import tabulate

from fpservice.findings import ERROR, Finding
from fpservice.ledgers import FileAccount
from fpservice.report import COLUMNS, MET, MISSED, NO_DATA, NO_TARGET, Report
from fpservice.rules import REQUIRED

STATUS_TEXT = {MET: "达标", MISSED: "未达标", NO_DATA: "无数据", NO_TARGET: "—"}


def records(report: Report) -> list[dict]:
    """The rows exactly as SPEC §6 defines them."""
    rows = report.rows[COLUMNS]
    out = rows.to_dict(orient="records")
    for r in out:
        r["numerator"], r["denominator"] = int(r["numerator"]), int(r["denominator"])
        r["rate"] = None if r["rate"] is None or pd.isna(r["rate"]) else float(r["rate"])
        t = r["target"]
        r["target"] = None if t is None else (int(t) if r["indicator"] == "staffing" else float(t))
    return out


def to_json(report: Report) -> str:
    return json.dumps(records(report), ensure_ascii=False, indent=1) + "\n"


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize(text):
    """A text cell that Excel would run as a formula is prefixed with an apostrophe."""
    if isinstance(text, str) and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def to_csv(report: Report) -> str:
    """CSV text; the caller writes it with a BOM (encoding utf-8-sig) so Excel reads it.
    Text cells (names from units.csv and rule files) cannot smuggle in formulas."""
    buf = io.StringIO()
    frame = pd.DataFrame(records(report), columns=COLUMNS)
    for col in ("unit_name", "indicator_name", "period"):
        frame[col] = frame[col].map(neutralize)
    frame.to_csv(buf, index=False, lineterminator="\r\n")
    return buf.getvalue()


def percent(value) -> str:
    if value is None or pd.isna(value):
        return "—"
    return f"{value * 100:.1f}%"


def target_text(target, indicator: str) -> str:
    if target is None or (not isinstance(target, str) and pd.isna(target)):
        return "—"
    if indicator == "staffing" or target == REQUIRED:
        return f"{int(target)}人"
    pct = target * 100
    return f"{pct:.0f}%" if pct == int(pct) else f"{pct:.1f}%"


def _ratio(num, den) -> str:
    return f"{int(num)}/{int(den)}"


def report_tables(report: Report, fmt: str = "table") -> str:
    """The quarterly table (本期 beside 累计) and one table per other window."""
    tablefmt = "github" if fmt == "markdown" else "simple"
    rows = report.rows
    out = [f"{report.plan.name}（{report.plan.id}）"]
    quarter = rows[rows["kind"] == "quarter"]
    ytd = rows[rows["kind"] == "ytd"]
    if len(quarter) and len(ytd):
        q_label, y_label = quarter["period"].iloc[0], ytd["period"].iloc[0]
        merged = ytd.merge(
            quarter[["unit", "indicator", "numerator", "denominator", "rate", "status"]],
            on=["unit", "indicator"],
            how="left",
            suffixes=("", "_q"),
        )
        body = [
            [
                r.unit,
                r.unit_name,
                r.level,
                r.indicator_name,
                _ratio(r.numerator_q, r.denominator_q),
                percent(r.rate_q),
                _ratio(r.numerator, r.denominator),
                percent(r.rate),
                target_text(r.target, r.indicator),
                STATUS_TEXT[r.status],
            ]
            for r in merged.itertuples()
        ]
        headers = [
            "代码",
            "单位",
            "层级",
            "指标",
            f"本期 {q_label}",
            "本期比率",
            f"累计 {y_label}",
            "累计比率",
            "目标",
            "累计状态",
        ]
        out += [
            "",
            _heading(f"本期 {q_label} 与累计 {y_label}", fmt),
            tabulate(body, headers, tablefmt=tablefmt, disable_numparse=True),
            _summary(ytd),
        ]
    for label in rows.loc[~rows["kind"].isin(["quarter", "ytd"]) | (len(quarter) == 0), "period"].unique():
        part = rows[rows["period"] == label]
        first = part.iloc[0]
        body = [
            [
                r.unit,
                r.unit_name,
                r.level,
                r.indicator_name,
                _ratio(r.numerator, r.denominator),
                percent(r.rate),
                target_text(r.target, r.indicator),
                STATUS_TEXT[r.status],
            ]
            for r in part.itertuples()
        ]
        headers = ["代码", "单位", "层级", "指标", "分子/分母", "比率", "目标", "状态"]
        title = f"{label}（{first.start} 至 {first.end}）"
        out += [
            "",
            _heading(title, fmt),
            tabulate(body, headers, tablefmt=tablefmt, disable_numparse=True),
            _summary(part),
        ]
    if len(rows) == 0:
        out += ["", "没有可报告的行：没有可计算的单位，或方案在此期间没有设定目标。"]
    return "\n".join(out) + "\n"


def _heading(text: str, fmt: str) -> str:
    return f"## {text}\n" if fmt == "markdown" else text


def _summary(rows: pd.DataFrame) -> str:
    c = Counter(rows["status"])
    return f"达标 {c[MET]}，未达标 {c[MISSED]}，无数据 {c[NO_DATA]}" + (
        f"，无目标 {c[NO_TARGET]}" if c[NO_TARGET] else ""
    )


def findings_text(findings: list[Finding], limit_per_code: int = 20) -> str:
    """Findings as lines `file:line 列“…” [severity code] message`, capped per code and file."""
    if not findings:
        return "没有发现问题。\n"
    ordered = sorted(findings, key=lambda f: (f.severity != ERROR, f.file, f.line or 0))
    shown: Counter = Counter()
    lines, hidden = [], Counter()
    for f in ordered:
        key = (f.file, f.code)
        shown[key] += 1
        if shown[key] > limit_per_code:
            hidden[key] += 1
            continue
        where = f.file + (f":{f.line}" if f.line else "")
        column = f" 列“{f.column}”" if f.column else ""
        label = "错误" if f.severity == ERROR else "警告"
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
    return (
        tabulate(
            body + [total],
            ["文件", "台帐", "编码", "读入行", "使用行", "拒绝行", "跳过行"],
            tablefmt="simple",
            disable_numparse=True,
        )
        + "\n"
    )


def findings_summary(findings: list[Finding], rejected: int) -> str:
    errors = sum(f.severity == ERROR for f in findings)
    warnings = len(findings) - errors
    return f"台帐检查：{errors} 个错误（{rejected} 行被拒绝），{warnings} 个警告。"
