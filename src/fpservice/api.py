"""The library behind the CLI: one function per command, usable on its own from Python."""

from __future__ import annotations

import contextlib
import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from fpservice import consistency, deadlines, periods, workdays, yamlfile
from fpservice import ledgers as ledgers_mod
from fpservice import report as report_mod
from fpservice import rules as rules_mod
from fpservice.cache import LedgerCache
from fpservice.errors import InputError, RuleError, UsageError
from fpservice.findings import Finding
from fpservice.ledgers import LedgerSet
from fpservice.periods import Window
from fpservice.report import Report
from fpservice.rules import Plan, RuleBook

CONFIG_FILE = "fpservice.yaml"
OK, MISSED, DATA_ERRORS = 0, 1, 2


@dataclass
class Outcome:
    ledgers: LedgerSet
    report: Report
    as_of: dt.date | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def findings(self) -> list[Finding]:
        return self.ledgers.findings

    @property
    def exit_code(self) -> int:
        """SPEC §6: 2 when rows were rejected (or a file could not be used), else 1 when a judged
        target was missed, else 0. Warnings never change it."""
        if self.ledgers.has_errors:
            return DATA_ERRORS
        return MISSED if self.report.missed else OK


def read_config(ledger_dir: Path) -> dict:
    path = Path(ledger_dir) / CONFIG_FILE
    if not path.is_file():
        return {}
    doc = yamlfile.load(path)
    if not isinstance(doc, dict):
        raise RuleError("配置文件应是映射，如 `plan: jiangbei-2011`", str(path))
    for key in doc:
        if key not in ("plan", "encoding"):
            raise RuleError(f"配置文件中未知的键：{key}（可用：plan, encoding）", str(path), doc.lines[key])
    return dict(doc)


def resolve_plan(rules: RuleBook, plan: str | None, ledger_dir: Path, config: dict | None = None) -> Plan:
    """The plan named by --plan, else by the ledger directory's config file."""
    name = plan or (read_config(ledger_dir) if config is None else config).get("plan")
    if not name:
        ids = "、".join(rules.plans)
        raise UsageError(
            f"请用 --plan 指定方案，或在 {ledger_dir}/{CONFIG_FILE} 中写 `plan: …`（可用：{ids}）"
        )
    return rules.plan(str(name))


def _optional_plan(
    plan: str | None, ledger_dir: Path | None, rules_dir: Path | None, config: dict
) -> Plan | None:
    """For deadlines a plan is optional: without one, SPEC §3's quarterly dates apply."""
    if not (plan or config.get("plan")):
        return None
    return resolve_plan(rules_mod.load(rules_dir), plan, Path(ledger_dir or "."), config)


@dataclass
class Reading:
    """How ledgers are read: through a cache of parsed files, and with a progress display."""

    cache: LedgerCache | None = None
    progress: ledgers_mod.Progress | None = None


def load_ledgers(
    ledger_dir: Path, encoding: str | None, config: dict, reading: Reading | None = None
) -> LedgerSet:
    """The ledgers as read, without the checks across files (see _checked_meanwhile)."""
    reading = reading or Reading()
    return ledgers_mod.load(
        ledger_dir, encoding or config.get("encoding"), cache=reading.cache, progress=reading.progress
    )


