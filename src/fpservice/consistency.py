"""Checks across rows and files (the plans' 逻辑性和一致性). All are warnings: rows are kept,
and since persons are counted distinct, none of them changes a number."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fpservice import idnumber
from fpservice.findings import Finding
from fpservice.ledgers import LedgerSet
from fpservice.privacy import mask_id
from fpservice.units import VILLAGE

_FAR_FUTURE = pd.Timestamp("2262-01-01")


def check(ledgers: LedgerSet) -> list[Finding]:
    persons, outflow = ledgers.frames["persons"], ledgers.frames["outflow"]
    found = []
    found += _overlaps(persons, "arrived", "left", by_unit=True)
    found += _overlaps(outflow, "left_on", "returned", by_unit=True)
    found += _overlaps(persons, "arrived", "left", by_unit=False)
    found += _services_without_person(ledgers.frames["services"], persons)
    found += _villages_without_rows(ledgers)
    return found


def _overlaps(frame: pd.DataFrame, start: str, end: str, by_unit: bool) -> list[Finding]:
    """Stays of one ID that overlap in time: in one unit's register (a duplicate entry) or in
    two different units (a person registered twice)."""
    if frame.empty:
        return []
    f = frame[["file", "line", "unit", "pid", start, end]].copy()
    f["_end"] = f[end].fillna(_FAR_FUTURE)
    keys = ["unit", "pid"] if by_unit else ["pid"]
    f = f.sort_values(keys + [start, "line"], kind="stable")
    group = f.groupby(keys, sort=False)
    prev_end = group["_end"].cummax().groupby([f[k] for k in keys], sort=False).shift()
    prev_unit = group["unit"].shift()
    prev_where = (
        group["file"].shift().astype("object").astype(str)
        + ":"
        + group["line"].shift().astype("Int64").astype(str)
    )
    hit = prev_end.notna() & (f[start] <= prev_end)
    if not by_unit:
        hit &= prev_unit.notna() & (prev_unit != f["unit"])
    code = "row.duplicate_id" if by_unit else "row.two_units"
    rows = f[hit.to_numpy()]
    detail = (prev_where if by_unit else prev_unit)[hit.to_numpy()]
    column = "身份证号"
    ids = idnumber.text_of(rows["pid"].to_numpy())
    return [
        Finding(code, str(r.file), int(r.line), column, mask_id(i), d)
        for r, i, d in zip(rows.itertuples(), ids, detail.tolist())
    ]


def _services_without_person(services: pd.DataFrame, persons: pd.DataFrame) -> list[Finding]:
    if services.empty or persons.empty:
        return []
    unknown = services[~services["pid"].isin(persons["pid"].unique())]
    ids = idnumber.text_of(unknown["pid"].to_numpy())
    return [
        Finding("row.service_unknown_person", str(r.file), int(r.line), "身份证号", mask_id(i))
        for r, i in zip(unknown.itertuples(), ids)
    ]


def _villages_without_rows(ledgers: LedgerSet) -> list[Finding]:
    units = ledgers.units
    if not units.listed:
        return []
    seen = set()
    for frame in ledgers.frames.values():
        seen.update(frame["unit"].unique().tolist())
    villages = units.table.index[units.table["level"] == VILLAGE]
    missing = np.setdiff1d(villages.to_numpy(dtype=str), np.array(sorted(seen), dtype=str))
    return [
        Finding("unit.no_rows", "units.csv", None, "代码", f"{c} {units.table.at[c, 'name']}")
        for c in missing
    ]
