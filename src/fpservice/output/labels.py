"""How values read in every report meant for people: rates as percentages, targets as
percentages or head counts, statuses in Chinese; and plain text tables. No pandas here:
`fpservice rules` uses them."""

from __future__ import annotations

import math

from fpservice.rules import REQUIREMENT
from fpservice.status import MET, MISSED, NO_DATA, NO_TARGET

STATUS_TEXT = {MET: "达标", MISSED: "未达标", NO_DATA: "无数据", NO_TARGET: "—"}


def missing(value) -> bool:
    """None or NaN: how rows carry a number that is not there."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def percent(value) -> str:
    if missing(value):
        return "—"
    return f"{value * 100:.1f}%"


def target_text(target, count: str) -> str:
    """A rate's target as a percentage; a requirement's (its `count`) as the head count it asks."""
    if missing(target):
        return "—"
    if count == REQUIREMENT:
        return f"{int(target)}人"
    pct = target * 100
    return f"{pct:.0f}%" if pct == int(pct) else f"{pct:.1f}%"


def ratio(num, den) -> str:
    return f"{int(num)}/{int(den)}"


def interval(low, high) -> str:
    if missing(low) or missing(high):
        return "—"
    return f"{low * 100:.0f}–{high * 100:.0f}%"


def status_text(row) -> str:
    text = STATUS_TEXT[row.status]
    return text + "（不确定）" if row.status == MISSED and not row.clear else text


def note(row) -> str:
    """The 备注 of a row: a small sample, a phase still in progress, a ledger file not used."""
    parts = ["样本少"] if row.small_sample else []
    if getattr(row, "in_progress", False):
        parts.append(IN_PROGRESS)
    if getattr(row, "incomplete", False):
        parts.append("数据不全")
    return "、".join(parts)


IN_PROGRESS = "进行中"


def window_title(label: str, first) -> str:
    """A table's heading: the window and its dates; a phase still in progress says so."""
    state = f"，{IN_PROGRESS}，不计入达标判定" if getattr(first, "in_progress", False) else ""
    return f"{label}（{first.start} 至 {first.end}{state}）"


def plan_identity(plan) -> str:
    """What a report is based on, as a reader cites it: title, issuer, document number, date."""
    issued = plan.issued
    if issued is None:
        date = "日期未载明"
    elif isinstance(issued, int):
        date = f"{issued}年"
    else:
        date = f"{issued.year}年{issued.month}月{issued.day}日"
    parts = [plan.issuer or "发文单位未载明", plan.document or "无文号", date]
    return f"依据：《{plan.name}》（{'，'.join(parts)}）"


def text_table(
    body, headers, tablefmt: str = "simple", numparse: bool = False, indented: bool = False
) -> str:
    """A plain-text table. tabulate (with wcwidth) is loaded when a table is drawn: the JSON and
    file outputs cron asks for do without it (60 ms of every run). `indented`: leading spaces
    in cells are kept (the form indents townships and villages)."""
    from tabulate import tabulate

    if indented:
        return tabulate(
            body, headers, tablefmt=tablefmt, disable_numparse=not numparse, preserve_whitespace=True
        )
    return tabulate(body, headers, tablefmt=tablefmt, disable_numparse=not numparse)
