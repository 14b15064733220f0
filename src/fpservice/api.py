"""The library behind the CLI: one function per command, usable on its own from Python.

    outcome = api.report("ledgers/", "2011Q3", plan="jiangbei-2011")
    outcome.report.rows, outcome.findings, outcome.exit_code

Every function takes the ledger directory (and the quarter or day) by position and everything
else by keyword. The read stage and pandas are imported when ledgers are read, so `due` and the
rule commands start without them.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from fpservice import deadlines, periods
from fpservice import headers as headers_mod
from fpservice import rules as rules_mod
from fpservice.errors import InputError, UsageError
from fpservice.findings import ERROR, Finding
from fpservice.headers import Headers
from fpservice.ledgerdir import CONFIG_FILE, headers_of, ledger_directory, read_config
from fpservice.periods import Window
from fpservice.rules import Plan, RuleBook
from fpservice.status import ExitCode
from fpservice.workdays import Calendar

if TYPE_CHECKING:
    from fpservice.engine import Engine
    from fpservice.read import LedgerSet, Progress
    from fpservice.read.cache import LedgerCache
    from fpservice.report import Report


@dataclass
class LoadOptions:
    """How ledgers are read: through a cache of parsed files, and with a progress display."""

    cache: LedgerCache | None = None
    progress: Progress | None = None


@dataclass
class Outcome:
    """What `check` and `report` give: the ledgers as read, the report rows, the findings of the
    checks across files, and the notes a user must see (the as-of day, the calendar). When
    `report` was told not to wait, the checks across files may still be running (`pending`):
    `wait()` fills `cross_file` once they are done (`findings` waits too)."""

    ledgers: LedgerSet
    report: Report
    cross_file: list[Finding] = field(default_factory=list)
    as_of: dt.date | None = None
    notes: list[str] = field(default_factory=list)
    pending: Future[list[Finding]] | None = field(default=None, repr=False, compare=False)

    def wait(self) -> Outcome:
        """The outcome, with the checks across files done (their error raised here, if any)."""
        if self.pending is not None:
            self.cross_file, self.pending = self.pending.result(), None
        return self

    @property
    def findings(self) -> list[Finding]:
        """Every finding: the files' own, then those across files."""
        return self.ledgers.findings + self.wait().cross_file

    @property
    def has_errors(self) -> bool:
        return any(f.severity == ERROR for f in self.findings)

    @property
    def exit_code(self) -> ExitCode:
        """SPEC §6: 2 when rows were rejected (or a file could not be used), else 1 when a judged
        target was missed, else 0. Warnings never change it."""
        if self.has_errors:
            return ExitCode.DATA_ERRORS
        return ExitCode.TARGETS_MISSED if self.report.missed else ExitCode.OK


def resolve_plan(rules: RuleBook, plan: str | None, ledger_dir: Path, config: dict) -> Plan:
    """The plan named by --plan, else by the ledger directory's config file."""
    name = plan or config.get("plan")
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


def load_ledgers(
    ledger_dir: Path,
    *,
    encoding: str | None = None,
    config: dict | None = None,
    loading: LoadOptions | None = None,
    headers: Headers = headers_mod.DEFAULT,
    columns: dict[str, set[str]] | None = None,
    hashing=None,
    head=None,
) -> LedgerSet:
    """The ledgers as read, without the checks across files (see _consistency); `columns`,
    `hashing` and `head`: see read.load."""
    from fpservice import read

    loading = loading or LoadOptions()
    config = config or {}
    return read.load(
        ledger_dir,
        encoding=encoding or config.get("encoding"),
        cache=loading.cache,
        progress=loading.progress,
        headers=headers,
        columns=columns,
        hashing=hashing,
        head=head,
    )


@dataclass
class _Run:
    """What `check` and `report` both start from. With the Dask engine the ledgers are read on
    the cluster, while they are counted (`ledgers` is None until then)."""

    rules: RuleBook
    plan: Plan
    ledgers: LedgerSet | None
    calendar: Calendar
    directory: Path
    encoding: str | None
    headers: Headers