@contextlib.contextmanager
def _checked_meanwhile(ledgers: LedgerSet, reading: Reading | None):
    """The checks across files run on a thread of their own while the caller computes the
    indicators (both are mostly numpy, which lets go of the GIL); their findings are added when
    it is done."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fpservice-checks") as pool:
        pending = pool.submit(_consistency, ledgers, reading.cache if reading else None)
        yield
    ledgers.findings.extend(pending.result())


def _consistency(ledgers: LedgerSet, cache: LedgerCache | None):
    """Checks across files, from the cache when no file changed."""
    today = dt.date.today()
    key = ledgers.key and ledgers.key + ".consistency"
    found = cache.get_findings(key, today) if cache and key else None
    if found is None:
        found = consistency.check(ledgers)
        if cache and key:
            cache.put_findings(key, found, list(ledgers.valid_days))
    return found


def calendar_notes() -> list[str]:
    if not workdays.outside_years:
        return []
    years = "、".join(map(str, sorted(workdays.outside_years)))
    return [f"警告：{years} 年不在节假日日历范围内，工作日按周一至周五计算。"]


def report(
    ledger_dir: Path,
    quarter: str,
    plan: str | None = None,
    rules_dir: Path | None = None,
    encoding: str | None = None,
    all_indicators: bool = False,
    phases: bool = True,
    trend: bool = False,
    equity: bool = True,
    reading: Reading | None = None,
) -> Outcome:
    """The quarterly report: 本期 and 累计 rows, then the phases that have started."""
    workdays.start_run()
    year, q = periods.parse_quarter(quarter)
    config = read_config(Path(ledger_dir))
    rules = rules_mod.load(rules_dir)
    chosen = resolve_plan(rules, plan, Path(ledger_dir), config)
    ledgers = load_ledgers(Path(ledger_dir), encoding, config, reading=reading)
    windows: list[Window] = list(periods.quarter_windows(year, q))
    if trend:
        windows += periods.trend_windows(year, q)
    if phases:
        windows += [w for w, _ in report_mod.phase_windows(chosen, windows[0].end)]
    _require_units(ledgers)
    with _checked_meanwhile(ledgers, reading):
        result = report_mod.build(ledgers, rules, chosen, windows, all_indicators, equity)
    return Outcome(ledgers, result, notes=calendar_notes())


def _require_units(ledgers: LedgerSet) -> None:
    """An empty ledger set is never "all good": with no unit there is nothing to evaluate,
    unless every row was rejected, which the findings already report (exit 2)."""
    if ledgers.units.table.empty and not ledgers.has_errors:
        raise InputError(f"{ledgers.root} 中没有任何台帐行，没有可计算的单位")


def check(
    ledger_dir: Path,
    plan: str | None = None,
    as_of: dt.date | None = None,
    rules_dir: Path | None = None,
    encoding: str | None = None,
    all_indicators: bool = False,
    equity: bool = True,
    reading: Reading | None = None,
) -> Outcome:
    """Validate the ledgers, then judge the plan's targets year-to-date as of a day (by default
    the latest date written in the ledgers)."""
    workdays.start_run()
    config = read_config(Path(ledger_dir))
    rules = rules_mod.load(rules_dir)
    chosen = resolve_plan(rules, plan, Path(ledger_dir), config)
    ledgers = load_ledgers(Path(ledger_dir), encoding, config, reading=reading)
    notes = []
    if as_of is None:
        latest = ledgers.latest_date()
        as_of = min(latest.date(), dt.date.today()) if latest is not None else dt.date.today()
        notes.append(f"截至 {as_of}（台帐中最晚的日期；可用 --as-of 指定）")
    _require_units(ledgers)
    window = periods.as_of_window(as_of)
    with _checked_meanwhile(ledgers, reading):
        result = report_mod.build(ledgers, rules, chosen, [window], all_indicators, equity)
    return Outcome(ledgers, result, as_of, notes + calendar_notes())


@dataclass
class Due:
    today: dt.date
    deadline: deadlines.Deadline
    plan: Plan | None
    units_without_rows: list[tuple[str, str]] | None  # (code, name), when a ledger dir was given

    @property
    def workdays_left(self) -> int:
        return self.deadline.workdays_left(self.today)


def schedule_of(plan: Plan | None):
    return plan.deadlines if plan and plan.deadlines else deadlines.QUARTERLY


def due(
    today: dt.date,
    ledger_dir: Path | None = None,
    plan: str | None = None,
    rules_dir: Path | None = None,
    encoding: str | None = None,
    reading: Reading | None = None,
) -> Due:
    """The next reporting deadline as of `today`; with ledgers, the villages with no rows yet
    for the quarter it covers."""
    workdays.start_run()
    config = read_config(Path(ledger_dir)) if ledger_dir is not None else {}
    chosen = _optional_plan(plan, ledger_dir, rules_dir, config)
    d = deadlines.next_deadline(today, schedule_of(chosen))
    missing = None
    if ledger_dir is not None:
        ledgers = load_ledgers(Path(ledger_dir), encoding, config, reading=reading)
        start, end = periods.quarter_bounds(d.year, d.quarter)
        missing = ledgers.villages_without_events(start, end)
    return Due(today, d, chosen, missing)


def due_quarter(
    today: dt.date, ledger_dir: Path, plan: str | None = None, rules_dir: Path | None = None
) -> str:
    """The quarter whose report is due next (`report --due`), by the plan's schedule."""
    chosen = _optional_plan(plan, ledger_dir, rules_dir, read_config(Path(ledger_dir)))
    return deadlines.next_deadline(today, schedule_of(chosen)).label
