"""The report's rows as the SPEC §6 contract writes them: JSON (one array) and CSV (UTF-8, the
caller adds the BOM Excel needs). Plain Python values, missing as None / null."""

from __future__ import annotations

import io
import json
import math

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
            values.append([None if v != v else cast(v) for v in _floats(rows[col]).tolist()])
        elif col in _BOOLS:
            values.append([bool(v) for v in rows[col].tolist()])
        elif col == "target":
            values.append(
                [
                    None if t != t else (int(t) if s else t)
                    for t, s in zip(_floats(rows[col]).tolist(), head_count)
                ]
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


def _floats(column: pd.Series) -> np.ndarray:
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def to_json(report: Report, details: bool = False) -> str:
    """A JSON array, one row per line: the text json.dumps gives for each record (see
    `json_bytes`)."""
    return json_bytes(report, details).decode("utf-8")


def json_bytes(report: Report, details: bool = False) -> bytes:
    """`to_json`'s text in UTF-8, made as bytes."""
    return b"".join(json_parts(report, details))


def json_parts(report: Report, details: bool = False) -> list:
    """`json_bytes` in parts (bytes-like) to be written one after another: the command line
    writes them as they are. (Decoding them into text and encoding that again was 32 MB of work
    at a million persons, and joining them into one bytes object 32 MB of fresh memory.)

    A report holds a few distinct values per column (unit names repeat for every indicator,
    statuses and targets for every unit), so each column is factorized, each distinct value
    encoded once by the json module, and the rows are joined from those texts by Arrow, without
    a Python object per cell (at a million persons, 0.20 s -> 0.08 s for 50,000 rows)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = report.rows
    if not len(rows):
        return [b"[]\n"]
    encode = json.JSONEncoder(ensure_ascii=False).encode
    pieces: list = []
    for i, col in enumerate(_columns(details)):
        label = pa.scalar(("{" if i == 0 else ", ") + encode(col) + ": ", pa.large_string())
        pieces += [label, _cells(rows, col, encode, pa)]
    end, joint = pa.scalar("},\n", pa.large_string()), pa.scalar("", pa.large_string())
    lines = pc.binary_join_element_wise(*pieces, end, joint)
    # the lines lie one after another in the array's data: the text is those bytes, once
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset : lines.offset + len(lines) + 1]
    body = memoryview(lines.buffers()[2])[offsets[0] : offsets[-1] - 2]
    return [b"[\n", body, b"\n]\n"]


def _cells(rows: pd.DataFrame, col: str, encode, pa):
    """A column's cells as JSON texts (an Arrow array): as `_values` gives them, encoded."""
    if col in _INTS:  # every row its own count: Arrow writes integers as Python does
        return pa.array(rows[col].to_numpy(dtype="int64")).cast(pa.large_string())
    if col in _BOOLS:
        return pa.array(np.where(rows[col].to_numpy(dtype=bool), "true", "false"), pa.large_string())
    if col in _FLOATS or col in _OPTIONAL_INTS or col == "target":
        codes, uniques = pd.factorize(_floats(rows[col]))  # NaN: -1
        uniques = uniques.tolist()
        if col == "target":  # a requirement's target is a number of staff: written as an int
            whole = (rows["count"] == REQUIREMENT).to_numpy()
            codes = np.where(codes < 0, -1, codes * 2 + whole)
            texts = [_number(u, encode, as_int) for u in uniques for as_int in (False, True)]
        else:
            texts = [_number(u, encode, col in _OPTIONAL_INTS) for u in uniques]
    else:  # text
        codes, uniques = pd.factorize(rows[col])
        texts = [encode(u) for u in uniques.tolist()]
    codes = np.where(codes < 0, len(texts), codes)
    return pa.array([*texts, "null"], pa.large_string()).take(pa.array(codes))


def _number(value: float, encode, as_int: bool) -> str:
    """json's text for a number of a float column: an int, or a float (finite: its repr)."""
    if as_int:
        return encode(int(value))
    return value.__repr__() if math.isfinite(value) else encode(value)


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