def _start(
    ledger_dir: Path,
    plan: str | None,
    rules_dir: Path | None,
    encoding: str | None,
    loading: LoadOptions | None,
    engine: Engine | None = None,
) -> _Run:
    """The directory, the config, the rules, the plan, then the ledgers: the first problem stops
    the run."""
    ledger_dir = ledger_directory(ledger_dir)
    config = read_config(ledger_dir)
    rules = rules_mod.load(rules_dir)
    chosen = resolve_plan(rules, plan, ledger_dir, config)
    headers = headers_of(rules, config)
    encoding = encoding or config.get("encoding")
    ledgers = None
    if not (engine and engine.distributed):
        hashing = head = None
        if loading and loading.cache:  # the files' digests, made while pandas is imported
            from fpservice.read.contents import Hashing

            hashing = Hashing(ledger_dir)
        else:  # the largest file, parsed meanwhile instead
            from fpservice.read.headstart import HeadStart

            head = HeadStart(ledger_dir, encoding, headers)
        try:
            from fpservice.counting import columns_read

            ledgers = load_ledgers(
                ledger_dir,
                encoding=encoding,
                loading=loading,
                headers=headers,
                columns=columns_read(rules),
                hashing=hashing,
                head=head,
            )
        finally:  # whatever happened: no thread left hashing
            if hashing:
                hashing.stop()
    return _Run(rules, chosen, ledgers, Calendar(), ledger_dir, encoding, headers)


def _require_units(ledgers: LedgerSet) -> None:
    """An empty ledger set is never "all good": with no unit there is nothing to evaluate,
    unless every row was rejected, which the findings already report (exit 2)."""
    if ledgers.units.table.empty and not ledgers.has_errors:
        raise InputError(f"{ledgers.root} 中没有任何台帐行，没有可计算的单位")


def _consistency(run: _Run, cache: LedgerCache | None) -> list[Finding]:
    """Checks across files, from the cache when no file changed. The command line runs them beside
    the laying out of the report (see report's `wait`), not beside the counting: that keeps both
    cores busy already (at a million persons it saved 0.06 s of 3.9 s cold, within the runs'
    spread; docs/performance.md)."""
    from fpservice import consistency, read

    today = dt.date.today()
    ledgers = run.ledgers
    key = ledgers.key and ledgers.key + ".consistency"
    found = cache.get_findings(key, today) if cache and key else None
    if found is None:
        if ledgers.columns is not None:  # a warm run loaded only what counting reads: all of it
            ledgers = read.with_every_column(cache, ledgers, today) or load_ledgers(
                run.directory, encoding=run.encoding, loading=LoadOptions(cache), headers=run.headers
            )
            key = ledgers.key and ledgers.key + ".consistency"
        found = consistency.check(ledgers)
        if cache and key:
            cache.put_findings(key, found, list(ledgers.valid_days))
    return found


def _build(
    run: _Run,
    windows_for,
    *,
    all_indicators: bool,
    equity: bool,
    loading,
    previous: Window | None = None,
    engine: Engine | None = None,
    wait: bool = True,
):
    """Count and lay out the report. `windows_for(latest, units)` gives the windows, the as-of
    day and the notes once the latest event date in the ledgers is known. `wait`: see report."""
    from fpservice import report as report_mod

    if engine and engine.distributed:
        return _build_on_cluster(
            run,
            windows_for,
            all_indicators=all_indicators,
            equity=equity,
            previous=previous,
            engine=engine,
            loading=loading,
        )
    windows, as_of, notes = windows_for(run.ledgers.latest_date(), run.ledgers.units)
    _require_units(run.ledgers)
    result = report_mod.build(
        run.ledgers,
        run.rules,
        run.plan,
        windows,
        all_indicators=all_indicators,
        equity=equity,
        calendar=run.calendar,
        previous=previous,
    )
    outcome = Outcome(run.ledgers, result, [], as_of, [*notes, *run.calendar.notes()])
    cache = loading.cache if loading else None
    if wait:
        outcome.cross_file = _consistency(run, cache)
        return outcome
    # The checks across files go on beside whatever the caller does first with the report (the
    # command line lays it out): at a million persons the 0.12 s of checks and 0.14 s of JSON.
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fpservice-across")
    outcome.pending = pool.submit(_consistency, run, cache)
    pool.shutdown(wait=False)  # the thread ends with its task
    return outcome


