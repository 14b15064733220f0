"""Citizen ID numbers (公民身份号码, GB 11643), parsed column-wise.

IDs are normalised as SPEC §7 says (15 -> 18 digits, upper-case X, spaces removed), plus what
Excel and hand typing add: full-width digits, a leading apostrophe that forces text.
Each valid ID also gets an int64 key (17 digits * 11 + check value) so that joins and distinct
counts over millions of rows work on integers instead of strings.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from fpservice.arrowtext import value_bytes

_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHECK_CHARS = np.array(list("10X98765432"))
_POW10 = 10 ** np.arange(16, -1, -1, dtype=np.int64)


def normalize(raw: pd.Series) -> pd.Series:
    """Text as typed -> canonical text (not yet validated). Blank stays missing.
    Most IDs are already canonical; only the others pay for the clean-up."""
    s = raw.astype("str")
    odd = ~s.str.fullmatch(r"\d{17}[\dX]").fillna(True).astype(bool)
    if odd.any():
        t = s[odd]
        t = t.str.normalize("NFKC").str.replace(r"\s+", "", regex=True).str.lstrip("'‘’`").str.upper()
        s = s.where(~odd, t.where(t.str.len() > 0))
    return s


def check_chars(first17: np.ndarray) -> np.ndarray:
    """Check characters for an (n, 17) array of digit values."""
    return _CHECK_CHARS[(first17.astype(np.int64) @ _WEIGHTS) % 11]


def _digits(ids: pd.Series, width: int) -> np.ndarray:
    if len(ids) == 0:
        return np.zeros((0, width), dtype=np.uint8)
    buf = "".join(ids.tolist()).encode("ascii")
    return np.frombuffer(buf, dtype=np.uint8).reshape(-1, width) - 48


def parse(raw: pd.Series, today: dt.date | None = None) -> pd.DataFrame:
    """Parse a column of ID numbers.

    Returns a frame on the same index with: `id` (canonical 18 characters, or missing),
    `key` (int64, -1 when not valid), `problem` (why malformed, else missing),
    `checksum_ok` (bool), `sex` (男/女) and `birth` (datetime64) derived from the ID.
    """
    today = today or dt.date.today()
    s = normalize(raw)
    out = pd.DataFrame(index=raw.index)
    problem = pd.Series(pd.NA, index=raw.index, dtype="object")

    is18 = s.str.fullmatch(r"\d{17}[\dX]").fillna(False).astype(bool)
    is15 = s.str.fullmatch(r"\d{15}").fillna(False).astype(bool)
    present = s.notna()
    problem[present & ~is18 & ~is15] = "应为18位（或15位旧号码），末位可为X"

    canon = s.where(is18)
    if is15.any():
        # Legacy 15-digit IDs: insert the century, then compute the check digit.
        old = s[is15]
        body = old.str.slice(0, 6) + "19" + old.str.slice(6, 15)
        canon[is15] = body + check_chars(_digits(body, 17))
    shaped = is18 | is15

    birth = pd.to_datetime(canon.str.slice(6, 14), format="%Y%m%d", errors="coerce")
    impossible = shaped & (birth.isna() | (birth < pd.Timestamp(1900, 1, 1)) | (birth > pd.Timestamp(today)))
    problem[impossible] = "出生日期部分不存在"
    valid = shaped & ~impossible

    checksum_ok = pd.Series(False, index=raw.index)
    key = pd.Series(-1, index=raw.index, dtype="int64")
    sex = pd.Series(pd.NA, index=raw.index, dtype="object")
    if valid.any():
        ids = canon[valid]
        d = _digits(ids.str.slice(0, 17), 17)
        last = ids.str.slice(17, 18).to_numpy(dtype=object)
        checksum_ok[valid] = check_chars(d) == last
        key[valid] = (d.astype(np.int64) @ _POW10) * 11 + _check_values(last)
        sex[valid] = np.where(d[:, 16] % 2 == 1, "男", "女")

    out["id"] = canon.where(valid)
    out["key"] = key
    out["problem"] = problem
    out["checksum_ok"] = checksum_ok
    out["sex"] = sex
    out["birth"] = birth.where(valid)
    return out


@dataclass
class ParsedIds:
    """Per distinct value: `key` (int64, -1 when not valid), `problem` (why malformed, else None)
    and `malformed` (whether there is one: no comparison of a million objects with None),
    `checksum_ok`, `male` (1 male, 0 female, -1 unknown) and `birth` (datetime64[ns], NaT)."""

    key: np.ndarray
    problem: np.ndarray
    malformed: np.ndarray
    checksum_ok: np.ndarray
    male: np.ndarray
    birth: np.ndarray
    # The days on which this parse holds: from the latest birth date accepted, until the earliest
    # one rejected only for being in the future (NaT: unbounded).
    first_day: np.datetime64 = np.datetime64("NaT")
    until_day: np.datetime64 = np.datetime64("NaT")


def parse_values(values: pa.StringArray, today: dt.date | None = None) -> ParsedIds:
    """Parse the distinct values of an ID column. Values already written as 18 characters
    (nearly all) are parsed straight from arrow's bytes; only the others are cleaned up as text."""
    today = today or dt.date.today()
    n = len(values)
    out = ParsedIds(
        np.full(n, -1, np.int64),
        np.full(n, None, object),
        np.zeros(n, bool),
        np.zeros(n, bool),
        np.full(n, -1, np.int8),
        np.full(n, np.datetime64("NaT"), "datetime64[ns]"),
    )
    plain = _plain18(values)
    if plain is not None:
        rows, d = plain
        _fill(out, rows, d, today)
        odd = np.ones(n, bool)
        odd[rows] = False
    else:
        odd = np.ones(n, bool)
    if odd.any():
        idx = np.flatnonzero(odd)
        text = pd.Series(values.take(pa.array(idx)).to_pylist(), dtype="str")
        parsed = parse(text, today)
        out.key[idx] = parsed["key"].to_numpy()
        out.problem[idx] = parsed["problem"].to_numpy(dtype=object, na_value=None)
        out.malformed[idx] = parsed["problem"].notna().to_numpy(dtype=bool)
        out.checksum_ok[idx] = parsed["checksum_ok"].to_numpy(dtype=bool)
        out.male[idx] = np.select([parsed["sex"] == "男", parsed["sex"] == "女"], [1, 0], -1)
        out.birth[idx] = parsed["birth"].to_numpy(dtype="datetime64[ns]")
        if (parsed["problem"] == "出生日期部分不存在").any():  # perhaps only in the future: today only
            out.until_day = _earliest(out.until_day, np.datetime64(today, "D") + 1)
    births = out.birth[~np.isnat(out.birth)]
    if len(births):
        out.first_day = births.max().astype("datetime64[D]")
    return out


