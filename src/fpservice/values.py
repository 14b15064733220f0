"""Cell values as people type them: dates in five spellings, yes/no in six, ;-separated lists."""

from __future__ import annotations

import re

import pandas as pd

_DATE = re.compile(
    r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[ T]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?\s*$"  # Excel may append a midnight time
)
_COMPACT = re.compile(r"^\s*(\d{4})(\d{2})(\d{2})\s*$")

YES = frozenset({"是", "y", "yes", "1", "√", "✓", "true", "t", "1.0"})
NO = frozenset({"否", "n", "no", "0", "×", "✗", "false", "f", "0.0"})


def parse_dates(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """-> (datetime64 values, mask of non-blank cells that are not a real date).

    Parses each distinct spelling once: a ledger of a million rows has a few thousand dates.
    """
    blank = raw.isna()
    uniques = pd.Series(raw[~blank].unique())
    parsed = {}
    for text in uniques.tolist():
        m = _DATE.match(text) or _COMPACT.match(text)
        parsed[text] = f"{m.group(1)}-{int(m.group(2)):02d}-{int(m.group(3)):02d}" if m else None
    iso = raw.map(parsed)
    values = pd.to_datetime(iso, format="%Y-%m-%d", errors="coerce")
    bad = ~blank & values.isna()
    return values.astype("datetime64[ns]"), bad


def parse_yes_no(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """-> (boolean values with missing for blanks, mask of non-blank cells that are not yes/no)."""
    low = raw.str.lower()
    yes, no = low.isin(YES), low.isin(NO)
    values = pd.Series(pd.NA, index=raw.index, dtype="boolean")
    values[yes] = True
    values[no] = False
    bad = raw.notna() & ~yes & ~no
    return values, bad


ITEM_SEPARATORS = r"[;；,，、\s]+"


def split_items(raw: pd.Series) -> pd.Series:
    """`婚育证明;管理合同书` -> frozenset per row (blank -> empty set)."""
    return raw.fillna("").map(_split_one)


def _split_one(text: str) -> frozenset:
    return frozenset(p for p in re.split(ITEM_SEPARATORS, text) if p)