def _build_on_cluster(run: _Run, windows_for, *, all_indicators, equity, previous, engine, loading):
    """The same report, counted by the Dask engine (partitioned.py): the ledgers are read and
    counted partition by partition on the workers, the partial counts summed here."""
    from fpservice import counting, partitioned
    from fpservice import report as report_mod

    chosen: dict = {}

    def counts_for(latest, units):
        windows, as_of, notes = windows_for(latest, units)
        chosen.update(windows=windows, as_of=as_of, notes=notes)
        counting_windows = [*windows, replace(previous, kind=report_mod.PREVIOUS)] if previous else windows
        return counting.counts_of(
            run.rules, run.plan, counting_windows, all_indicators=all_indicators, equity=equity
        )

    cache = loading.cache if loading else None
    counted = partitioned.count(
        run.directory,
        engine,
        counts_for=counts_for,
        hierarchy_of=lambda units: report_mod.hierarchy_of(units, units.ordered()),
        plan_start=run.plan.start,
        encoding=run.encoding,
        headers=run.headers,
        cache_dir=str(cache.directory) if cache is not None else None,
        today=dt.date.today(),
    )
    run.ledgers = counted.ledgers
    _require_units(counted.ledgers)
    result = report_mod.report_of(
        counted.ledgers,
        run.plan,
        chosen["windows"],
        counted.counts,
        counted.total,
        counted.hierarchy,
        equity=equity,
        previous=previous is not None,
    )
    notes = [*chosen["notes"], *counted.notes]
    return Outcome(counted.ledgers, result, counted.cross_file, chosen["as_of"], notes)


def report(
    ledger_dir: Path | str,
    quarter: str,
    *,
    plan: str | None = None,
    rules_dir: Path | None = None,
    encoding: str | None = None,
    all_indicators: bool = False,
    phases: bool = True,
    trend: bool = False,
    equity: bool = True,
    change: bool = False,
    loading: LoadOptions | None = None,
    engine: Engine | None = None,
    wait: bool = True,
) -> Outcome:
    """The quarterly report: 本期 and 累计 rows, then the phases that have started. With `change`,
    the previous quarter's year-to-date is counted too (`report.previous`, for 环比; none for a
    first quarter), apart from the rows. Without `wait`, it returns while the checks across files
    still run, for the caller to lay the report out meanwhile (`Outcome.wait`)."""
    year, q = periods.parse_quarter(quarter)
    run = _start(ledger_dir, plan, rules_dir, encoding, loading, engine)
    from fpservice import report as report_mod  # pandas: once the directory and plan are known good

    windows: list[Window] = list(periods.quarter_windows(year, q))
    if trend:
        windows += periods.trend_windows(year, q)
    if phases:
        windows += [w for w, _ in report_mod.phase_windows(run.plan, windows[0].end)]
    previous = periods.quarter_windows(year, q - 1)[1] if change and q > 1 else None
    return _build(
        run,
        lambda latest, units: (windows, None, _report_notes(run, windows[0], latest, units)),
        all_indicators=all_indicators,
        equity=equity,
        loading=loading,
        previous=previous,
        engine=engine,
        wait=wait,
    )


