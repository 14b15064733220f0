"""Cells checked column by column (SPEC §2, §7): each distinct value is parsed and checked once,
and the finding goes to every row that holds it. A row with an error is rejected; a warning
keeps it. What a column holds decides how it is checked (its kind in the schema); checks
between columns are declared in the schema too (`row_checks`)."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from fpservice import idnumber, schema
from fpservice import units as units_mod
from fpservice.arrowtext import byte_span, value_bytes
from fpservice.findings import CODES, ERROR, Finding
from fpservice.privacy import mask_id, mask_name, mask_number, mask_text
from fpservice.read.cells import Cells, lookup
from fpservice.schema import LedgerType
from fpservice.values import items_in, parse_dates, parse_yes_no


class Checker:
    """Collects findings for bad cells and marks rows with errors as rejected."""

    def __init__(self, rel: str, lines: np.ndarray, labels: dict[str, str]):
        self.rel, self.lines, self.labels = rel, lines, labels
        self.reject = np.zeros(len(lines), dtype=bool)
        self.findings: list[Finding] = []
        self.villages: set[str] = set()  # well-formed village codes on any row
        self.valid_days: tuple[str | None, str | None] = (None, None)  # what `today` allows
        self._rows: list[int] = []  # the row of each finding, for `name_villages`
        self.row_villages: _PerRow | None = None  # per row: its well-formed village code, or None
        self.checks: dict[tuple[str, str], None] = {}  # (code, column) of every check run, in order

    def flag(self, code: str, mask, key: str, shown=None, masker=mask_text, detail=None) -> None:
        """Flag the rows in `mask`. `shown` and `detail` (if arrays) give a value per row; they
        are only looked at for the flagged rows."""
        label = self.labels.get(key, key)
        self.checks[code, label] = None
        mask = np.asarray(mask, dtype=bool)
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        if CODES[code][0] == ERROR:
            self.reject |= mask
        values = list(shown[idx]) if shown is not None else [None] * len(idx)
        details = list(detail[idx]) if isinstance(detail, _PerRow) else [detail] * len(idx)
        rows = idx.tolist()
        for i, v, d in zip(rows, values, details):
            shown_value = masker(str(v)) if v is not None and not pd.isna(v) else None
            self.findings.append(Finding(code, self.rel, int(self.lines[i]), label, shown_value, d))
        self._rows += rows

    def name_villages(self) -> None:
        """Give each finding the village code written on its row (a code, not personal data), once
        the unit column is checked: a village's problem list holds the findings on its rows."""
        if self.row_villages is None or not self.findings:
            return
        units = self.row_villages[np.asarray(self._rows, dtype=np.intp)]
        self.findings = [
            replace(f, unit=unit) if unit is not None else f for f, unit in zip(self.findings, units)
        ]

    def flag_values(self, code: str, bad: np.ndarray, cells: Cells, key: str, shown=None, **kw) -> None:
        """Flag the rows whose value is marked in the per-value mask `bad`; `shown` (per value)
        is what the finding shows, by default the value as written."""
        self.checks[code, self.labels.get(key, key)] = None
        if bad.any():
            shown = cells.values if shown is None else shown
            self.flag(code, cells.per_value(bad, False), key, _PerRow(shown, cells.codes), **kw)


class _PerRow:
    """A per-row view of per-value data, looked up only for the rows a finding is about. The
    data is an array, an arrow array, or a function of value positions (for text made on demand)."""

    def __init__(self, values, codes: np.ndarray):
        self.values, self.codes = values, codes

    def __getitem__(self, idx):
        codes = self.codes[idx]
        if isinstance(self.values, np.ndarray | list):
            return lookup(np.asarray(self.values, dtype=object), codes, None)
        present = np.flatnonzero(codes >= 0)
        if isinstance(self.values, pa.Array):
            found = self.values.take(pa.array(codes[present])).to_pylist()
        else:
            found = self.values(codes[present])
        out = [None] * len(codes)
        for i, v in zip(present.tolist(), found):
            out[i] = v
        return out


class _Shown:
    """Per-row values for findings, made only for the flagged rows: `make(rows)` -> list."""

    def __init__(self, make):
        self.make = make

    def __getitem__(self, idx):
        return self.make(idx)


def _days(values: np.ndarray) -> _Shown:
    """Dates as YYYY-MM-DD."""
    return _Shown(lambda idx: np.datetime_as_string(values[idx].astype("datetime64[D]"), unit="D").tolist())


