"""Rule files: indicator definitions (`rules/indicators.yaml`) and one plan per file
(`rules/plans/*.yaml`). Python knows how to evaluate them; the files say what they are.
Every file is validated when loaded; the first problem raises RuleError with file and line."""

from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from fpservice import conditions, headers, yamlfile
from fpservice.conditions import AllOf, Compiler
from fpservice.errors import RuleError, UsageError
from fpservice.yamlfile import Map

# What an indicator counts: distinct persons (recounted at each level), rows, or a requirement
# (a head count of staff against the number a formula asks for).
PERSONS, ROWS, REQUIREMENT = COUNTS = ("persons", "rows", "requirement")
REQUIRED = "required"  # the target of a requirement indicator: the count the formula asks for


@dataclass(frozen=True)
class Indicator:
    key: str
    name: str
    count: str  # persons (distinct IDs, recounted at each level), rows, or requirement
    ledger: str
    denominator: AllOf
    numerator: AllOf
    sources: tuple[str, ...] = ()
    at_least: int = 0  # requirement: at least this many
    per: tuple = ()  # requirement: ((persons cohort, divisor), ...): ceil(count / divisor)


@dataclass(frozen=True)
class Phase:
    name: str
    start: dt.date
    end: dt.date
    targets: dict = field(default_factory=dict, hash=False)


@dataclass
class Plan:
    id: str
    name: str
    file: str
    start: dt.date
    aliases: tuple[str, ...] = ()
    issuer: str = ""
    document: str = ""  # 文号; blank when the plan's text gives none
    issued: dt.date | int | None = None  # the date, or only the year when the text gives no date
    seed: str = ""
    phases: tuple[Phase, ...] = ()
    targets: dict = field(default_factory=dict)  # key -> ((year or None, value), ...) by year
    deadlines: tuple[tuple[int, int], ...] = ()  # (month, day) of the quarterly deadlines
    small_sample: int = 20  # rates over fewer persons or rows than this are marked 样本少

    def target(self, key: str, year: int):
        """Target in force in `year` (SPEC §7): a fraction, REQUIRED, or None (not reported)."""
        entries = self.targets.get(key, ())
        chosen = None
        for since, value in entries:
            if since is None or since <= year:
                chosen = value
        return chosen

    def phase_target(self, phase: Phase, key: str):
        return phase.targets.get(key, self.target(key, phase.end.year))


@dataclass
class RuleBook:
    directory: Path
    indicators: dict[str, Indicator]
    plans: dict[str, Plan]
    aliases: dict = field(default_factory=dict)  # a county's header aliases (aliases.yaml; see headers)

    def plan(self, name: str) -> Plan:
        wanted = str(name).strip()
        for plan in self.plans.values():
            stem = plan.seed.split("_", 1)[0] if plan.seed else None
            if wanted in (plan.id, plan.seed, stem, *plan.aliases, Path(plan.file).stem):
                return plan
        known = "、".join(f"{p.id}（{'/'.join(p.aliases)}）" for p in self.plans.values())
        raise UsageError(f"没有方案“{name}”。可用的方案：{known}")


def default_directory() -> Path:
    """Rules shipped with fpservice: inside the installed package, else the source checkout."""
    env = os.environ.get("FPSERVICE_RULES")
    if env:
        return Path(env)
    packaged = Path(str(resources.files("fpservice"))) / "rules"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "rules"


def load(directory: Path | str | None = None) -> RuleBook:
    """Load and check the rule files of `directory` (default: the bundled rules)."""
    directory = Path(directory) if directory else default_directory()
    stamp = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(directory.rglob("*.yaml")))
    return _load(directory.resolve(), stamp)


@lru_cache(maxsize=8)
def _load(directory: Path, stamp: tuple) -> RuleBook:
    """Cached by the files' names, sizes and modification times: an edit is always seen."""
    ind_file = directory / "indicators.yaml"
    if not ind_file.is_file():
        raise RuleError(f"规则目录中没有 indicators.yaml：{directory}")
    indicators = _load_indicators(ind_file)
    plans = {}
    for path in sorted((directory / "plans").glob("*.yaml")):
        plan = _load_plan(path, indicators)
        if plan.id in plans:
            raise RuleError(f"方案编号重复：{plan.id}", str(path))
        plans[plan.id] = plan
    alias_file = directory / "aliases.yaml"
    aliases = headers.aliases_from(yamlfile.load(alias_file), str(alias_file)) if alias_file.is_file() else {}
    return RuleBook(directory, indicators, plans, aliases)


