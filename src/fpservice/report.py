"""Report rows (SPEC §6): every unit × every targeted indicator × every period, with status."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

from fpservice import indicators as indicators_mod
from fpservice.conditions import Scope
from fpservice.ledgers import LedgerSet
from fpservice.periods import Window
from fpservice.rules import REQUIRED, Plan, RuleBook

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


@dataclass
class Report:
    plan: Plan
    rows: pd.DataFrame  # COLUMNS, plus `kind` (quarter, ytd, phase, range)
    windows: list[Window]

    @property
    def judged(self) -> pd.DataFrame:
        """Rows the exit code follows: year-to-date and phases (SPEC §7), not the quarter alone."""
        return self.rows[self.rows["kind"] != "quarter"]

    @property
    def missed(self) -> bool:
        return bool((self.judged["status"] == MISSED).any())


def phase_windows(plan: Plan, until: dt.date) -> list[tuple[Window, object]]:
    """Phases started by `until`: each computed from the plan's start to the phase's end."""
    return [(Window(p.name, plan.start, p.end, "phase"), p) for p in plan.phases if p.start <= until]


def build(
    ledgers: LedgerSet, rules: RuleBook, plan: Plan, windows: list[Window], all_indicators: bool = False
) -> Report:
    """Compute every row for `windows` (quarter, ytd, range and phase windows)."""
    units = ledgers.units.ordered()
    ancestry = ledgers.units.ancestry()
    all_units = pd.Index(units["code"])
    order = list(rules.indicators)
    phases = {p.name: p for p in plan.phases}
    parts = []
    for window in windows:
        scope = Scope(ledgers.frames, window.start, window.end, plan.start)
        phase = phases.get(window.label) if window.kind == "phase" else None
        for key in order:
            target = plan.phase_target(phase, key) if phase else plan.target(key, window.end.year)
            if target is None and not all_indicators:
                continue
            indicator = rules.indicators[key]
            counts = indicators_mod.evaluate(indicator, scope, ancestry, all_units)
            parts.append(_rows(units, indicator.key, indicator.name, window, counts, target))
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS + ["kind"])
    return Report(plan, rows, windows)


def _rows(
    units: pd.DataFrame, key: str, name: str, window: Window, counts: pd.DataFrame, target
) -> pd.DataFrame:
    num = counts["numerator"].to_numpy()
    den = counts["denominator"].to_numpy()
    rate = pd.Series(num / den.clip(min=1), dtype="float64").where(den > 0)
    if target == REQUIRED:
        target_col = pd.Series(den, dtype="object")
        met = num >= den
    else:
        target_col = pd.Series([target] * len(units), dtype="object")
        met = rate.to_numpy() >= (target if target is not None else 0)
    status = pd.Series(MISSED, index=range(len(units)))
    status[met] = MET
    if target is None:
        status[:] = NO_TARGET
    status[den == 0] = NO_DATA
    return pd.DataFrame(
        {
            "unit": units["code"].to_numpy(),
            "unit_name": units["name"].to_numpy(),
            "level": units["level"].to_numpy(),
            "indicator": key,
            "indicator_name": name,
            "period": window.label,
            "start": window.start.isoformat(),
            "end": window.end.isoformat(),
            "numerator": num,
            "denominator": den,
            "rate": rate.astype("object").where(rate.notna(), None),
            "target": target_col,
            "status": status.to_numpy(),
            "kind": window.kind,
        }
    )
