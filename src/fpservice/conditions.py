"""The filter vocabulary of rule files, compiled to a small tree (evaluated by `scope`).

A condition is a one-key mapping:
    sex: 女                              equal to a value
    item: {in: [孕检, 环检]}               one of several values
    left: {blank: true}                  blank (or not, with false)
    free: yes                            a yes/no column is yes (blank counts as no)
    arrived: {on_or_before: end}         dates against start, end, year_start or plan_start
    date: {between: [year_start, end]}
    answered_on: {on_or_before: {workdays_after: issued_on, days: 3}}
    issued_on: {plus_workdays: 3, on_or_before: end}   (the deadline, on or before the end)
    file_items: {has_all: [婚育证明, 管理合同书]}
    birth: {age_between: [15, 49]}       whole years on the window's end
    any: [...] / all: [...] / not: {...}
    cohort: target_women                 the conditions of a named cohort of the same ledger
    has: {ledger: services, where: [...], distinct: {field: date, at_least: 2}}
                                         the row's person has matching rows in another ledger
Nothing here is evaluated as Python: each key maps to one vectorised operation (see `scope`).
This module needs neither numpy nor pandas: `fpservice rules` loads the rules without them.
"""

from __future__ import annotations

from dataclasses import dataclass

from fpservice import schema
from fpservice.errors import RuleError

DATE_REFS = ("start", "end", "year_start", "plan_start")


@dataclass(frozen=True)
class Test:
    field: str
    op: str  # eq, in, blank, yes, on_or_before, on_or_after, between, has_all, age_between
    arg: object
    shift: int = 0  # dates only: compare the n-th working day after the field's date


@dataclass(frozen=True)
class WorkdaysAfter:
    field: str
    days: int


@dataclass(frozen=True)
class AllOf:
    parts: tuple


@dataclass(frozen=True)
class AnyOf:
    parts: tuple


@dataclass(frozen=True)
class Not:
    part: object


@dataclass(frozen=True)
class Cohort:
    name: str
    body: AllOf


@dataclass(frozen=True)
class Has:
    ledger: str
    where: AllOf
    distinct_field: str | None = None
    at_least: int = 1


def replace_value(cond, field: str, old: str, new: str):
    """The same condition tree with `field == old` tests turned into `field == new` (how the
    equity gap computes an indicator for 户籍 persons from the cohort written for 流动 ones)."""
    if isinstance(cond, Test):
        return (
            Test(field, "eq", new, cond.shift)
            if (cond.field, cond.op, cond.arg) == (field, "eq", old)
            else cond
        )
    if isinstance(cond, (AllOf, AnyOf)):
        return type(cond)(tuple(replace_value(c, field, old, new) for c in cond.parts))
    if isinstance(cond, Not):
        return Not(replace_value(cond.part, field, old, new))
    if isinstance(cond, Cohort):
        return Cohort(cond.name, replace_value(cond.body, field, old, new))
    if isinstance(cond, Has):
        return Has(
            cond.ledger, replace_value(cond.where, field, old, new), cond.distinct_field, cond.at_least
        )
    return cond


def fields_read(cond, ledger: str) -> dict[str, set[str]]:
    """The columns a condition over `ledger` reads, per ledger (a `has` reads the other ledger
    and both ledgers' person numbers)."""
    out: dict[str, set[str]] = {}

    def walk(node, on: str) -> None:
        if isinstance(node, Test):
            refs = node.arg if node.op == "between" else (node.arg,)
            extra = {ref.field for ref in refs if isinstance(ref, WorkdaysAfter)}
            out.setdefault(on, set()).update({node.field, *extra})
        elif isinstance(node, (AllOf, AnyOf)):
            for part in node.parts:
                walk(part, on)
        elif isinstance(node, Not):
            walk(node.part, on)
        elif isinstance(node, Cohort):
            walk(node.body, on)
        elif isinstance(node, Has):
            out.setdefault(on, set()).add("person")
            out.setdefault(node.ledger, set()).update({"person", *filter(None, [node.distinct_field])})
            walk(node.where, node.ledger)

    walk(cond, ledger)
    return out


