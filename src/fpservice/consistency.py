"""Checks across rows and files (the plans' 逻辑性和一致性). All are warnings: rows are kept,
and since persons are counted distinct, none of them changes a number."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fpservice import idnumber
from fpservice.findings import Finding
from fpservice.persons import has_person
from fpservice.privacy import mask_id
from fpservice.quality import assess
from fpservice.read import LedgerSet
from fpservice.threads import mapped
from fpservice.units import VILLAGE


def check(ledgers: LedgerSet) -> list[Finding]:
    """Every check across rows and files, over the whole ledger set."""
    lost = lost_persons(ledgers)
    rank = {f: i for i, f in enumerate(a.file for a in ledgers.accounts)}
    return finish([partial(ledgers.frames, lost, threads=2)], ledgers.units, rank)


def lost_persons(ledgers) -> bool:
    """Whether a whole persons file could not be used (then services without a person follow
    from that one problem, and are summarised)."""
    return "persons" in assess(ledgers.accounts, ledgers.findings).lost_ledgers


@dataclass
class Part:
    """The checks over one partition of persons (every person's rows in one partition): findings
    by kind, services without a person per file (when summarised), the units rows were seen in."""

    found: list[list[Finding]]
    unknown: Counter = field(default_factory=Counter)
    seen: set = field(default_factory=set)

    def __add__(self, other: Part) -> Part:
        """The checks of two partitions as one, `self`'s findings first (`finish` then gives
        them in the same order as the two apart)."""
        found = [a + b for a, b in zip(self.found, other.found)]
        return Part(found, self.unknown + other.unknown, self.seen | other.seen)


def partial(
    frames: dict[str, pd.DataFrame], lost_persons: bool, any_persons: bool | None = None, threads: int = 1
) -> Part:
    """The checks over `frames`; `any_persons`: whether the ledgers have persons at all (a
    partition may have none of its own), by default whether `frames` have. The checks run on
    `threads` threads: they are passes of numpy over millions of rows, which let go of the GIL."""
    persons, outflow = frames["persons"], frames["outflow"]
    any_persons = not persons.empty if any_persons is None else any_persons
    checks = [
        lambda: _services_without_person(frames["services"], persons, lost_persons, any_persons),
        lambda: _overlaps(persons, "arrived", "left", by_unit=True),
        lambda: _overlaps(outflow, "left_on", "returned", by_unit=True),
        lambda: _overlaps(persons, "arrived", "left", by_unit=False),
    ]
    services, *overlaps = mapped(lambda check: check(), checks, threads, "checks")
    part = Part([*overlaps, [f for f in services if f.code != "file.services_without_persons"]])
    part.unknown.update(
        {f.file: int(f.detail) for f in services if f.code == "file.services_without_persons"}
    )
    for frame in frames.values():
        part.seen.update(frame["unit"].unique().tolist())
    return part


def finish(parts: list[Part], units, rank: dict[str, int]) -> list[Finding]:
    """The findings of every partition in one order, whatever the partitions: by kind, then file
    (in the order the files were found) and line."""
    found = []
    for kind in range(len(parts[0].found) if parts else 0):
        rows = [f for part in parts for f in part.found[kind]]
        found += sorted(rows, key=lambda f: (rank.get(f.file, len(rank)), f.line or 0))
    unknown = sum((part.unknown for part in parts), Counter())
    found += [
        Finding("file.services_without_persons", f, None, "身份证号", None, str(n))
        for f, n in sorted(unknown.items(), key=lambda item: rank.get(item[0], len(rank)))
    ]
    seen = set().union(*(part.seen for part in parts)) if parts else set()
    return found + _villages_without_rows(units, seen)


def _overlaps(frame: pd.DataFrame, start: str, end: str, by_unit: bool) -> list[Finding]:
    """Stays of one ID that overlap in time: in one unit's register (a duplicate entry) or in
    two different units (a person registered twice). Rows are sorted by person (and unit) and
    start; a stay overlaps when it starts before the latest end of the earlier ones."""
    if frame.empty:
        return []
    unit = frame["unit"].cat.codes.to_numpy().astype(np.int64)
    person = frame["person"].to_numpy().astype(np.int64)
    line = frame["line"].to_numpy()
    begins = _days(frame[start], _FAR_PAST)
    ends = _days(frame[end], _FAR_FUTURE)
    # Person first: the persons ledger's rows are in the order persons were numbered, so the
    # keys are nearly sorted already and the sort is quick. (Groups are what counts, not their order.)
    order = _sorted_order([person, unit, begins, line] if by_unit else [person, begins, line])
    group = person[order] * (int(unit.max()) + 1) + unit[order] if by_unit else person[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = group[1:] != group[:-1]
    rank = np.cumsum(first)  # groups in sorted order; any day of a later group beats earlier ones
    latest = np.maximum.accumulate(rank * _SPAN + ends[order]) - rank * _SPAN
    hit = np.zeros(len(order), dtype=bool)
    hit[1:] = ~first[1:] & (begins[order][1:] <= latest[:-1])
    if not by_unit:
        hit[1:] &= unit[order][1:] != unit[order][:-1]
    here, before = order[hit], order[np.flatnonzero(hit) - 1]

    def text(column: str, rows: np.ndarray) -> list[str]:  # only the rows in findings
        return [str(v) for v in frame[column].iloc[rows].tolist()]

    if by_unit:
        detail = [f"{f}:{n}" for f, n in zip(text("file", before), line[before].tolist())]
        code = "row.duplicate_id"
    else:
        detail = text("unit", before)
        code = "row.two_units"
    ids = idnumber.text_of(frame["pid"].to_numpy()[here])
    return [
        Finding(code, f, int(n), "身份证号", mask_id(t), d, u)
        for f, n, t, d, u in zip(text("file", here), line[here].tolist(), ids, detail, text("unit", here))
    ]


def _sorted_order(keys: list[np.ndarray]) -> np.ndarray:
    """Rows sorted by the keys, the first one major, ties kept in row order: np.lexsort's order.
    When the keys' ranges fit in 63 bits together they are packed into one integer, which one
    stable sort orders three times faster than lexsort goes through the keys one by one."""
    spans = [int(k.max()) - int(k.min()) + 1 if len(k) else 1 for k in keys]
    if float(np.prod(spans, dtype=np.float64)) >= 2.0**63:
        return np.lexsort(keys[::-1])
    packed = np.zeros(len(keys[0]), dtype=np.int64)
    for key, span in zip(keys, spans):
        packed *= span
        packed += key - key.min()
    return np.argsort(packed, kind="stable")


_FAR_PAST, _FAR_FUTURE = -(10**5), 10**5  # days from 1970: beyond any ledger date
_SPAN = 10**6


def _days(dates: pd.Series, missing: int) -> np.ndarray:
    values = dates.to_numpy(dtype="datetime64[D]")
    return np.where(np.isnat(values), missing, values.astype(np.int64))


def _services_without_person(
    services: pd.DataFrame, persons: pd.DataFrame, summarised: bool, any_persons: bool
) -> list[Finding]:
    """Services for IDs in no persons ledger. When a whole persons file could not be used, most of
    them follow from that one problem: one finding per services file says how many, instead of
    a warning for each of thousands of rows."""
    if services.empty or (not any_persons and not summarised):
        return []
    unknown = services[~has_person(services["person"].to_numpy(), persons["person"].to_numpy())]
    if summarised:
        counts = unknown["file"].value_counts(sort=False)
        return [
            Finding("file.services_without_persons", str(f), None, "身份证号", None, str(n))
            for f, n in counts.items()
            if n
        ]
    ids = idnumber.text_of(unknown["pid"].to_numpy())
    return [
        Finding(
            "row.service_unknown_person", str(r.file), int(r.line), "身份证号", mask_id(i), unit=str(r.unit)
        )
        for r, i in zip(unknown.itertuples(), ids)
    ]


def _villages_without_rows(units, seen: set) -> list[Finding]:
    if not units.listed:
        return []
    villages = units.table.index[units.table["level"] == VILLAGE]
    missing = np.setdiff1d(villages.to_numpy(dtype=str), np.array(sorted(seen), dtype=str))
    return [
        Finding("unit.no_rows", "units.csv", None, "代码", f"{c} {units.table.at[c, 'name']}")
        for c in missing
    ]
