"""What a report says about the data it was computed from (the data-quality summary every report
meant for people carries at its top): the rows rejected file by file, and the files or required
columns that could not be used at all — above the numbers, so that a ledger that dropped out is
never read as "no service was given". The indicators that read such a ledger are named, and
their rows are marked (`Report.rows["incomplete"]`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from fpservice.conditions import ledgers_of
from fpservice.findings import ERROR
from fpservice.rules import Indicator
from fpservice.schema import LEDGER_TYPES


@dataclass(frozen=True)
class Unusable:
    """A file (or sheet) none of whose rows could be used, and why."""

    file: str
    ledger: str | None  # None: not even its type could be told
    reason: str


@dataclass
class Quality:
    rejected: list[tuple[str, int]] = field(default_factory=list)  # (file, rows rejected), some used
    unusable: list[Unusable] = field(default_factory=list)
    rejected_rows: int = 0

    @property
    def lost_ledgers(self) -> set[str]:
        return {u.ledger for u in self.unusable if u.ledger}

    def affects(self, indicator: Indicator) -> bool:
        """Whether an indicator reads a ledger of which a whole file could not be used."""
        return bool(self.lost_ledgers & _ledgers(indicator))

    def lines(self) -> list[str]:
        """The summary, a line each (Chinese, for the statistician)."""
        if not self.unusable and not self.rejected:
            return ["数据质量：所有台帐行均已使用。"]
        files = len(self.unusable) + len(self.rejected)
        out = [f"数据质量：{files} 个文件有被拒绝的行，共 {self.rejected_rows} 行（详见 fpservice check）。"]
        for u in self.unusable:
            kind = f"{LEDGER_TYPES[u.ledger].title}，" if u.ledger else ""
            out.append(f"  注意：{u.file}（{kind}整个文件未能使用）：{u.reason}")
        out += [f"  {file}：{rows} 行被拒绝" for file, rows in self.rejected]
        if self.lost_ledgers:
            out.append("  标为“数据不全”的指标缺少上述文件的数据，其数值偏低，不能据此判断达标。")
        return out


def _ledgers(indicator: Indicator) -> set[str]:
    found = {indicator.ledger} | ledgers_of(indicator.denominator) | ledgers_of(indicator.numerator)
    for cohort, _ in indicator.per:  # a requirement counts persons of the persons ledger
        found |= {"persons"} | ledgers_of(cohort)
    return found


def assess(accounts, findings) -> Quality:
    """The quality of a ledger set from its accounts and findings."""
    file_problems = {
        f.file: f for f in findings if f.severity == ERROR and f.code.startswith("file.") and f.file
    }
    quality = Quality(rejected_rows=sum(a.rejected for a in accounts))
    for a in accounts:
        problem = file_problems.get(a.file)
        if problem is not None and a.used == 0:
            quality.unusable.append(Unusable(a.file, a.ledger, problem.message))
        elif a.rejected:
            quality.rejected.append((a.file, a.rejected))
    return quality