class Compiler:
    """Turns YAML conditions into the tree, checking every field, value and operator."""

    def __init__(self, file: str, cohorts: dict | None = None):
        self.file = file
        self.cohorts = cohorts if cohorts is not None else {}  # name -> (ledger, AllOf)
        self.fields = schema.all_fields()

    def error(self, message: str, node) -> RuleError:
        return RuleError(message, self.file, getattr(node, "line", None))

    def conditions(self, node, ledger: str) -> AllOf:
        if node is None:
            return AllOf(())
        items = node if isinstance(node, list) else [node]
        return AllOf(tuple(self.condition(c, ledger, node) for c in items))

    def condition(self, node, ledger: str, parent=None):
        if not isinstance(node, dict) or len(node) != 1:
            raise self.error(
                "每个条件应是只有一个键的映射，如 `sex: 女`", node if isinstance(node, dict) else parent
            )
        ((key, value),) = node.items()
        if key in ("any", "all"):
            if not isinstance(value, list) or not value:
                raise self.error(f"`{key}` 后应是条件列表", node)
            parts = tuple(self.condition(c, ledger, value) for c in value)
            return AnyOf(parts) if key == "any" else AllOf(parts)
        if key == "not":
            return Not(self.condition(value, ledger, node))
        if key == "cohort":
            if value not in self.cohorts:
                raise self.error(f"未定义的人群（cohort）：{value}", node)
            cohort_ledger, body = self.cohorts[value]
            if cohort_ledger != ledger:
                raise self.error(f"人群 {value} 属于 {cohort_ledger} 台帐，不能用于 {ledger}", node)
            return Cohort(value, body)
        if key == "has":
            return self.has(value, ledger, node)
        return self.test(key, value, ledger, node)

    def has(self, value, ledger: str, node) -> Has:
        if not isinstance(value, dict) or "ledger" not in value:
            raise self.error("`has` 需要 ledger 和 where", node)
        unknown = set(value) - {"ledger", "where", "distinct"}
        if unknown:
            raise self.error(f"`has` 中未知的键：{', '.join(map(str, unknown))}", value)
        other = value["ledger"]
        for side in (ledger, other):
            if side not in self.fields or "id" not in self.fields[side]:
                raise self.error(f"`has` 只能连接有身份证号的台帐，{side} 不行", value)
        where = self.conditions(value.get("where"), other)
        distinct = value.get("distinct")
        if distinct is None:
            return Has(other, where)
        if not isinstance(distinct, dict) or set(distinct) != {"field", "at_least"}:
            raise self.error("`distinct` 应写作 {field: date, at_least: 2}", value)
        self.column(other, distinct["field"], value)
        at_least = distinct["at_least"]
        if not isinstance(at_least, int) or isinstance(at_least, bool) or at_least < 1:
            raise self.error("`at_least` 应是正整数", value)
        return Has(other, where, distinct["field"], at_least)

    def column(self, ledger: str, field: str, node) -> schema.Column:
        if field not in self.fields.get(ledger, {}):
            known = "、".join(self.fields.get(ledger, {}))
            raise self.error(f"{ledger} 台帐没有字段 `{field}`（可用：{known}）", node)
        return self.fields[ledger][field]

    def test(self, field: str, value, ledger: str, node) -> Test:
        col = self.column(ledger, field, node)
        kind = col.kind
        if isinstance(value, bool):
            if kind != schema.YES_NO:
                raise self.error(f"`{field}` 不是 是/否 字段", node)
            return Test(field, "yes", value)
        if isinstance(value, (str, int)) and not isinstance(value, dict):
            return Test(field, "eq", self.value(col, str(value), node))
        shift = 0
        if isinstance(value, dict) and "plus_workdays" in value and len(value) == 2:
            shift = value["plus_workdays"]
            if kind != schema.DATE or not isinstance(shift, int) or shift < 0:
                raise self.error("`plus_workdays` 用于日期字段，后跟非负整数", node)
            value = {k: v for k, v in value.items() if k != "plus_workdays"}
        if not isinstance(value, dict) or len(value) != 1:
            raise self.error(f"`{field}` 的条件应是一个值或只有一个键的映射", node)
        ((op, arg),) = value.items()
        if shift and op not in ("on_or_before", "on_or_after", "between"):
            raise self.error("`plus_workdays` 只能与 on_or_before/on_or_after/between 一起用", node)
        if op == "in":
            if not isinstance(arg, list) or not arg:
                raise self.error("`in` 后应是取值列表", node)
            return Test(field, "in", tuple(self.value(col, str(a), node) for a in arg))
        if op == "blank":
            if not isinstance(arg, bool):
                raise self.error("`blank` 应为 true 或 false", node)
            return Test(field, "blank", arg)
        if op in ("on_or_before", "on_or_after", "between"):
            if kind != schema.DATE:
                raise self.error(f"`{op}` 只能用于日期字段，`{field}` 不是", node)
            if op == "between":
                if not isinstance(arg, list) or len(arg) != 2:
                    raise self.error("`between` 应写作 [start, end]", node)
                return Test(field, op, tuple(self.date_ref(a, ledger, node) for a in arg), shift)
            return Test(field, op, self.date_ref(arg, ledger, node), shift)
        if op == "has_all":
            if kind != schema.ITEMS or not isinstance(arg, list):
                raise self.error("`has_all` 只能用于多选字段，后跟取值列表", node)
            return Test(field, op, tuple(self.value(col, str(a), node) for a in arg))
        if op == "age_between":
            if (
                kind != schema.DATE
                or not isinstance(arg, list)
                or len(arg) != 2
                or not all(isinstance(a, int) for a in arg)
            ):
                raise self.error("`age_between` 用于出生日期字段，应写作 [15, 49]", node)
            return Test(field, op, (int(arg[0]), int(arg[1])))
        raise self.error(
            f"未知的条件运算：`{op}`（可用：in, blank, on_or_before, on_or_after, "
            f"between, has_all, age_between）",
            node,
        )

    def value(self, col: schema.Column, value: str, node) -> str:
        if col.vocabulary and value not in col.vocabulary:
            raise self.error(f"`{col.key}` 不能取值“{value}”（可用：{'/'.join(col.vocabulary)}）", node)
        return value

    def date_ref(self, arg, ledger: str, node):
        if isinstance(arg, str) and arg in DATE_REFS:
            return arg
        if isinstance(arg, dict) and set(arg) == {"workdays_after", "days"}:
            col = self.column(ledger, arg["workdays_after"], node)
            if col.kind != schema.DATE or not isinstance(arg["days"], int):
                raise self.error("`workdays_after` 需要日期字段和整数天数", node)
            return WorkdaysAfter(arg["workdays_after"], arg["days"])
        raise self.error(
            f"日期应是 {', '.join(DATE_REFS)} 之一，或 {{workdays_after: 字段, days: N}}：{arg}", node
        )


def ledgers_of(cond) -> set[str]:
    """The other ledgers a condition looks into (through `has`), however deeply nested."""
    if isinstance(cond, Has):
        return {cond.ledger} | ledgers_of(cond.where)
    if isinstance(cond, AllOf | AnyOf):
        return set().union(*(ledgers_of(c) for c in cond.parts)) if cond.parts else set()
    if isinstance(cond, Not):
        return ledgers_of(cond.part)
    if isinstance(cond, Cohort):
        return ledgers_of(cond.body)
    return set()
