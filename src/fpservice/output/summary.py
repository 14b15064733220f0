"""The summary that opens a quarterly report for people (terminal and markdown, either layout):
the plan it is based on; how many units and targets were met, missed, not clearly missed and
without data; each indicator's year-to-date value at the top level with its change since last
quarter (环比); and the largest misses with how many more persons would have met them."""

from __future__ import annotations

from collections import Counter

import pandas as pd

from fpservice.output.form import change_text
from fpservice.output.labels import percent, plan_identity, ratio, status_text, target_text, text_table
from fpservice.report import Report
from fpservice.rules import ROWS
from fpservice.status import MET, MISSED, NO_DATA, NO_TARGET
from fpservice.units import LEVELS

LARGEST = 5  # misses listed by name


def summary(report: Report, fmt: str = "table") -> str:
    """The summary block, ending with a newline; empty when the report has no year-to-date rows."""
    parts = summary_parts(report, fmt)
    return "\n".join(parts) + "\n" if parts else ""


def summary_parts(report: Report, fmt: str = "table") -> list[str]:
    """The summary as its lines of prose and its tables (a table is one part, with its newlines),
    so that a terminal's width can fold the prose and leave the tables whole."""
    ytd = report.year_to_date()
    ytd = ytd[ytd["status"] != NO_TARGET]
    if ytd.empty:
        return []
    markdown = fmt == "markdown"
    tablefmt = "github" if markdown else "simple"
    first = ytd.iloc[0]
    before = report.previous
    since = (
        f"环比：较 {before['period'].iloc[0]} 累计，单位为百分点"
        if before is not None and len(before)
        else "环比：一季度没有本年的上季度，记为 —"
    )
    heading = f"概况：累计 {first['period']}（{first['start']} 至 {first['end']}）；{since}"
    counts = [_unit_counts(ytd), _target_counts(ytd)]
    out = [plan_identity(report.plan), "", f"## {heading}" if markdown else heading]
    out += ["", counts[0], "", counts[1]] if markdown else counts
    out += ["", f"{_top_names(ytd)} 各指标累计：", "", _top_level(ytd, tablefmt)]
    misses = _largest_misses(ytd)
    if len(misses):
        title = f"未达标差距最大的 {len(misses)} 项（{misses['level'].iloc[0]}级，按差距人数）："
        out += ["", title, "", _misses_table(misses, tablefmt)]
    else:
        out += ["", "没有未达标的目标。"]
    return out


def _unit_counts(ytd: pd.DataFrame) -> str:
    """Units by their worst judged target: a clear miss, only misses that are not clear, every
    target with data met, or no data at all."""
    clear_miss = (ytd["status"] == MISSED) & ytd["clear"].astype(bool)
    unclear = (ytd["status"] == MISSED) & ~ytd["clear"].astype(bool)
    per_unit = pd.DataFrame(
        {"unit": ytd["unit"], "clear": clear_miss, "unclear": unclear, "met": ytd["status"] == MET}
    )
    g = per_unit.groupby("unit", sort=False).any()
    missed = int(g["clear"].sum())
    only_unclear = int((~g["clear"] & g["unclear"]).sum())
    met = int((~g["clear"] & ~g["unclear"] & g["met"]).sum())
    none = len(g) - missed - only_unclear - met
    return (
        f"单位 {len(g)} 个：全部达标 {met}，有未达标 {missed}，未达标均不确定 {only_unclear}，无数据 {none}"
    )


def _target_counts(ytd: pd.DataFrame) -> str:
    clear = ytd["clear"].astype(bool)
    c = Counter(ytd["status"])
    unclear = int(((ytd["status"] == MISSED) & ~clear).sum())
    return (
        f"目标 {len(ytd)} 项（单位 × 指标）：达标 {c[MET]}，未达标 {c[MISSED] - unclear}，"
        f"未达标（不确定）{unclear}，无数据 {c[NO_DATA]}"
    )


def _top_level(ytd: pd.DataFrame, tablefmt: str) -> str:
    """Each indicator at the top level (the county): the totals a statistician reads first."""
    level = min(ytd["level"], key=LEVELS.index)
    top = ytd[ytd["level"] == level]
    several = top["unit"].nunique() > 1
    body = [
        ([r.unit_name] if several else [])
        + [
            r.indicator_name,
            ratio(r.numerator, r.denominator),
            percent(r.rate),
            target_text(r.target, r.count),
            change_text(r.change),
            status_text(r),
        ]
        for r in top.itertuples()
    ]
    headers = (["单位"] if several else []) + [
        "指标",
        "分子/分母",
        "累计比率",
        "目标",
        "环比(百分点)",
        "状态",
    ]
    return text_table(body, headers, tablefmt)


def _top_names(ytd: pd.DataFrame) -> str:
    level = min(ytd["level"], key=LEVELS.index)
    return "、".join(dict.fromkeys(ytd.loc[ytd["level"] == level, "unit_name"].astype(str)))


def _largest_misses(ytd: pd.DataFrame) -> pd.DataFrame:
    """The misses of the lowest level (the villages, who do the work), most persons short
    first, then the farthest below target."""
    level = max(ytd["level"], key=LEVELS.index)
    missed = ytd[(ytd["level"] == level) & (ytd["status"] == MISSED)].copy()
    if missed.empty:
        return missed
    rate = pd.to_numeric(missed["rate"], errors="coerce")
    target = pd.to_numeric(missed["target"], errors="coerce")
    missed["_short"] = pd.to_numeric(missed["short"], errors="coerce")
    missed["_below"] = (target - rate).where(missed["count"] != "requirement", 0)
    order = missed.sort_values(["_short", "_below", "unit"], ascending=[False, False, True], kind="stable")
    return order.head(LARGEST)


def _misses_table(misses: pd.DataFrame, tablefmt: str) -> str:
    body = [
        [
            r.unit_name,
            r.indicator_name,
            ratio(r.numerator, r.denominator),
            percent(r.rate),
            target_text(r.target, r.count),
            f"差 {int(r.short)} {'条' if r.count == ROWS else '人'}",
            change_text(r.change),
        ]
        for r in misses.itertuples()
    ]
    return text_table(
        body, ["单位", "指标", "分子/分母", "累计比率", "目标", "达标还差", "环比(百分点)"], tablefmt
    )
