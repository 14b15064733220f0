"""Organisation units (SPEC §1): county > township > village, by 12-digit division code.

The hierarchy comes from `units.csv` when the ledger directory has one (read by
`read.unitsfile`), else from the codes themselves (a township is the first 9 digits + 000, a
county the first 6 + 000000).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fpservice.findings import Finding

COUNTY, TOWNSHIP, VILLAGE = "县", "乡镇", "村"
LEVELS = (COUNTY, TOWNSHIP, VILLAGE)


def normalize_codes(raw: pd.Series) -> pd.Series:
    """Codes as typed: full-width digits, spaces and Excel's leading apostrophe removed.
    A ledger of a million rows holds a few hundred codes: each is normalised once."""
    codes, uniques = pd.factorize(raw.astype("str"))
    table = np.array([normalize_code(u) for u in uniques] + [None], dtype=object)  # -1 (blank) -> None
    return pd.Series(table[codes], index=raw.index, dtype="str")


@functools.lru_cache(maxsize=1 << 16)
def normalize_code(text: str) -> str | None:
    """One code as typed -> its 12 digits (if it has them), or None when nothing is left.
    Cached: every file of a district repeats the same codes."""
    code = _SPACES.sub("", unicodedata.normalize("NFKC", text)).lstrip("'")
    return code or None


_SPACES = re.compile(r"\s+")


def level_of_code(code: str) -> str:
    if code.endswith("000000"):
        return COUNTY
    if code.endswith("000"):
        return TOWNSHIP
    return VILLAGE


def is_village_code(code: str, units: Units) -> bool:
    """Is `code` (normalised) a village's: listed as one in units.csv, or, without it, a
    well-formed code of the village level."""
    if not (len(code) == 12 and code.isascii() and code.isdigit()):
        return False
    level = units.levels.get(code) if units.listed else level_of_code(code)
    return level == VILLAGE


def derived_parent(code: str) -> str | None:
    level = level_of_code(code)
    if level == VILLAGE:
        return code[:9] + "000"
    if level == TOWNSHIP:
        return code[:6] + "000000"
    return None


@dataclass
class Units:
    """Every known unit: code -> name, level, parent. `listed` is True when from units.csv."""

    table: pd.DataFrame  # index code; columns name, level, parent
    listed: bool = False
    findings: list[Finding] = field(default_factory=list)
    fingerprint: str = ""  # of units.csv's bytes: ledger rows are checked against it
    # `levels`, made when first asked for. An attribute from the start: a workbook's read pickles
    # the units for its process while other reads ask for the levels, and an attribute added
    # meanwhile fails the pickling ("dictionary changed size during iteration").
    _levels: dict[str, str] | None = field(default=None, repr=False, compare=False)

    @property
    def levels(self) -> dict[str, str]:
        """code -> level, for looking up many codes one at a time."""
        if self._levels is None or len(self._levels) != len(self.table):
            self._levels = dict(zip(self.table.index.tolist(), self.table["level"].tolist()))
        return self._levels

    def add_seen(self, codes) -> None:
        """Without units.csv, units are those seen in ledgers, with their derived ancestors."""
        rows = {}
        for code in codes:
            while code and code not in self.table.index and code not in rows:
                parent = derived_parent(code)
                rows[code] = (code, level_of_code(code), parent)
                code = parent
        if rows:
            new = pd.DataFrame.from_dict(rows, orient="index", columns=["name", "level", "parent"])
            self.table = pd.concat([self.table, new]).sort_index()

    def ancestry(self) -> pd.DataFrame:
        """For every village: its township and county codes (columns 村, 乡镇, 县)."""
        t = self.table
        villages = t.index[t["level"] == VILLAGE]
        township = t.loc[villages, "parent"]
        county = t["parent"].reindex(township.to_numpy()).to_numpy()
        return pd.DataFrame(
            {VILLAGE: villages.to_numpy(), TOWNSHIP: township.to_numpy(), COUNTY: county}, dtype="str"
        )

    def ordered(self) -> pd.DataFrame:
        """Units in report order: by level (县, 乡镇, 村), then code."""
        t = self.table.reset_index(names="code")
        t["rank"] = t["level"].map({lvl: i for i, lvl in enumerate(LEVELS)})
        return t.sort_values(["rank", "code"]).drop(columns="rank").reset_index(drop=True)


def empty() -> Units:
    return Units(pd.DataFrame(columns=["name", "level", "parent"], dtype="object"))
