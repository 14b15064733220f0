"""How people write dates and yes/no, in ledger cells and in options alike: dates in five
spellings, yes/no in six. No numpy here: options are read before any ledger is."""

from __future__ import annotations

import datetime as dt
import re

DATE = re.compile(
    r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[ T]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?\s*$"  # Excel may append a midnight time
)
COMPACT = re.compile(r"^\s*(\d{4})(\d{2})(\d{2})\s*$")
DATE_SPELLINGS = "2011-05-19、2011/5/19、2011.5.19、20110519、2011年5月19日"

YES = frozenset({"是", "y", "yes", "1", "√", "✓", "true", "t", "1.0"})
NO = frozenset({"否", "n", "no", "0", "×", "✗", "false", "f", "0.0"})


def day_of(text: str | None) -> dt.date | None:
    """One spelling -> its day, or None when it is no real date (2011-02-30)."""
    m = (DATE.match(text) or COMPACT.match(text)) if text is not None else None
    if not m:
        return None
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None
