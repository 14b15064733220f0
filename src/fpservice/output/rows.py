"""The report's rows as the SPEC §6 contract writes them: JSON (one array) and CSV (UTF-8, the
caller adds the BOM Excel needs). Plain Python values, missing as None / null."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd

from fpservice.report import COLUMNS, DETAIL_COLUMNS, Report
from fpservice.rules import REQUIREMENT


def records(report: Report, details: bool = False) -> list[dict]:
    """The rows exactly as SPEC §6 defines them; with `details`, also the interval, the
    small-sample and clear-miss flags, and the equity gap. Plain Python values, missing as None."""
    columns = _columns(details)
    return [dict(zip(columns, row)) for row in zip(*_values(report, columns))]


def _columns(details: bool) -> list[str]:
    return COLUMNS + (DETAIL_COLUMNS if details else [])


def _values(report: Report, columns: list[str]) -> list[list]:
    """Per column, its values as plain Python values (missing as None)."""
    rows = report.rows
    head_count = (rows["count"] == REQUIREMENT).tolist()  # a requirement's target is a number of staff
    values = []
    for col in columns:
        if col in _INTS:
            values.append(rows[col].astype("int64").tolist())
        elif col in _FLOATS or col in _OPTIONAL_INTS:
            cast = int if col in _OPTIONAL_INTS else float
            values.append([None if v != v else cast(v) for v in _floats(rows[col])])
        elif col in _BOOLS:
            values.append([bool(v) for v in rows[col].tolist()])
        elif col == "target":
            values.append(
                [None if t != t else (int(t) if s else t) for t, s in zip(_floats(rows[col]), head_count)]
            )
        else:
            values.append(_or_none(rows[col]))
    return values


_INTS = ("numerator", "denominator")
_FLOATS = ("rate", "ci_low", "ci_high", "registered_rate", "gap")
_OPTIONAL_INTS = ("registered_numerator", "registered_denominator")
_BOOLS = ("small_sample", "clear")


def _or_none(column: pd.Series) -> list:
    """The column's values, None where missing (found in one pass, not value by value)."""
    values = column.tolist()
    for i in np.flatnonzero(column.isna().to_numpy()).tolist():
        values[i] = None
    return values


def _floats(column: pd.Series) -> list[float]:
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan).tolist()


def to_json(report: Report, details: bool = False) -> str:
    """A JSON array, one row per line: the text json.dumps gives for each record. A report holds
    a few distinct values per column (unit names repeat for every indicator, statuses and
    targets for every unit), so each distinct value is encoded once and rows are laid out from
    the encoded cells, instead of building and encoding a dict per row."""
    columns = _columns(details)
    encode = json.JSONEncoder(ensure_ascii=False).encode
    cells = [_encoded(values, encode) for values in _values(report, columns)]
    line = "{" + ", ".join(f"{encode(c)}: %s" for c in columns) + "}"
    rows = [line % row for row in zip(*cells)]
    return "[\n" + ",\n".join(rows) + "\n]\n" if rows else "[]\n"


def _encoded(values: list, encode) -> list[str]:
    """Each value as JSON text. 1, 1.0 and True are equal as dict keys but are written 1, 1.0
    and true: a column mixing such types is keyed by type too."""
    if len({type(v) for v in values} & {int, float, bool}) <= 1:
        memo = {v: encode(v) for v in set(values)}
        return list(map(memo.__getitem__, values))
    memo: dict = {}
    out = []
    for v in values:
        key = (v.__class__, v)
        text = memo.get(key)
        if text is None:
            text = memo[key] = encode(v)
        out.append(text)
    return out


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralize(text):
    """A text cell that Excel would run as a formula is prefixed with an apostrophe."""
    if isinstance(text, str) and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def to_csv(report: Report, details: bool = False) -> str:
    """CSV text; the caller writes it with a BOM (encoding utf-8-sig) so Excel reads it.
    Text cells (names from units.csv and rule files) cannot smuggle in formulas."""
    buf = io.StringIO()
    frame = pd.DataFrame(records(report, details), columns=COLUMNS + (DETAIL_COLUMNS if details else []))
    for col in ("unit_name", "indicator_name", "period"):
        frame[col] = frame[col].map(neutralize)
    frame.to_csv(buf, index=False, lineterminator="\r\n")
    return buf.getvalue()