def _earliest(a: np.datetime64, b: np.datetime64) -> np.datetime64:
    return b if np.isnat(a) else min(a, b)


def _plain18(values: pa.StringArray):
    """(positions, (18, k) digit values) of the values that are 17 digits and a digit or X (as 10).
    Digits are laid out one row per character position, so each sum below runs over contiguous
    memory in a small integer type."""
    if len(values) == 0 or values.null_count:
        return None
    offsets, data = value_bytes(values)
    lengths = np.diff(offsets)
    if (lengths == 18).all():  # the usual case: one (n, 18) view of arrow's bytes, no copy
        rows = np.arange(len(values))
        chars = data[offsets[0] : offsets[-1]].reshape(-1, 18)
    else:
        rows = np.flatnonzero(lengths == 18)
        if not len(rows):
            return None
        chars = data[offsets[rows][:, None] + np.arange(18)]
    digits = np.empty((18, len(rows)), np.uint8)
    for start in range(0, len(rows), _BLOCK):  # a block at a time: 3x faster than numpy's transpose
        digits[:, start : start + _BLOCK] = chars[start : start + _BLOCK].T
    digits -= np.uint8(48)  # other bytes wrap around above 9
    x = digits[17] == ord("X") - 48
    digits[17][x] = 10
    ok = (digits[:17].max(axis=0) <= 9) & (digits[17] <= 10)
    return (rows, digits) if ok.all() else (rows[ok], digits[:, ok])


_BLOCK = 1 << 16  # IDs per block of the transposition (1 MB: it stays in the cache)


def _number(d: np.ndarray, start: int, stop: int, dtype=np.int32) -> np.ndarray:
    """The decimal number written by digit rows start..stop-1."""
    out = np.zeros(d.shape[1], dtype)
    for row in d[start:stop]:
        out *= 10
        out += row
    return out


