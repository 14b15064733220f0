"""Report rows (SPEC §6): every unit × every targeted indicator × every period, with status.

Beyond the SPEC columns each row carries details for people who read the report: the 95 % Wilson
interval, whether the denominator is small, whether a miss is clear, and — where the persons
ledger holds registered (户籍) people too — the same indicator for them and the equity gap.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from fpservice import counting as counting_mod
from fpservice import indicators as indicators_mod
from fpservice.periods import Window
from fpservice.quality import Quality, assess
from fpservice.read import LedgerSet
from fpservice.rules import REQUIRED, REQUIREMENT, Plan, RuleBook
from fpservice.stats import wilson
from fpservice.status import MET, MISSED, NO_DATA, NO_TARGET
from fpservice.units import Units
from fpservice.workdays import Calendar

COLUMNS = [
    "unit",
    "unit_name",
    "level",
    "indicator",
    "indicator_name",
    "period",
    "start",
    "end",
    "numerator",
    "denominator",
    "rate",
    "target",
    "status",
]
DETAIL_COLUMNS = [
    "ci_low",
    "ci_high",
    "small_sample",
    "clear",
    "registered_numerator",
    "registered_denominator",
    "registered_rate",
    "gap",
]
PREVIOUS = "previous"  # the kind of the previous quarter's year-to-date window while it is counted


@dataclass
class Report:
    plan: Plan
    # COLUMNS + DETAIL_COLUMNS + `kind` (the window's: quarter, ytd, trend, phase, range) + `count`
    # (the indicator's: persons, rows or requirement; a requirement's target is a head count) +
    # `in_progress` (a phase not ended by the quarter's end) + `incomplete` (the indicator reads a
    # ledger of which a whole file could not be used: see quality)
    rows: pd.DataFrame
    windows: list[Window]
    equity: bool = False  # the persons ledger holds registered persons: gap columns are filled
    # the units in report order (code, name, level, parent): the form lays them out as a tree
    units: pd.DataFrame | None = None
    # the previous quarter's year-to-date rows (the same columns), for the change since last
    # quarter (环比); None when not asked for or when the report's quarter is the year's first
    previous: pd.DataFrame | None = None
    quality: Quality = field(default_factory=Quality)  # what the numbers were computed from

    @property
    def judged(self) -> np.ndarray:
        """A mask over the rows the exit code follows: year-to-date and the phases that have
        ended (SPEC §7), not the quarter alone, the trend of earlier quarters, nor a phase still
        in progress."""
        kind = self.rows["kind"]
        ended = (kind == "phase") & ~self.rows["in_progress"].astype(bool)
        return (kind.isin(["ytd", "range"]) | ended).to_numpy()

    @property
    def missed(self) -> bool:
        """Whether a judged row missed its target (by the mask: the rows are not copied out)."""
        return bool(((self.rows["status"] == MISSED).to_numpy() & self.judged).any())

    def year_to_date(self) -> pd.DataFrame:
        """The year-to-date rows with two more columns for the people who act on them:
        `change`, the rate minus the previous quarter's year-to-date rate (None when either is
        missing, or when there is no previous quarter in the year), and `short`, how many more
        persons or rows the numerator needed to meet the target (0 when met, None without a
        target or data)."""
        ytd = self.rows[self.rows["kind"] == "ytd"].reset_index(drop=True)
        change = np.full(len(ytd), np.nan)
        if self.previous is not None and len(ytd):
            before = self.previous.set_index(["unit", "indicator"])["rate"]
            keys = pd.MultiIndex.from_frame(ytd[["unit", "indicator"]])
            earlier = pd.to_numeric(before.reindex(keys), errors="coerce").to_numpy(dtype=float)
            change = pd.to_numeric(ytd["rate"], errors="coerce").to_numpy(dtype=float) - earlier
        ytd["change"] = _nullable(change)
        ytd["short"] = shortfall(ytd)
        return ytd


def shortfall(rows: pd.DataFrame) -> np.ndarray:
    """Per row: the fewest more persons or rows in the numerator that would meet the target,
    judged as status is (rate >= target, unrounded); for a requirement, the staff missing.
    0 when met; None when there is no target or no data."""
    num = rows["numerator"].to_numpy(dtype=np.int64)
    den = rows["denominator"].to_numpy(dtype=np.int64)
    required = (rows["count"] == REQUIREMENT).to_numpy()
    target = pd.to_numeric(rows["target"], errors="coerce").to_numpy(dtype=float)
    goal = np.where(required, 0.0, np.nan_to_num(target))
    with np.errstate(invalid="ignore"):
        need = np.maximum(0, np.ceil(goal * den - num - 1e-9)).astype(np.int64)

        def meets(k):
            return (num + k) / np.maximum(den, 1) >= goal

        need = np.where((need > 0) & meets(need - 1), need - 1, need)  # the float comparison decides
        need = np.where(meets(need), need, need + 1)
    need = np.where(required, np.maximum(den - num, 0), need).astype(object)
    need[np.isnan(target) | (den == 0) | ~rows["status"].isin([MET, MISSED]).to_numpy()] = None
    return need


def phase_windows(plan: Plan, until: dt.date) -> list[tuple[Window, object]]:
    """Phases started by `until` (the quarter's end), each computed from the plan's start to the
    earlier of its own end and `until`: a report never depends on rows dated after its quarter.
    A phase that has not ended by then is in progress (SPEC §7: shown, not judged)."""
    return [
        (Window(p.name, plan.start, min(p.end, until), "phase", in_progress=p.end > until), p)
        for p in plan.phases
        if p.start <= until
    ]


def build(
    ledgers: LedgerSet,
    rules: RuleBook,
    plan: Plan,
    windows: list[Window],
    *,
    all_indicators: bool = False,
    equity: bool = True,
    calendar: Calendar | None = None,
    previous: Window | None = None,
) -> Report:
    """Compute every row for `windows`. With `equity`, person indicators are also computed for
    户籍 persons when the ledger holds any (only outputs that show the gap ask for it). The
    `previous` window (the previous quarter's year-to-date) is counted beside them, for the
    change since last quarter, and kept apart from the rows (it is no row of the contract)."""
    calendar = calendar or Calendar()
    counting = [*windows, replace(previous, kind=PREVIOUS)] if previous is not None else windows
    units = ledgers.units.ordered()
    hierarchy = hierarchy_of(ledgers.units, units)
    counts = counting_mod.counts_of(rules, plan, counting, all_indicators=all_indicators, equity=equity)
    total = counting_mod.partial(ledgers.frames, hierarchy, counts, plan.start, calendar)
    return report_of(
        ledgers, plan, windows, counts, total, hierarchy, equity=equity, previous=previous is not None
    )


def hierarchy_of(units: Units, ordered: pd.DataFrame) -> indicators_mod.Hierarchy:
    """The units of a report, in report order, with every village's township and county."""
    return indicators_mod.Hierarchy(units.ancestry(), pd.Index(ordered["code"]))


def report_of(
    ledgers: LedgerSet,
    plan: Plan,
    windows: list[Window],
    counts: list[counting_mod.Count],
    total: counting_mod.Partial,
    hierarchy: indicators_mod.Hierarchy,
    *,
    equity: bool,
    previous: bool,
) -> Report:
    """The report from the partial counts of every partition, summed (one partition: all the
    ledgers). `ledgers` gives the units, accounts and findings; its frames are not looked at.
    `equity`: the gap was asked for (it is shown when the ledgers hold 户籍 persons)."""
    counted, registered = counting_mod.finish(counts, total, hierarchy)
    equity = equity and registered
    units = ledgers.units.ordered()
    quality = assess(ledgers.accounts, ledgers.findings)
    rows = _rows(units, counted, plan.small_sample, quality)
    before = None
    if previous:
        apart = (rows["kind"] == PREVIOUS).to_numpy()
        before = rows[apart].reset_index(drop=True)
        rows = rows[~apart].reset_index(drop=True)
    return Report(plan, rows, windows, equity, units, before, quality)


def _rows(
    units: pd.DataFrame, counted: list[counting_mod.Counted], small_sample: int, quality: Quality
) -> pd.DataFrame:
    """Every unit under every counted indicator and window, in that order. Laid out in one pass
    over all rows: a frame per indicator and window cost more than the counting in a county."""
    if not counted:
        return pd.DataFrame(columns=COLUMNS + DETAIL_COLUMNS + ["kind", "count", "in_progress", "incomplete"])
    size = len(units)

    def each(values):  # a value per indicator and window -> per row
        return _text(values, np.repeat(np.arange(len(counted)), size))

    def whole(values):  # a value per unit -> per row
        return _text(values, np.tile(np.arange(size), len(counted)))

    num = np.concatenate([c.numerator for c in counted])
    den = np.concatenate([c.denominator for c in counted])
    targets = [c.target for c in counted]
    required = np.repeat([t == REQUIRED for t in targets], size)
    goal = np.repeat([0.0 if t is None or t == REQUIRED else float(t) for t in targets], size)
    rate = _rate(num, den)
    low, high = wilson(num, den)
    low[required] = high[required] = np.nan
    with np.errstate(invalid="ignore"):
        met = np.where(required, num >= den, rate >= goal)
        clear = required | met | (high < goal)  # a miss is clear only when even the upper end is below
    status = np.where(met, MET, MISSED).astype(object)
    status[np.repeat([t is None for t in targets], size)] = NO_TARGET
    status[den == 0] = NO_DATA
    target = np.repeat(np.array(targets, dtype=object), size)  # objects: numbers are put in below
    target[required] = den[required].astype(object)  # a requirement's target is the count it asks for

    columns = {
        "unit": whole(units["code"]),
        "unit_name": whole(units["name"]),
        "level": whole(units["level"]),
        "indicator": each([c.indicator.key for c in counted]),
        "indicator_name": each([c.indicator.name for c in counted]),
        "period": each([c.window.label for c in counted]),
        "start": each([c.window.start.isoformat() for c in counted]),
        "end": each([c.window.end.isoformat() for c in counted]),
        "numerator": num,
        "denominator": den,
        "rate": _nullable(rate),
        "target": target,
        "status": status,
        "ci_low": _nullable(low),
        "ci_high": _nullable(high),
        "small_sample": (den > 0) & (den < small_sample) & ~required,
        "clear": clear | (status != MISSED),
        **_equity(counted, size, rate),
        "kind": each([c.window.kind for c in counted]),
        "count": each([c.indicator.count for c in counted]),
        "in_progress": np.repeat([c.window.in_progress for c in counted], size),
        "incomplete": np.repeat([quality.affects(c.indicator) for c in counted], size),
    }
    return pd.DataFrame(columns)


def _text(values, index: np.ndarray):
    """`values` at `index`: as pandas' text array when they are text (what pandas would infer
    from the objects), taken by Arrow from the few distinct values instead of inferred from a
    Python object per row (0.04 s of a million persons' warm report); else as objects."""
    few = np.asarray(values, dtype=object)
    if pd.api.types.infer_dtype(few, skipna=True) != "string":
        return few[index]
    return pd.array(few, dtype="str").take(index)


def _equity(counted: list[counting_mod.Counted], size: int, rate: np.ndarray) -> dict[str, np.ndarray]:
    """The 户籍 counts, their rate and its gap to the floating rate; None where not counted."""
    zeros = np.zeros(size, dtype=np.int64)
    shown = np.repeat([c.registered is not None for c in counted], size)
    num = np.concatenate([c.registered[0] if c.registered else zeros for c in counted])
    den = np.concatenate([c.registered[1] if c.registered else zeros for c in counted])
    registered_rate = _rate(num, den)
    columns = {
        "registered_numerator": num.astype(object),
        "registered_denominator": den.astype(object),
        "registered_rate": _nullable(registered_rate),
        "gap": _nullable(registered_rate - rate),
    }
    for values in columns.values():
        values[~shown] = None
    return columns


def _rate(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, NaN where den is 0 ("no data", never 0 %)."""
    return np.where(den > 0, num / np.maximum(den, 1), np.nan)


def _nullable(values: np.ndarray) -> np.ndarray:
    """Floats as objects, None where NaN (how rows carry a missing number)."""
    out = values.astype(object)
    out[np.isnan(values)] = None
    return out