def _expect_keys(node: Map, allowed: set, required: set, file: str, what: str) -> None:
    if not isinstance(node, dict):
        raise RuleError(f"{what}应是映射", file, getattr(node, "line", None))
    for key in node:
        if key not in allowed:
            raise RuleError(
                f"{what}中未知的键：{key}（可用：{', '.join(sorted(allowed))}）",
                file,
                node.lines.get(key, node.line),
            )
    for key in required:
        if key not in node:
            raise RuleError(f"{what}缺少必填键：{key}", file, node.line)


def _load_indicators(path: Path) -> dict[str, Indicator]:
    file = str(path)
    doc = yamlfile.load(path)
    _expect_keys(
        doc, {"version", "cohorts", "indicators"}, {"cohorts", "indicators"}, file, "indicators.yaml "
    )
    compiler = Compiler(file)
    for name, spec in doc["cohorts"].items():
        _expect_keys(spec, {"ledger", "where", "description"}, {"ledger", "where"}, file, f"人群 {name} ")
        ledger = spec["ledger"]
        if ledger not in compiler.fields:
            raise RuleError(f"未知的台帐类型：{ledger}", file, spec.line)
        compiler.cohorts[name] = (ledger, compiler.conditions(spec["where"], ledger))

    indicators = {}
    for key, spec in doc["indicators"].items():
        what = f"指标 {key} "
        _expect_keys(
            spec,
            {"name", "sources", "count", "ledger", "denominator", "numerator", "description"},
            {"name", "count", "numerator", "denominator"},
            file,
            what,
        )
        count = spec["count"]
        if count not in COUNTS:
            raise RuleError(f"{what}的 count 应为 {'/'.join(COUNTS)}：{count}", file, spec.lines["count"])
        sources = tuple(str(s) for s in spec.get("sources") or ())
        if count == REQUIREMENT:
            indicators[key] = _requirement(key, spec, compiler, file)
            continue
        ledger = spec.get("ledger")
        if ledger not in compiler.fields:
            raise RuleError(f"{what}的 ledger 未知：{ledger}", file, spec.line)
        if count == PERSONS and "id" not in compiler.fields[ledger]:
            raise RuleError(f"{what}按人计数，但 {ledger} 台帐没有身份证号", file, spec.line)
        indicators[key] = Indicator(
            key,
            str(spec["name"]),
            count,
            ledger,
            compiler.conditions(spec["denominator"], ledger),
            compiler.conditions(spec["numerator"], ledger),
            sources,
        )
    return indicators


def _requirement(key: str, spec: Map, compiler: Compiler, file: str) -> Indicator:
    num, den = spec["numerator"], spec["denominator"]
    _expect_keys(num, {"ledger", "where"}, {"ledger"}, file, f"指标 {key} 的 numerator ")
    _expect_keys(den, {"at_least", "per"}, {"per"}, file, f"指标 {key} 的 denominator ")
    per = []
    for item in den["per"]:
        _expect_keys(item, {"cohort", "per"}, {"cohort", "per"}, file, "per ")
        if not isinstance(item["per"], int) or item["per"] < 1:
            raise RuleError("per 应为正整数", file, item.line)
        cohort = compiler.condition({"cohort": item["cohort"]}, "persons", item)
        per.append((cohort, int(item["per"])))
    return Indicator(
        key,
        str(spec["name"]),
        REQUIREMENT,
        num["ledger"],
        AllOf(()),
        compiler.conditions(num.get("where"), num["ledger"]),
        tuple(str(s) for s in spec.get("sources") or ()),
        int(den.get("at_least", 0)),
        tuple(per),
    )


_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def _target_value(value, indicator: Indicator, file: str, line: int):
    if indicator.count == REQUIREMENT:
        if value != REQUIRED:
            raise RuleError(f"{indicator.key} 的目标写作 `{REQUIRED}`（所需人数由公式计算）", file, line)
        return REQUIRED
    m = _PERCENT.match(str(value))
    if not m or isinstance(value, bool):
        raise RuleError(f"{indicator.key} 的目标应写成百分数，如 90%：{value}", file, line)
    pct = float(m.group(1))
    if not 0 <= pct <= 100:
        raise RuleError(f"{indicator.key} 的目标应在 0%–100% 之间：{value}", file, line)
    return pct / 100