def _ids(keys: np.ndarray) -> _Shown:
    """ID numbers as text, back from their int64 keys."""
    return _Shown(lambda idx: idnumber.text_of(keys[idx]))


def validate(
    ltype: LedgerType,
    rel: str,
    columns: dict[str, Cells],
    lines: np.ndarray,
    labels: dict[str, str],
    units: units_mod.Units,
    today: dt.date,
):
    """Parse and check each column, one distinct value at a time.
    -> (typed columns of the used rows, the checker: findings, rejected rows, villages seen,
    valid days)."""
    n = len(lines)
    check = Checker(rel, lines, labels)
    out: dict[str, object] = {"line": np.asarray(lines, dtype=np.int64)}
    id_sex = id_birth = None

    for col in ltype.columns:
        cells = columns.get(col.key) or Cells.blank(n)
        if col.required:
            check.flag("value.required", ~cells.present, col.key)
        span = byte_span(cells.values)  # (blanking rows below keeps the values)
        control = _has_control(cells.values, span)
        if control.any():
            check.flag_values(
                "value.control_chars", control, cells, col.key, masker=_MASKERS.get(col.kind, mask_text)
            )
            cells = cells.without(control)
        excel_error = _excel_errors(cells.values, span)
        if excel_error.any():  # a formula's error value (#REF!, #DIV/0!): shown, never a value
            check.flag_values("value.excel_error", excel_error, cells, col.key)
            cells = cells.without(excel_error)
        if col.kind == schema.CODE:
            out[col.key] = _check_units(check, cells, col.key, units)
        elif col.kind == schema.ID:
            out["pid"], id_sex, id_birth = _check_ids(check, cells, col.key, today)
        elif col.kind == schema.DATE:
            values, bad = parse_dates(cells.text())
            check.flag_values("value.date", bad, cells, col.key)
            out[col.key] = cells.per_value(values, np.datetime64("NaT"))
        elif col.kind == schema.YES_NO:
            values, bad = parse_yes_no(cells.text())
            check.flag_values("value.yes_no", bad, cells, col.key)
            coded = cells.per_value(values, -1)
            out[col.key] = pd.arrays.BooleanArray(coded == 1, coded < 0)
        elif col.kind in (schema.CHOICE, schema.SEX):
            words = col.vocabulary
            where = _positions(words)
            position = np.array([where.get(v, -1) for v in cells.text().tolist()], dtype=np.int64)
            check.flag_values("value.vocabulary", position < 0, cells, col.key, detail="/".join(words))
            out[col.key] = _categorical(cells, position, _vocabulary_dtype(words))
        elif col.kind == schema.ITEMS:
            out[col.key] = _item_bits(check, cells, col)
        elif col.kind == schema.TEXT:
            position, distinct = pd.factorize(cells.text(), sort=True)  # as units: in any read
            out[col.key] = _categorical(cells, position, text_dtype(distinct))
        # NAME: checked above, never kept (no computation needs a name).

    if "id" in ltype.keys:
        _derive_from_id(check, ltype, out, id_sex, id_birth)
    if "pop_type" in ltype.keys:
        out["pop_type"] = out["pop_type"].fillna("流动")
    _check_rows(check, ltype, out, id_sex)
    check.name_villages()

    keep = np.flatnonzero(~check.reject) if check.reject.any() else slice(None)
    return {key: value[keep] for key, value in out.items()}, check


_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"


_MASKERS = {schema.ID: lambda v: mask_text(mask_id(v)), schema.NAME: lambda v: mask_text(mask_name(v))}


def _has_control(values: pa.Array, span: tuple[int, int] | None = None) -> np.ndarray:
    if len(values) == 0 or not _control_bytes(values, span or byte_span(values)):
        return np.zeros(len(values), dtype=bool)
    return np.asarray(pc.fill_null(pc.match_substring_regex(values, _CONTROL), False), dtype=bool)


def _control_bytes(values: pa.Array, span: tuple[int, int]) -> bool:
    """Whether any byte of the values could be a control character, from their `span` and, only
    when it reaches them, one pass over arrow's bytes instead of a regular expression per value.
    (In UTF-8 a byte below 0x80 is always a character of its own.)"""
    lowest, highest = span
    if lowest >= 32 and highest < 127:
        return False
    offsets, data = value_bytes(values)
    data = data[offsets[0] : offsets[-1]]
    if lowest < 32:
        low = data < 32
        if (low & (data != 9) & (data != 10) & (data != 13)).any():
            return True
    return bool(highest >= 127 and (data == 127).any())


