"""Report rows (SPEC §6): every unit × every targeted indicator × every period, with status.

Beyond the SPEC columns each row carries details for people who read the report: the 95 % Wilson
interval, whether the denominator is small, whether a miss is clear, and — where the persons
ledger holds registered (户籍) people too — the same indicator for them and the equity gap.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from fpservice import indicators as indicators_mod
from fpservice.conditions import Scope, replace_value
from fpservice.ledgers import LedgerSet
from fpservice.periods import Window
from fpservice.rules import REQUIRED, Indicator, Plan, RuleBook
from fpservice.stats import wilson

MET, MISSED, NO_DATA, NO_TARGET = "met", "missed", "no_data", "no_target"
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
FLOATING, REGISTERED = "流动", "户籍"


@dataclass
class Report:
    plan: Plan
    rows: pd.DataFrame  # COLUMNS + DETAIL_COLUMNS + `kind` (quarter, ytd, trend, phase, range)
    windows: list[Window]
    equity: bool = False  # the persons ledger holds registered persons: gap columns are filled

    @property
    def judged(self) -> pd.DataFrame:
        """Rows the exit code follows: year-to-date and phases (SPEC §7), not the quarter alone
        nor the trend of earlier quarters."""
        return self.rows[self.rows["kind"].isin(["ytd", "phase", "range"])]

    @property
    def missed(self) -> bool:
        return bool((self.judged["status"] == MISSED).any())


def phase_windows(plan: Plan, until: dt.date) -> list[tuple[Window, object]]:
    """Phases started by `until`: each computed from the plan's start to the phase's end."""
    return [(Window(p.name, plan.start, p.end, "phase"), p) for p in plan.phases if p.start <= until]


def build(
    ledgers: LedgerSet,
    rules: RuleBook,
    plan: Plan,
    windows: list[Window],
    all_indicators: bool = False,
    equity: bool = True,
) -> Report:
    """Compute every row for `windows`. With `equity`, person indicators are also computed for
    户籍 persons when the ledger holds any (only outputs that show the gap ask for it)."""
    units = ledgers.units.ordered()
    hierarchy = indicators_mod.Hierarchy(ledgers.units.ancestry())
    all_units = pd.Index(units["code"])
    phases = {p.name: p for p in plan.phases}
    equity = equity and bool((ledgers.frames["persons"]["pop_type"] == REGISTERED).any())
    parts = []
    shared: dict = {}  # masks that are the same in every window
    for window in windows:
        scope = Scope(ledgers.frames, window.start, window.end, plan.start, shared)
        phase = phases.get(window.label) if window.kind == "phase" else None
        for key, indicator in rules.indicators.items():
            target = plan.phase_target(phase, key) if phase else plan.target(key, window.end.year)
            if target is None and not all_indicators:
                continue
            counts = indicators_mod.evaluate(indicator, scope, hierarchy, all_units)
            rows = _rows(units, indicator, window, counts, target, plan.small_sample)
            registered = _for_registered(indicator) if equity else None
            if registered is not None:
                reg = indicators_mod.evaluate(registered, scope, hierarchy, all_units)
                _add_equity(rows, reg)
            parts.append(rows)
    rows = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=COLUMNS + DETAIL_COLUMNS + ["kind"])
    )
    return Report(plan, rows, windows, equity)


def _for_registered(indicator: Indicator) -> Indicator | None:
    """The indicator for 户籍 persons, when its cohort is written for 流动 ones."""
    if indicator.count != "persons" or indicator.ledger != "persons":
        return None
    den = replace_value(indicator.denominator, "pop_type", FLOATING, REGISTERED)
    if den == indicator.denominator:
        return None
    num = replace_value(indicator.numerator, "pop_type", FLOATING, REGISTERED)
    return replace(indicator, denominator=den, numerator=num)


def _add_equity(rows: pd.DataFrame, reg: pd.DataFrame) -> None:
    num, den = reg["numerator"].to_numpy(), reg["denominator"].to_numpy()
    rate = pd.Series(num / np.maximum(den, 1)).where(den > 0)
    rows["registered_numerator"], rows["registered_denominator"] = num, den
    rows["registered_rate"] = rate.astype("object").where(rate.notna(), None).to_numpy()
    gap = rate - pd.to_numeric(rows["rate"], errors="coerce")
    rows["gap"] = gap.astype("object").where(gap.notna(), None).to_numpy()


def _rows(
    units: pd.DataFrame, indicator: Indicator, window: Window, counts: pd.DataFrame, target, small_sample: int
) -> pd.DataFrame:
    num = counts["numerator"].to_numpy()
    den = counts["denominator"].to_numpy()
    rate = pd.Series(num / np.maximum(den, 1), dtype="float64").where(den > 0)
    low, high = wilson(num, den)
    if target == REQUIRED:
        target_col = pd.Series(den, dtype="object")
        met = num >= den
        clear = np.ones(len(units), dtype=bool)
        low, high = np.full(len(units), np.nan), np.full(len(units), np.nan)
    else:
        target_col = pd.Series([target] * len(units), dtype="object")
        met = rate.to_numpy() >= (target if target is not None else 0)
        # A miss is clear only when even the upper end of the interval stays below the target.
        clear = met | (high < (target if target is not None else 0))
    status = np.where(met, MET, MISSED).astype(object)
    if target is None:
        status[:] = NO_TARGET
    status[den == 0] = NO_DATA

    def nullable(values):
        s = pd.Series(values, dtype="float64")
        return s.astype("object").where(s.notna(), None).to_numpy()

    return pd.DataFrame(
        {
            "unit": units["code"].to_numpy(),
            "unit_name": units["name"].to_numpy(),
            "level": units["level"].to_numpy(),
            "indicator": indicator.key,
            "indicator_name": indicator.name,
            "period": window.label,
            "start": window.start.isoformat(),
            "end": window.end.isoformat(),
            "numerator": num,
            "denominator": den,
            "rate": nullable(rate),
            "target": target_col,
            "status": status,
            "ci_low": nullable(low),
            "ci_high": nullable(high),
            "small_sample": (den > 0) & (den < small_sample) & (target != REQUIRED),
            "clear": clear | (status != MISSED),
            "registered_numerator": None,
            "registered_denominator": None,
            "registered_rate": None,
            "gap": None,
            "kind": window.kind,
        }
    )