def _report_notes(run: _Run, quarter: Window, latest, units) -> list[str]:
    """Plain words when a quarter cannot say much: before the plan starts, after its last phase,
    or after the last date written in the ledgers (the report still runs)."""
    plan, notes = run.plan, []
    last = max([p.end for p in plan.phases], default=None)
    if quarter.end < plan.start:
        notes.append(f"警告：{quarter.label} 在方案开始（{plan.start}）之前，方案在此期间没有目标。")
    elif last is not None and quarter.start > last:
        notes.append(f"警告：{quarter.label} 在方案最后一个阶段结束（{last}）之后。")
    if latest is not None and quarter.start > latest.date():
        notes.append(
            f"警告：台帐中最晚的日期是 {latest.date()}，{quarter.label} 里没有任何台帐记录："
            "报告中的 0 和“无数据”不说明工作情况。"
        )
    if not units.listed:
        notes.append(
            "提示：台帐目录中没有 units.csv：单位按代码显示，没有台帐行的村/社区无法列出"
            "（units.csv：代码,名称,层级,上级代码）。"
        )
    return notes


def check(
    ledger_dir: Path | str,
    *,
    plan: str | None = None,
    as_of: dt.date | None = None,
    rules_dir: Path | None = None,
    encoding: str | None = None,
    all_indicators: bool = False,
    equity: bool = True,
    loading: LoadOptions | None = None,
    engine: Engine | None = None,
) -> Outcome:
    """Validate the ledgers, then judge the plan's targets year-to-date as of a day (by default
    the latest date written in the ledgers)."""
    run = _start(ledger_dir, plan, rules_dir, encoding, loading, engine)

    def window_for(latest, units):
        day, notes = as_of, []
        if day is None:
            day = min(latest.date(), dt.date.today()) if latest is not None else dt.date.today()
            written = "台帐中最晚的日期" if latest is not None else "台帐中没有日期，按今天"
            notes.append(f"截至 {day}（{written}；可用 --date 指定）")
        return [periods.as_of_window(day)], day, notes

    return _build(
        run, window_for, all_indicators=all_indicators, equity=equity, loading=loading, engine=engine
    )


@dataclass
class Due:
    today: dt.date
    deadline: deadlines.Deadline
    plan: Plan | None
    workdays_left: int
    units_without_rows: list[tuple[str, str]] | None  # (code, name), when a ledger dir was given
    notes: list[str] = field(default_factory=list)


def schedule_of(plan: Plan | None):
    return plan.deadlines if plan and plan.deadlines else deadlines.QUARTERLY


def due(
    today: dt.date,
    *,
    ledger_dir: Path | None = None,
    plan: str | None = None,
    rules_dir: Path | None = None,
    encoding: str | None = None,
    loading: LoadOptions | None = None,
) -> Due:
    """The next reporting deadline as of `today`; with ledgers, the villages with no rows yet
    for the quarter it covers."""
    calendar = Calendar()
    config = read_config(ledger_directory(ledger_dir)) if ledger_dir is not None else {}
    chosen = _optional_plan(plan, ledger_dir, rules_dir, config)
    d = deadlines.next_deadline(today, calendar, schedule_of(chosen))
    missing = None
    if ledger_dir is not None:
        headers = headers_of(rules_mod.load(rules_dir), config)
        ledgers = load_ledgers(
            Path(ledger_dir), encoding=encoding, config=config, loading=loading, headers=headers
        )
        start, end = periods.quarter_bounds(d.year, d.quarter)
        missing = ledgers.villages_without_events(start, end)
    left = d.workdays_left(today, calendar)
    return Due(today, d, chosen, left, missing, calendar.notes())


def due_quarter(
    today: dt.date, ledger_dir: Path, *, plan: str | None = None, rules_dir: Path | None = None
) -> str:
    """The quarter whose report is due next (`report --due`), by the plan's schedule."""
    chosen = _optional_plan(plan, ledger_dir, rules_dir, read_config(ledger_directory(ledger_dir)))
    return deadlines.next_deadline(today, Calendar(), schedule_of(chosen)).label
