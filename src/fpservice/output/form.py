"""The statistical form (报表) a county submits: one row per unit in hierarchy order (the county,
then each township followed by its villages), every targeted indicator's year-to-date value
across (numerator and denominator, rate, change since last quarter, status), and last the
unit's count of missed targets. The county row is the totals row.

A pure layout from a `Report` to cells: the terminal, markdown and CSV form (`formtext`), the
workbook's form sheet and the HTML form page draw the same cells; none decides what is in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from fpservice.output.labels import STATUS_TEXT, missing, percent, plan_identity, target_text
from fpservice.report import Report
from fpservice.rules import REQUIREMENT
from fpservice.status import MET, MISSED, NO_DATA, NO_TARGET
from fpservice.units import COUNTY, LEVELS

TITLE = "流动人口计划生育基本公共服务指标完成情况表"
# The signatures the Statistics Law asks of a form (统计法: 单位负责人、统计负责人、填表人).
FOOTER = ("单位负责人：", "统计负责人：", "填表人：", "报出日期：　　年　　月　　日")

# Kinds of cells: how each renderer writes a value of the column.
TEXT, COUNT, RATIO, RATE, CHANGE, STATUS, MISSED_COUNT = (
    "text",
    "count",
    "ratio",
    "rate",
    "change",
    "status",
    "missed",
)
UNIT_COLUMNS = (("单位", TEXT), ("代码", TEXT), ("层级", TEXT))
JOINED = (("分子/分母", RATIO), ("比率", RATE), ("环比", CHANGE), ("状态", STATUS))
SPLIT = (("分子", COUNT), ("分母", COUNT), ("比率", RATE), ("环比", CHANGE), ("状态", STATUS))
MISSED_HEADER = "未达标项数"
UNCLEAR = "unclear"  # a row's colour: a miss whose interval still reaches the target
# A status cell's text by its colour.
STATUS_OF = {MET: STATUS_TEXT[MET], MISSED: STATUS_TEXT[MISSED], UNCLEAR: STATUS_TEXT[MISSED] + "*"}
STATUS_OF[NO_DATA] = STATUS_TEXT[NO_DATA]


@dataclass(frozen=True)
class Group:
    """One indicator's columns."""

    number: int  # 1, 2, …: the text form names the columns by number and lists them above
    key: str
    name: str
    target: str  # as a reader reads it: 90%, or 按所需人数 for a requirement
    count: str  # persons, rows or requirement (the row's `count`)


@dataclass(frozen=True)
class Column:
    header: str
    kind: str
    group: int | None = None  # index into Form.groups; None for the unit columns and the last


@dataclass
class Row:
    code: str
    name: str
    level: str
    depth: int  # 0 county, 1 township, 2 village: how far the name is indented
    cells: list  # a value per column: text, int, float, None (missing), (num, den) for RATIO
    colours: list[str]  # per group: met, missed, unclear or no_data
    total: bool = False  # the county row: the totals of the units below it


@dataclass
class Form:
    title: str
    unit: str  # 填报单位
    period: str  # 报告期
    basis: str  # the plan's identity
    previous: str | None  # the window the change (环比) is measured from; None for a first quarter
    groups: list[Group]
    columns: list[Column]
    rows: list[Row]
    footer: tuple[str, ...] = FOOTER
    notes: list[str] = field(default_factory=list)

    @property
    def first_group_column(self) -> int:
        return len(UNIT_COLUMNS)


def layout(report: Report, *, split_counts: bool = False) -> Form:
    """The form of a quarterly report. `split_counts`: numerator and denominator in columns of
    their own (numbers a spreadsheet can add up), else one `12/34` cell (text for people)."""
    ytd = report.year_to_date()
    ytd = ytd[ytd["status"] != NO_TARGET]
    subcolumns = SPLIT if split_counts else JOINED
    groups = [_group(i, part) for i, (_, part) in enumerate(ytd.groupby("indicator", sort=False), start=1)]
    columns = [Column(h, k) for h, k in UNIT_COLUMNS]
    for g, _ in enumerate(groups):
        columns += [Column(h, k, g) for h, k in subcolumns]
    columns.append(Column(MISSED_HEADER, MISSED_COUNT))

    by_unit = {code: part for code, part in ytd.groupby("unit", sort=False)}
    rows = []
    for code, name, level, depth in _tree(report, ytd):
        part = by_unit.get(code)
        at = {} if part is None else {r.indicator: r for r in part.itertuples()}
        cells: list = [f"{name}（合计）" if level == COUNTY else name, code, level]
        colours = []
        for g in groups:
            r = at.get(g.key)
            cells += _cells(r, split_counts)
            colours.append(_colour(r))
        cells.append(sum(c in (MISSED, UNCLEAR) for c in colours))
        rows.append(Row(code, name, level, depth, cells, colours, total=level == COUNTY))

    window = ytd.iloc[0] if len(ytd) else None
    previous = report.previous
    counties = [r.name for r in rows if r.level == COUNTY]
    return Form(
        title=TITLE,
        unit="、".join(counties) or "—",
        period=_period(window) if window is not None else "—",
        basis=plan_identity(report.plan),
        previous=_period(previous.iloc[0]) if previous is not None and len(previous) else None,
        groups=groups,
        columns=columns,
        rows=rows,
        notes=_notes(report, previous is not None and len(previous) > 0),
    )