_EXCEL_ERRORS = pa.array(
    ["#CALC!", "#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#SPILL!", "#VALUE!"]
)
_SCIENTIFIC = r"^[+-]?\d+(\.\d*)?[eE][+-]?\d+$"


def _excel_errors(values: pa.Array, span: tuple[int, int] | None = None) -> np.ndarray:
    """Values that are a formula's error as Excel shows it. Only columns with a `#` look further."""
    lowest, highest = span or byte_span(values)
    if not lowest <= ord("#") <= highest or not _holds_byte(values, b"#"):
        return np.zeros(len(values), dtype=bool)
    return np.asarray(pc.is_in(values, value_set=_EXCEL_ERRORS), dtype=bool)


def _excel_numbers(values: pa.Array) -> np.ndarray:
    """Values in scientific notation, as Excel shows a long number (an ID or a code typed into
    a cell formatted as a number). Only columns with an `E` look further."""
    if len(values) == 0 or not _holds_byte(values, b"e", fold=True):
        return np.zeros(len(values), dtype=bool)
    return np.asarray(pc.fill_null(pc.match_substring_regex(values, _SCIENTIFIC), False), dtype=bool)


def _holds_byte(values: pa.Array, byte: bytes, fold: bool = False) -> bool:
    """Whether any value holds the (ASCII) byte; with `fold`, in either case. One pass over arrow's bytes."""
    offsets, data = value_bytes(values)
    data = data[offsets[0] : offsets[-1]]
    hit = (data | 0x20) == byte[0] if fold else data == byte[0]  # | 0x20: an ASCII letter's lower case
    return bool(hit.any())


def _check_ids(check: Checker, cells: Cells, key: str, today: dt.date):
    """-> (int64 key, male 1 / female 0 / -1, birth date) per row, from each distinct ID once.
    An ID that Excel stored as a number (4.52123E+17) has lost its last digits: an error of its
    own, never matched to a person."""
    ids = idnumber.parse_values(cells.values, today)
    malformed = ids.malformed
    # Such a number is never a well-formed ID: only malformed values are looked at again
    number = np.zeros(len(malformed), dtype=bool)
    if malformed.any():
        odd = np.flatnonzero(malformed)
        number[odd] = _excel_numbers(cells.values.take(pa.array(odd)))
    if number.any():
        check.flag_values("id.excel_number", number, cells, key, masker=mask_number)
        malformed = malformed & ~number
    check.flag_values(
        "value.id_malformed", malformed, cells, key, masker=mask_id, detail=_PerRow(ids.problem, cells.codes)
    )
    wrong_check_digit = ~ids.checksum_ok & (ids.key >= 0)
    if wrong_check_digit.any():

        def canonical(positions: np.ndarray) -> list[str]:  # shown masked, made for flagged rows only
            return idnumber.text_of(ids.key[positions])

        check.flag_values("value.id_checksum", wrong_check_digit, cells, key, canonical, masker=mask_id)
    check.valid_days = tuple(None if np.isnat(d) else str(d) for d in (ids.first_day, ids.until_day))
    return (
        cells.per_value(ids.key, -1),
        cells.per_value(ids.male, -1),
        cells.per_value(ids.birth, np.datetime64("NaT")),
    )


@functools.cache
def _positions(words: tuple[str, ...]) -> dict[str, int]:
    return {w: i for i, w in enumerate(words)}


@functools.cache
def _vocabulary_dtype(words: tuple[str, ...]) -> pd.CategoricalDtype:
    """One dtype per vocabulary, shared by every file: concatenation keeps the codes."""
    return text_dtype(words)


def text_dtype(categories) -> pd.CategoricalDtype:
    return pd.CategoricalDtype(pd.Index(categories, dtype="str"))


def _categorical(cells: Cells, position: np.ndarray, dtype: pd.CategoricalDtype) -> pd.Categorical:
    """Rows as categories, from each value's position among the categories (-1: missing)."""
    return pd.Categorical.from_codes(cells.per_value(position, -1), dtype=dtype)


