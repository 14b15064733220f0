"""Cell values as people type them: dates in five spellings, yes/no in six, ;-separated lists."""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from fpservice.spelling import NO, YES, day_of


def parse_dates(values) -> tuple[np.ndarray, np.ndarray]:
    """Distinct cell texts -> (datetime64[ns] per text, mask of texts that are not a real date).
    Blank (None) is missing, not bad. A ledger of a million rows has a few thousand dates, so
    callers pass each spelling once."""
    texts = list(values)
    out = np.array([_date_of(t) for t in texts], dtype="datetime64[ns]")
    blank = np.array([t is None for t in texts], dtype=bool)
    return out, ~blank & np.isnat(out)


@lru_cache(maxsize=1 << 16)
def _date_of(text: str | None) -> np.datetime64:
    """One spelling -> its day, or NaT. Cached: every file of a district repeats the same dates."""
    day = day_of(text)
    if day is None or not 1678 <= day.year <= 2261:  # outside what a datetime64[ns] column holds
        return np.datetime64("NaT")
    return np.datetime64(day, "ns")


def parse_yes_no(values) -> tuple[np.ndarray, np.ndarray]:
    """Distinct cell texts -> (1 yes / 0 no / -1 blank or unreadable, mask of unreadable texts)."""
    out, bad = [], []
    for text in values:
        low = text.lower() if text is not None else None
        out.append(1 if low in YES else 0 if low in NO else -1)
        bad.append(text is not None and out[-1] < 0)
    return np.array(out, dtype=np.int8), np.array(bad, dtype=bool)


ITEM_SEPARATORS = r"[;；,，、\s]+"


def items_in(text: str) -> frozenset:
    return frozenset(p for p in re.split(ITEM_SEPARATORS, text) if p)