def _group(number: int, part: pd.DataFrame) -> Group:
    first = part.iloc[0]
    target = "按所需人数" if first["count"] == REQUIREMENT else target_text(first["target"], first["count"])
    return Group(number, first["indicator"], first["indicator_name"], target, first["count"])


def _tree(report: Report, ytd: pd.DataFrame) -> list[tuple[str, str, str, int]]:
    """(code, name, level, depth) of every unit: each county, then each of its townships followed
    by the township's villages, by code within a level. Units whose parent is not in the report
    follow in report order (none do when the units come from units.csv or from codes)."""
    units = report.units
    if units is None:
        units = ytd.drop_duplicates("unit")[["unit", "unit_name", "level"]]
        units = units.set_axis(["code", "name", "level"], axis=1).assign(parent=None)
    known = set(units["code"])
    children: dict = {}
    for u in units.itertuples():
        parent = u.parent if isinstance(u.parent, str) and u.parent in known else None
        children.setdefault(parent, []).append(u)
    out, seen = [], set()

    def visit(parent):
        for u in sorted(children.get(parent, ()), key=lambda u: (LEVELS.index(u.level), u.code)):
            if u.code in seen:
                continue
            seen.add(u.code)
            out.append((u.code, str(u.name), u.level, LEVELS.index(u.level)))
            visit(u.code)

    visit(None)
    out += [
        (u.code, str(u.name), u.level, LEVELS.index(u.level))
        for u in units.itertuples()
        if u.code not in seen
    ]
    return out


def _cells(r, split_counts: bool) -> list:
    if r is None:
        return [None] * (len(SPLIT) if split_counts else len(JOINED))
    counts = (
        [int(r.numerator), int(r.denominator)] if split_counts else [(int(r.numerator), int(r.denominator))]
    )
    rate = None if missing(r.rate) else float(r.rate)
    change = None if missing(r.change) else float(r.change)
    return [*counts, rate, change, _status(r)]


def _status(r) -> str:
    """A status as the form writes it: short, so that a row of indicators fits a printed page
    (a miss that is not clear is 未达标*, explained in the notes)."""
    return STATUS_OF[_colour(r)]


def _colour(r) -> str:
    if r is None or r.status == NO_DATA:
        return NO_DATA
    if r.status == MISSED:
        return MISSED if r.clear else UNCLEAR
    return MET


def _period(window) -> str:
    """报告期 as a form writes it: 2011年1—9月."""
    start, end = pd.Timestamp(window["start"]), pd.Timestamp(window["end"])
    if start.year != end.year:
        return f"{start:%Y-%m-%d} 至 {end:%Y-%m-%d}"
    return f"{end.year}年{start.month}—{end.month}月"


def _notes(report: Report, has_previous: bool) -> list[str]:
    change = (
        "环比：与上季度末的累计比率相比，单位为百分点"
        if has_previous
        else "环比：一季度没有本年的上季度，记为 —"
    )
    return [
        "比率为本年1月1日至报告期末的累计值；" + change + "。",
        "未达标*：未达标不确定，比率的 95% Wilson 区间上限仍达到目标"
        f"（分母小于 {report.plan.small_sample} 时样本少，区间较宽）。",
    ]


def change_text(value) -> str:
    """A change in percentage points: +1.2, -0.5, 0.0, or — when there is none."""
    if missing(value):
        return "—"
    points = round(value * 100, 1)
    return f"{points:+.1f}" if points else "0.0"


def cell_text(value, kind: str) -> str:
    """A cell as text (terminal, markdown, HTML): rates as percentages, changes in points."""
    if kind == RATIO:
        return "—" if value is None else f"{value[0]}/{value[1]}"
    if kind == RATE:
        return percent(value)
    if kind == CHANGE:
        return change_text(value)
    if value is None:
        return "—"
    return str(value)
