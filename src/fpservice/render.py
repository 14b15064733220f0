"""Rendering: report rows as terminal tables, markdown, CSV (UTF-8 with BOM) or JSON; findings
and row accounts for `check`. Rendering never computes; it only lays out what it is given."""

from __future__ import annotations

import io
import json
from collections import Counter

import numpy as np
import pandas as pd

from fpservice.findings import ERROR, Finding
from fpservice.ledgers import FileAccount
from fpservice.report import COLUMNS, DETAIL_COLUMNS, MET, MISSED, NO_DATA, NO_TARGET, Report
from fpservice.rules import REQUIRED

STATUS_TEXT = {MET: "达标", MISSED: "未达标", NO_DATA: "无数据", NO_TARGET: "—"}


def records(report: Report, details: bool = False) -> list[dict]:
    """The rows exactly as SPEC §6 defines them; with `details`, also the interval, the
    small-sample and clear-miss flags, and the equity gap. Plain Python values, missing as None."""
    columns = _columns(details)
    return [dict(zip(columns, row)) for row in zip(*_values(report, columns))]


def _columns(details: bool) -> list[str]:
    return COLUMNS + (DETAIL_COLUMNS if details else [])


def _values(report: Report, columns: list[str]) -> list[list]:
    """Per column, its values as plain Python values (missing as None)."""
    rows = report.rows
    staffing = (rows["indicator"] == "staffing").tolist()
    values = []
    for col in columns:
        if col in _INTS:
            values.append(rows[col].astype("int64").tolist())
        elif col in _FLOATS or col in _OPTIONAL_INTS:
            cast = int if col in _OPTIONAL_INTS else float
            values.append([None if v != v else cast(v) for v in _floats(rows[col])])
        elif col in _BOOLS:
            values.append([bool(v) for v in rows[col].tolist()])
        elif col == "target":
            values.append(
                [None if t != t else (int(t) if s else t) for t, s in zip(_floats(rows[col]), staffing)]
            )
        else:
            values.append(_or_none(rows[col]))
    return values


_INTS = ("numerator", "denominator")
_FLOATS = ("rate", "ci_low", "ci_high", "registered_rate", "gap")
_OPTIONAL_INTS = ("registered_numerator", "registered_denominator")
_BOOLS = ("small_sample", "clear")


def _or_none(column: pd.Series) -> list:
    """The column's values, None where missing (found in one pass, not value by value)."""
    values = column.tolist()
    for i in np.flatnonzero(column.isna().to_numpy()).tolist():
        values[i] = None
    return values


def _floats(column: pd.Series) -> list[float]:
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan).tolist()


def to_json(report: Report, details: bool = False) -> str:
    """A JSON array, one row per line: the text json.dumps gives for each record. A report holds
    a few distinct values per column (unit names repeat for every indicator, statuses and
    targets for every unit), so each distinct value is encoded once and rows are laid out from
    the encoded cells, instead of building and encoding a dict per row."""
    columns = _columns(details)
    encode = json.JSONEncoder(ensure_ascii=False).encode
    cells = [_encoded(values, encode) for values in _values(report, columns)]
    line = "{" + ", ".join(f"{encode(c)}: %s" for c in columns) + "}"
    rows = [line % row for row in zip(*cells)]
    return "[\n" + ",\n".join(rows) + "\n]\n" if rows else "[]\n"


def _encoded(values: list, encode) -> list[str]:
    """Each value as JSON text. 1, 1.0 and True are equal as dict keys but are written 1, 1.0
    and true: a column mixing such types is keyed by type too."""
    if len({type(v) for v in values} & {int, float, bool}) <= 1:
        memo = {v: encode(v) for v in set(values)}
        return list(map(memo.__getitem__, values))
    memo: dict = {}
    out = []
    for v in values:
        key = (v.__class__, v)
        text = memo.get(key)
        if text is None:
            text = memo[key] = encode(v)
        out.append(text)
    return out


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize(text):
    """A text cell that Excel would run as a formula is prefixed with an apostrophe."""
    if isinstance(text, str) and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def to_csv(report: Report, details: bool = False) -> str:
    """CSV text; the caller writes it with a BOM (encoding utf-8-sig) so Excel reads it.
    Text cells (names from units.csv and rule files) cannot smuggle in formulas."""
    buf = io.StringIO()
    frame = pd.DataFrame(records(report, details), columns=COLUMNS + (DETAIL_COLUMNS if details else []))
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


def interval(low, high) -> str:
    if low is None or high is None or pd.isna(low) or pd.isna(high):
        return "—"
    return f"{low * 100:.0f}–{high * 100:.0f}%"


def status_text(row) -> str:
    text = STATUS_TEXT[row.status]
    return text + "（不确定）" if row.status == MISSED and not row.clear else text


def _note(row) -> str:
    return "样本少" if row.small_sample else ""


UNIT_HEADERS = ["代码", "单位", "层级", "指标"]
JUDGEMENT_HEADERS = ["分子/分母", "比率", "95%区间", "目标", "状态", "备注"]
EQUITY_HEADERS = ["户籍比率", "差距(百分点)"]


def unit_cells(row) -> list[str]:
    return [row.unit, row.unit_name, row.level, row.indicator_name]


def judgement_cells(row, equity: bool) -> list[str]:
    """Numerator/denominator, rate, interval, target, status, note (and the equity gap)."""
    cells = [
        _ratio(row.numerator, row.denominator),
        percent(row.rate),
        interval(row.ci_low, row.ci_high),
        target_text(row.target, row.indicator),
        status_text(row),
        _note(row),
    ]
    if equity:
        gap = row.gap
        cells += [percent(row.registered_rate), "—" if gap is None or pd.isna(gap) else f"{gap * 100:+.1f}"]
    return cells


def report_tables(report: Report, fmt: str = "table") -> str:
    """The quarterly table (本期 beside 累计), the trend, and one table per other window."""
    tablefmt = "github" if fmt == "markdown" else "simple"
    rows, equity = report.rows, report.equity
    extra = EQUITY_HEADERS if equity else []
    out = [f"{report.plan.name}（{report.plan.id}）"]

    def table(body, headers):
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
            + [_ratio(r.numerator_q, r.denominator_q), percent(r.rate_q)]
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
        title = f"{label}（{first.start} 至 {first.end}）"
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
    return "\n".join(out) + "\n"


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
    return text_table(body + [total], ["文件", "台帐", "编码", "读入行", "使用行", "拒绝行", "跳过行"]) + "\n"


def text_table(body, headers, tablefmt: str = "simple", numparse: bool = False) -> str:
    """A plain-text table. tabulate (with wcwidth) is loaded when a table is drawn: the JSON and
    file outputs cron asks for do without it (60 ms of every run)."""
    from tabulate import tabulate

    return tabulate(body, headers, tablefmt=tablefmt, disable_numparse=not numparse)


def findings_summary(findings: list[Finding], rejected: int) -> str:
    errors = sum(f.severity == ERROR for f in findings)
    warnings = len(findings) - errors
    return f"台帐检查：{errors} 个错误（{rejected} 行被拒绝），{warnings} 个警告。"