def _date(value, file: str, line: int, what: str) -> dt.date:
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise RuleError(f"{what}应是日期，如 2011-04-01：{value}", file, line) from None


_PLAN_KEYS = {
    "id",
    "aliases",
    "name",
    "issuer",
    "document",
    "issued",
    "seed",
    "start",
    "phases",
    "targets",
    "deadlines",
    "notes",
    "small_sample",
}


def _load_plan(path: Path, indicators: dict[str, Indicator]) -> Plan:
    file = str(path)
    doc = yamlfile.load(path)
    _expect_keys(doc, _PLAN_KEYS, {"id", "name", "start", "targets"}, file, "方案")
    targets = {}
    for key, spec in doc["targets"].items():
        line = doc["targets"].lines[key]
        if key not in indicators:
            raise RuleError(f"未知的指标：{key}（可用：{', '.join(indicators)}）", file, line)
        if isinstance(spec, dict):
            entries = []
            for year, value in spec.items():
                if not isinstance(year, int) or not 1990 <= year <= 2100:
                    raise RuleError(f"{key} 的目标年份应是四位年份：{year}", file, spec.lines[year])
                entries.append((year, _target_value(value, indicators[key], file, spec.lines[year])))
            targets[key] = tuple(sorted(entries))
        else:
            targets[key] = ((None, _target_value(spec, indicators[key], file, line)),)

    start = _date(doc["start"], file, doc.lines["start"], "start ")
    phases = []
    for ph in doc.get("phases") or ():
        _expect_keys(ph, {"name", "start", "end", "targets", "quote"}, {"name", "start", "end"}, file, "阶段")
        p_start = _date(ph["start"], file, ph.lines["start"], "阶段 start ")
        p_end = _date(ph["end"], file, ph.lines["end"], "阶段 end ")
        if p_end < p_start:
            raise RuleError(f"阶段 {ph['name']} 的结束早于开始", file, ph.line)
        if p_start < start:
            raise RuleError(f"阶段 {ph['name']} 早于方案开始日期 {start}", file, ph.line)
        if phases and p_start < phases[-1].start:
            raise RuleError(f"阶段应按开始日期排列：{ph['name']} 早于 {phases[-1].name}", file, ph.line)
        ph_targets = {}
        for key, value in (ph.get("targets") or {}).items():
            if key not in indicators:
                raise RuleError(f"未知的指标：{key}", file, ph["targets"].lines[key])
            ph_targets[key] = _target_value(value, indicators[key], file, ph["targets"].lines[key])
        phases.append(Phase(str(ph["name"]), p_start, p_end, ph_targets))

    deadlines = []
    for text in doc.get("deadlines") or ():
        m = re.fullmatch(r"(\d{1,2})-(\d{1,2})", str(text))
        if not m:
            raise RuleError(f"报送日期应写作 月-日，如 10-05：{text}", file, doc.lines["deadlines"])
        deadlines.append((int(m.group(1)), int(m.group(2))))

    issued = doc.get("issued")
    return Plan(
        id=str(doc["id"]),
        name=str(doc["name"]),
        file=file,
        start=start,
        aliases=tuple(str(a) for a in doc.get("aliases") or ()),
        issuer=str(doc.get("issuer") or ""),
        document=str(doc.get("document") or ""),
        issued=_issued(issued, file, doc.lines.get("issued")),
        seed=str(doc.get("seed") or ""),
        phases=tuple(phases),
        targets=targets,
        deadlines=tuple(deadlines),
        small_sample=_small_sample(doc, file),
    )


def _issued(value, file: str, line: int | None) -> dt.date | int | None:
    """The plan's date, or its year alone (`issued: 2011`) when its text gives no day."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1990 <= value <= 2100:
            raise RuleError(f"issued 应是日期或四位年份：{value}", file, line)
        return value
    return _date(value, file, line, "issued ")


def _small_sample(doc: Map, file: str) -> int:
    value = doc.get("small_sample", 20)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise RuleError("small_sample 应是非负整数（默认 20）", file, doc.lines.get("small_sample", doc.line))
    return value


__all__ = ["RuleBook", "Plan", "Phase", "Indicator", "load", "default_directory", "conditions"]
