"""What the read stage gives: the ledger set (a frame per ledger type, the units, the findings
and an account of every file's rows), and what one read of a file or a batch gives."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from fpservice import units as units_mod
from fpservice.findings import ERROR, Finding
from fpservice.schema import LEDGER_TYPES


@dataclass
class FileAccount:
    """Rows of one file: read = used + rejected + skipped (blank, title, footer and repeated
    header rows are skipped, and counted)."""

    file: str
    ledger: str | None
    encoding: str | None
    read: int = 0
    used: int = 0
    rejected: int = 0
    skipped: int = 0


def account_from(fields) -> FileAccount:
    """An account as a cache entry stored it, checked field by field: a known ledger type and
    counts that add up (ValueError or TypeError when it is not one)."""
    a = FileAccount(**fields)
    counts = (a.read, a.used, a.rejected, a.skipped)
    if not (isinstance(a.file, str) and (a.ledger is None or a.ledger in LEDGER_TYPES)):
        raise ValueError("account")
    if not all(type(n) is int and n >= 0 for n in counts) or a.read != sum(counts[1:]):
        raise ValueError("account counts")
    return a


@dataclass
class ReadResult:
    """What one read gave: the accounts of its files (one file, or a batch of small files read
    as one), their used rows, their findings file by file, and the village codes written on any
    of their rows (rejected ones too: a village is seen even if its rows are bad)."""

    accounts: list[FileAccount]
    frame: pd.DataFrame | None = None
    findings: list[Finding] = field(default_factory=list)
    villages: set = field(default_factory=set)
    valid_days: tuple[str | None, str | None] = (None, None)  # see cache.holds_on
    # (code, column) of the checks the rows went through, in the order they ran: findings come
    # check by check, so the pieces of a large file (read.chunks) are put back in that order
    checks: tuple = ()


def _latest(dates: pd.Series):
    """The latest date in a column, NaT when none. On numpy's datetimes: the largest of their
    integers, among which NaT (a blank) is the smallest, so no pass sets blanks aside first.
    `max`, not `argmax`: pandas hands out its arrays read-only, and numpy's argmax copies an
    array it cannot write to (4 million dates: 130 ms and 34 MB of fresh pages, against 3 ms)."""
    values = dates.to_numpy()
    if values.dtype.kind != "M" or not len(values):
        return dates.max()
    return np.array(values.view("int64").max()).view(values.dtype)[()]


@dataclass
class LedgerSet:
    """Every ledger of a directory, read and validated: what the later stages compute from."""

    root: Path
    frames: dict[str, pd.DataFrame]
    units: units_mod.Units
    findings: list[Finding] = field(default_factory=list)
    accounts: list[FileAccount] = field(default_factory=list)
    key: str | None = None  # content key of all the files (with a cache)
    valid_days: tuple[str | None, str | None] = (None, None)
    # the columns each frame holds, when a warm run loaded only those asked for (None: all);
    # such frames are views of the cache's entries, to be read and not changed
    columns: dict[str, set[str]] | None = None

    @property
    def rejected_rows(self) -> int:
        return sum(a.rejected for a in self.accounts)

    @property
    def has_errors(self) -> bool:
        return any(f.severity == ERROR for f in self.findings)

    def event_dates(self):
        """(frame, column) of each ledger's event date (schema: what records something happening)."""
        return [(self.frames[t.key], t.event_date) for t in LEDGER_TYPES.values() if t.event_date]

    def latest_date(self) -> pd.Timestamp | None:
        """The latest event date in any ledger: the default 'as of' for `check`."""
        latest = [_latest(frame[col]) for frame, col in self.event_dates()]
        latest = [d for d in latest if pd.notna(d)]
        return pd.Timestamp(max(latest)) if latest else None

    def villages_without_events(self, start, end) -> list[tuple[str, str]]:
        """Villages (listed, or seen) with no event dated in [start, end] in any ledger."""
        lo, hi = pd.Timestamp(start), pd.Timestamp(end)
        active = set()
        for frame, col in self.event_dates():
            active.update(frame.loc[(frame[col] >= lo) & (frame[col] <= hi), "unit"].unique().tolist())
        table = self.units.table
        villages = table.index[table["level"] == units_mod.VILLAGE]
        return [(c, table.at[c, "name"]) for c in sorted(villages) if c not in active]


class Progress(Protocol):
    """Hears how far a load has come (the CLI shows a bar on terminals)."""

    def start(self, total_bytes: int) -> None: ...
    def advance(self, done_bytes: int) -> None: ...
    def finish(self) -> None: ...