def _check_units(check: Checker, cells: Cells, key: str, units: units_mod.Units):
    """-> the normalised unit codes (categorical). A file holds a few hundred distinct codes: each
    is looked at once. A code saved in scientific notation (3.30205E+11) cannot be restored."""
    number = _excel_numbers(cells.values)
    if number.any():
        check.flag_values("unit.excel_number", number, cells, key)
        cells = cells.without(number)
    codes = np.array([units_mod.normalize_code(v) for v in cells.text().tolist()], dtype=object)
    listed = units.levels if units.listed else None
    level = np.full(len(codes), None, dtype=object)
    malformed, unknown = np.zeros(len(codes), bool), np.zeros(len(codes), bool)
    for i, code in enumerate(codes.tolist()):
        if code is None:
            continue
        if not (len(code) == 12 and code.isascii() and code.isdigit()):
            malformed[i] = True
        elif listed is None:
            level[i] = units_mod.level_of_code(code)
        elif code in listed:
            level[i] = listed[code]
        else:
            unknown[i] = True
    check.flag_values("value.unit_malformed", malformed, cells, key)
    check.flag_values("value.unit_unknown", unknown, cells, key, codes)
    is_village = level == units_mod.VILLAGE
    not_village = np.not_equal(level, None) & ~is_village
    used = np.bincount(cells.codes[cells.present], minlength=len(level)) > 0
    check.villages = set(codes[is_village & used].tolist())
    check.row_villages = _PerRow(np.where(is_village, codes, None), cells.codes)
    check.flag_values(
        "value.unit_not_village", not_village, cells, key, codes, detail=_PerRow(level, cells.codes)
    )
    categories, position = np.unique(
        np.where(np.equal(codes, None), "", codes).astype(str), return_inverse=True
    )
    return _categorical(cells, position, text_dtype(categories))


def _item_bits(check: Checker, cells: Cells, col: schema.Column) -> np.ndarray:
    """`;`-separated items -> an int bitmask over the column's vocabulary (bit i = item i)."""
    position = {item: i for i, item in enumerate(col.vocabulary)}
    bits, unknown = [], []
    for text in cells.text().tolist():
        items = items_in(text)
        bits.append(sum(1 << position[i] for i in items if i in position))
        unknown.append("、".join(sorted(i for i in items if i not in position)) or None)
    unknown = np.array(unknown, dtype=object)
    check.flag_values(
        "value.vocabulary",
        np.not_equal(unknown, None),
        cells,
        col.key,
        unknown,
        detail="/".join(col.vocabulary),
    )
    return cells.per_value(np.array(bits, dtype=np.int64), 0)


def _derive_from_id(check: Checker, ltype: LedgerType, out: dict, id_sex, id_birth) -> None:
    """Sex and birth date: blank cells come from the ID; written ones must agree with it.
    Sex is coded as the vocabulary 男, 女 (0, 1); the ID gives male 1 / female 0."""
    from_id = np.where(id_sex == 1, 0, np.where(id_sex == 0, 1, -1))
    sexes = _vocabulary_dtype(schema.VOCABULARIES["sex"])
    if "sex" in ltype.keys:
        given = out["sex"]
        codes = given.codes
        differs = (codes >= 0) & (from_id >= 0) & (codes != from_id)
        check.flag("value.sex_mismatch", differs, "sex", _Shown(lambda idx: given[idx].tolist()))
        out["sex"] = pd.Categorical.from_codes(np.where(codes >= 0, codes, from_id), dtype=sexes)
    else:
        out["sex"] = pd.Categorical.from_codes(from_id, dtype=sexes)
    if "birth" in ltype.keys:
        given = out["birth"]
        differs = ~np.isnat(given) & ~np.isnat(id_birth) & (given != id_birth)
        check.flag("value.birth_mismatch", differs, "birth", _days(given))
        out["birth"] = np.where(np.isnat(given), id_birth, given)
    else:
        out["birth"] = id_birth


def _check_rows(check: Checker, ltype: LedgerType, out: dict, id_sex) -> None:
    """The checks between columns that the schema declares for this ledger type."""
    for rule in ltype.row_checks:
        if isinstance(rule, schema.NotBefore):
            later = out[rule.later]
            check.flag(rule.code, later < out[rule.earlier], rule.later, _days(later))
        else:  # WomenOnly: an ID number whose 17th digit is odd is a man's
            men = id_sex == 1
            if rule.column is not None:
                men = np.asarray(out[rule.column] == rule.value) & men
            check.flag(rule.code, men, "id", _ids(out["pid"]), mask_id)
