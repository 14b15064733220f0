"""Citizen ID numbers (公民身份号码, GB 11643), parsed column-wise.

IDs are normalised as SPEC §7 says (15 -> 18 digits, upper-case X, spaces removed), plus what
Excel and hand typing add: full-width digits, a leading apostrophe that forces text.
Each valid ID also gets an int64 key (17 digits * 11 + check value) so that joins and distinct
counts over millions of rows work on integers instead of strings.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

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


def _check_values(last: np.ndarray) -> np.ndarray:
    chars = last.astype("U1")
    vals = np.zeros(len(chars), dtype=np.int64)
    x = chars == "X"
    vals[~x] = chars[~x].astype(np.int64)
    vals[x] = 10
    return vals
