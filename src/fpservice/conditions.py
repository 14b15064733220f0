"""The filter vocabulary of rule files, compiled to a small tree and evaluated over DataFrames.

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
Nothing here is evaluated as Python: each key maps to one vectorised pandas operation.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fpservice import schema, workdays
from fpservice.errors import RuleError
from fpservice.ledgers import has_person

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


@dataclass
class Scope:
    """What conditions are evaluated against: the frames and one window. Scopes over the same
    frames may share `shared`, where masks that do not depend on the window are kept (a
    service's item or place is the same in every window)."""

    frames: dict[str, pd.DataFrame]
    start: dt.date
    end: dt.date
    plan_start: dt.date
    shared: dict | None = None

    def __post_init__(self):
        self._cache: dict = {}
        if self.shared is None:
            self.shared = {}

    def date(self, ref) -> pd.Timestamp:
        day = {
            "start": self.start,
            "end": self.end,
            "plan_start": self.plan_start,
            "year_start": dt.date(self.end.year, 1, 1),
        }[ref]
        return pd.Timestamp(day)

    def mask(self, cond, ledger: str) -> np.ndarray:
        """Boolean mask over the rows of `ledger` where `cond` holds (cached per node)."""
        key = (cond, ledger)
        cache = self.shared if _window_free(cond) else self._cache
        if key not in cache:
            cache[key] = self._evaluate(cond, ledger)
        return cache[key]

    def _evaluate(self, cond, ledger: str) -> np.ndarray:
        frame = self.frames[ledger]
        n = len(frame)
        if isinstance(cond, AllOf):
            out = np.ones(n, dtype=bool)
            for part in cond.parts:
                out &= self.mask(part, ledger)
            return out
        if isinstance(cond, AnyOf):
            out = np.zeros(n, dtype=bool)
            for part in cond.parts:
                out |= self.mask(part, ledger)
            return out
        if isinstance(cond, Not):
            return ~self.mask(cond.part, ledger)
        if isinstance(cond, Cohort):
            return self.mask(cond.body, ledger)
        if isinstance(cond, Has):
            return self._has(cond, frame)
        return self._test(cond, frame)

    def _has(self, cond: Has, frame: pd.DataFrame) -> np.ndarray:
        """Rows of `frame` whose person has a matching row in the other ledger (persons are
        numbered across ledgers at load, so this is a bitmap, not a join)."""
        other = self.frames[cond.ledger]
        sel = self.mask(cond.where, cond.ledger)
        if cond.distinct_field:  # persons with at least n distinct (non-blank) values
            rows = np.flatnonzero(sel)
            person = other["person"].to_numpy()[rows].astype(np.int64)
            value, distinct = pd.factorize(other[cond.distinct_field].iloc[rows])
            known = value >= 0
            pairs = pd.unique(person[known] * max(len(distinct), 1) + value[known])
            counts = np.bincount(pairs // max(len(distinct), 1))
            people = np.flatnonzero(counts >= cond.at_least)
        else:
            people = other["person"].to_numpy()[sel]
        return has_person(frame["person"].to_numpy(), people)

    def _test(self, t: Test, frame: pd.DataFrame) -> np.ndarray:
        col = frame[t.field]
        if t.shift:
            col = _workdays_after(col, t.shift)
        if t.op in ("eq", "in") and isinstance(col.dtype, pd.CategoricalDtype):
            # A few categories, millions of rows: test the categories, then look rows up by code.
            wanted = [t.arg] if t.op == "eq" else list(t.arg)
            return _codes_in(col.cat.codes.to_numpy(), np.flatnonzero(col.cat.categories.isin(wanted)))
        if t.op == "eq":
            out = col == t.arg
        elif t.op == "in":
            out = col.isin(t.arg)
        elif t.op == "blank":
            blank = (col == 0) if col.dtype == "int64" else col.isna()
            out = blank if t.arg else ~blank
        elif t.op == "yes":
            out = col.fillna(False) == t.arg
        elif t.op in ("on_or_before", "on_or_after", "between"):
            # On numpy's datetime64 (NaT compares false, as a blank date should), not pandas'.
            day = col.to_numpy(dtype="datetime64[ns]")
            if t.op == "on_or_before":
                return day <= self._operand(t.arg, frame)
            if t.op == "on_or_after":
                return day >= self._operand(t.arg, frame)
            return (day >= self._operand(t.arg[0], frame)) & (day <= self._operand(t.arg[1], frame))
        elif t.op == "has_all":
            vocab = schema.VOCABULARIES[t.field]
            need = sum(1 << vocab.index(v) for v in t.arg)
            out = (col & need) == need
        elif t.op == "age_between":
            out = (col <= _born_by(self.end, t.arg[0])) & (col > _born_by(self.end, t.arg[1] + 1))
        else:  # pragma: no cover - the compiler admits no other operator
            raise AssertionError(t.op)
        return np.asarray(pd.Series(out).fillna(False), dtype=bool)

    def _operand(self, ref, frame: pd.DataFrame):
        """A date reference as numpy datetime64: one day, or a day per row."""
        if isinstance(ref, WorkdaysAfter):
            return _workdays_after(frame[ref.field], ref.days).to_numpy(dtype="datetime64[ns]")
        return self.date(ref).to_datetime64()


@functools.cache
def _window_free(cond) -> bool:
    """Whether a condition gives the same rows in every window: it compares no date with the
    window's start or end (a date against another field's, as workdays_after does, is free)."""
    if isinstance(cond, Test):
        if cond.op == "age_between":
            return False
        if cond.op in ("on_or_before", "on_or_after", "between"):
            refs = cond.arg if cond.op == "between" else (cond.arg,)
            return not any(isinstance(ref, str) for ref in refs)
        return True
    if isinstance(cond, (AllOf, AnyOf)):
        return all(_window_free(part) for part in cond.parts)
    if isinstance(cond, Not):
        return _window_free(cond.part)
    if isinstance(cond, Cohort):
        return _window_free(cond.body)
    if isinstance(cond, Has):
        return _window_free(cond.where)
    return False


def _codes_in(codes: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Rows whose categorical code is among `wanted` (never a blank, code -1). A test or two on
    the small integer codes themselves: indexing a table by them would widen every code first."""
    if len(wanted) > 4:
        return np.append(np.isin(np.arange(codes.max(initial=0) + 1), wanted), False)[codes]
    out = np.zeros(len(codes), dtype=bool)
    for code in wanted.tolist():
        out |= codes == code
    return out


def _workdays_after(dates: pd.Series, n: int) -> pd.Series:
    """Each date's n-th working day after it, computed once per distinct date."""
    table = {
        d: pd.Timestamp(workdays.workday_after(pd.Timestamp(d).date(), n)) for d in dates.dropna().unique()
    }
    return dates.map(table).astype("datetime64[ns]")


def _born_by(on: dt.date, years: int) -> pd.Timestamp:
    """The last birth date at which a person is `years` old (in whole years) on `on`: the same
    day `years` earlier, or 02-28 when that year has no 02-29. Comparing birth dates with it
    gives the age without computing one per person."""
    year = on.year - years
    try:
        return pd.Timestamp(on.replace(year=year))
    except ValueError:  # 02-29 in a year without it
        return pd.Timestamp(dt.date(year, 2, 28))
