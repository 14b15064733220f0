"""`units.csv` (SPEC §1): the units of the district, their names, levels and parents, read in any
encoding a ledger may have. Invalid rows become findings; missing ancestors are added by code."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from fpservice.findings import Finding
from fpservice.headers import normalize_header
from fpservice.read import csvparse
from fpservice.read.encodings import open_source
from fpservice.read.ledgerset import FileProblem
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
    raw = path.read_bytes()
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
    units = units[~units.index.duplicated()]
    missing_parent = units["parent"].isna() & (units["level"] != COUNTY)
    units.loc[missing_parent, "parent"] = [derived_parent(c) for c in units.index[missing_parent]]
    result = Units(units, True, findings, fingerprint)
    result.add_seen([p for p in units["parent"].dropna() if p not in units.index])
    return result
