"""`units.csv` (SPEC §1): the units of the district, their names, levels and parents, read in any
encoding a ledger may have. Invalid rows become findings; missing ancestors are added by code.
A file that does not describe a tree (a code listed twice, a parent that is not listed or not
one level up) stops the run at its line: it would give wrong township and county numbers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from fpservice.errors import InputError, UnitsError, os_reason
from fpservice.findings import Finding
from fpservice.headers import normalize_header
from fpservice.read import csvparse
from fpservice.read.encodings import open_source
from fpservice.read.problem import FileProblem
from fpservice.units import COUNTY, TOWNSHIP, VILLAGE, Units, derived_parent, empty, normalize_codes

_LEVEL_WORDS = {
    "县": COUNTY,
    "区": COUNTY,
    "县区": COUNTY,
    "县/区": COUNTY,
    "市": COUNTY,
    "乡镇": TOWNSHIP,
    "乡": TOWNSHIP,
    "镇": TOWNSHIP,
    "街道": TOWNSHIP,
    "乡镇/街道": TOWNSHIP,
    "村": VILLAGE,
    "社区": VILLAGE,
    "居": VILLAGE,
    "村居": VILLAGE,
    "村/社区": VILLAGE,
}


_UNITS_HEADERS = {
    "代码": "code",
    "单位代码": "code",
    "code": "code",
    "名称": "name",
    "单位名称": "name",
    "name": "name",
    "层级": "level",
    "级别": "level",
    "level": "level",
    "上级代码": "parent",
    "parent": "parent",
}


def load_units_file(path: Path, rel: str, encoding: str | None = None) -> Units:
    """Read `units.csv`. Invalid rows become findings; missing ancestors are added by code."""
    findings: list[Finding] = []
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"无法读取 {rel}：{os_reason(exc, writing=False)}") from exc
    fingerprint = hashlib.sha256(raw).hexdigest()
    try:
        source = open_source(raw, encoding)
        header = source.header
        keys = {i: _UNITS_HEADERS.get(normalize_header(h)) for i, h in enumerate(header)}
        positions = {k: i for i, k in keys.items() if k}
        if "code" not in positions or "level" not in positions:
            findings.append(Finding("units.invalid", rel, 1, None, None, "表头应为 代码,名称,层级,上级代码"))
            return Units(empty().table, True, findings, fingerprint)
        table = csvparse.read_table(source, sorted(positions.values()))
    except FileProblem as p:
        findings.append(Finding(p.code, rel, p.line, None, None, p.detail))
        return Units(empty().table, True, findings, fingerprint)

    cells = table.frame().rename(columns={str(i): k for k, i in positions.items()})
    for k in ("name", "parent"):
        if k not in cells:
            cells[k] = pd.NA
    code = normalize_codes(cells["code"])
    parent = normalize_codes(cells["parent"])
    level = cells["level"].str.strip().map(_LEVEL_WORDS)
    ok = code.str.fullmatch(r"\d{12}").fillna(False).astype(bool) & level.notna()
    for i in (~ok).to_numpy().nonzero()[0]:
        findings.append(
            Finding(
                "units.invalid",
                rel,
                int(table.lines[i]),
                header[positions["code"]],
                str(cells["code"].iloc[i]),
                "代码须为12位数字、层级须为 县/乡镇/村",
            )
        )
    units = pd.DataFrame(
        {
            "name": cells["name"].fillna(code).where(cells["name"].notna(), code),
            "level": level,
            "parent": parent,
        }
    )
    units.index = code
    units = units[ok.to_numpy()]
    _check_tree(units, table.lines[ok.to_numpy()], rel)
    units.loc[units["level"] == COUNTY, "parent"] = None  # above the county is not our tree
    missing_parent = units["parent"].isna() & (units["level"] != COUNTY)
    units.loc[missing_parent, "parent"] = [derived_parent(c) for c in units.index[missing_parent]]
    result = Units(units, True, findings, fingerprint)
    result.add_seen([p for p in units["parent"].dropna() if p not in units.index])
    return result


_ONE_UP = {VILLAGE: TOWNSHIP, TOWNSHIP: COUNTY}


def _check_tree(units: pd.DataFrame, lines, rel: str) -> None:
    """Each valid row's code once, and the parent it names listed, one level up. (A blank parent
    is derived from the code; a county's parent is outside the tree and not looked at.)"""
    first_line: dict[str, int] = {}
    for code, line in zip(units.index.tolist(), lines.tolist()):
        if code in first_line:
            raise UnitsError(f"代码 {code} 已在第 {first_line[code]} 行列出：每个单位只能列一次", rel, line)
        first_line[code] = line
    levels = dict(zip(units.index.tolist(), units["level"].tolist()))
    for code, level, parent, line in zip(
        units.index.tolist(), units["level"].tolist(), units["parent"].tolist(), lines.tolist()
    ):
        if level == COUNTY or pd.isna(parent):
            continue
        if parent not in levels:
            raise UnitsError(
                f"{code} 的上级代码 {parent} 不在 units.csv 中：请列出这个上级单位，或改正上级代码", rel, line
            )
        if levels[parent] != _ONE_UP[level]:
            raise UnitsError(
                f"{code}（{level}）的上级 {parent} 是{levels[parent]}级，应为{_ONE_UP[level]}级", rel, line
            )