def _fill(out: ParsedIds, rows: np.ndarray, d: np.ndarray, today: dt.date) -> None:
    """Fill `out` at `rows` from (18, k) digit values (the last one 10 for X)."""
    year, month, day = _number(d, 6, 10), _number(d, 10, 12), _number(d, 12, 14)
    inside = (year >= _FIRST_YEAR) & (year <= today.year) & (month >= 1) & (month <= 12) & (day >= 1)
    inside &= day <= 31
    cell = year  # (year - 1900) * 372 + (month - 1) * 31 + (day - 1), in place
    cell -= _FIRST_YEAR
    cell *= 372
    month *= 31
    cell += month
    cell += day
    cell -= 32
    cell[~inside] = 0
    birth = _calendar(today.year)[cell]
    real = inside & ~np.isnat(birth)
    future = real & (birth > np.datetime64(today, "D"))
    if future.any():
        out.until_day = _earliest(out.until_day, birth[future].min())
    real &= ~future
    if not real.all():
        out.problem[rows[~real]] = "出生日期部分不存在"
        out.malformed[rows[~real]] = True
        rows, d, birth = rows[real], d[:, real], birth[real]
    weighted = np.zeros(d.shape[1], np.uint16)  # at most 9 * 100
    for row, weight in zip(d[:17], _WEIGHTS.tolist()):
        weighted += row * np.uint8(weight)  # at most 9 * 10: fits a byte
    at = slice(None) if len(rows) == len(out.key) else rows  # nearly always every value, in order
    out.checksum_ok[at] = _MOD_11[weighted] == _CHECK_VALUE_OF_REMAINDER_INV[d[17]]
    # 17 digits as two halves that fit in int32 (half the bytes for every pass of `_number`),
    # then the key computed in place
    key = out.key if isinstance(at, slice) else np.empty(len(rows), np.int64)
    np.multiply(_number(d, 0, 9), 10**8, out=key, dtype=np.int64)
    key += _number(d, 9, 17)
    key *= 11
    key += d[17]
    if key is not out.key:
        out.key[at] = key
    out.male[at] = d[16] & 1
    out.birth[at] = birth


_FIRST_YEAR = 1900  # earlier birth dates are taken as typing errors


@functools.cache
def _calendar(last_year: int) -> np.ndarray:
    """Every (year, month, day) from 1900 to `last_year` as a day, laid out 31 days a month and 12
    months a year; NaT for days that do not exist (02-30). A million IDs hold a few thousand
    birth dates: each ID looks its date up instead of doing calendar arithmetic."""
    year, month, day = np.meshgrid(
        np.arange(_FIRST_YEAR, last_year + 1), np.arange(1, 13), np.arange(1, 32), indexing="ij"
    )
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    real = day <= _MONTH_DAYS[month] + (leap & (month == 2))
    days = _days_from_civil(year, month, day).view("datetime64[D]")
    return np.where(real, days, np.datetime64("NaT")).ravel()


_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of valid dates, in integer arithmetic (H. Hinnant's algorithm)."""
    y = y - (m <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * np.where(m > 2, m - 3, m + 9) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return (era * 146097 + doe - 719468).astype(np.int64)


# The check character for remainder r is "10X98765432"[r]; as a value (X = 10) -> its remainder.
_CHECK_VALUE_OF_REMAINDER_INV = np.array([(12 - v) % 11 for v in range(11)], dtype=np.uint8)
_MOD_11 = (np.arange(1024) % 11).astype(np.uint8)  # a weighted sum's remainder, looked up


def text_of(keys: np.ndarray) -> list[str]:
    """Canonical ID text back from int64 keys (for display, masked, of the few rows in findings)."""
    keys = np.asarray(keys, dtype=np.int64)
    body, check = np.divmod(keys, 11)
    return [f"{b:017d}{'X' if c == 10 else c}" for b, c in zip(body.tolist(), check.tolist())]


def _check_values(last: np.ndarray) -> np.ndarray:
    chars = last.astype("U1")
    vals = np.zeros(len(chars), dtype=np.int64)
    x = chars == "X"
    vals[~x] = chars[~x].astype(np.int64)
    vals[x] = 10
    return vals
