"""Masking of personal values. Nothing fpservice prints or writes shows a full ID or name."""

from __future__ import annotations

import re

# An ID number (15 or 18 characters) or a mobile number (11 digits from 13 to 19) typed where
# text was asked for; a unit code (12 digits, or a code typed a digit short) stays shown
_PERSONAL_DIGITS = re.compile(r"(?<!\d)(?:1[3-9]\d{9}|\d{13,}[Xx]?)(?![\dXx])")


def mask_id(value: str) -> str:
    """`330205198001011234` -> `330205********1234`; short or odd values keep less."""
    v = str(value)[:40]
    n = len(v)
    if n >= 15:
        return v[:6] + "*" * (n - 10) + v[-4:]
    if n >= 6:
        return v[:2] + "*" * (n - 3) + v[-1:]
    return "*" * n


def mask_name(value: str) -> str:
    """`张三` -> `张*`, `欧阳娜娜` -> `欧***`."""
    v = str(value)[:20]
    if not v:
        return v
    return v[0] + "*" * max(1, len(v) - 1)


def mask_text(value: str, limit: int = 40) -> str:
    """Non-personal values are shown as written, but never at unbounded length, and an ID or
    mobile number inside them is masked (`电话13812345678` -> `电话13********8`)."""
    v = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in str(value)[: limit * 2])
    v = _PERSONAL_DIGITS.sub(lambda m: mask_id(m.group()), v)
    return v if len(v) <= limit else v[: limit - 1] + "…"


def mask_number(value: str) -> str:
    """A long number in scientific notation with at most 6 significant digits, as Excel shows it
    in a narrow cell (`4.52123197005268E+17` -> `4.52123E+17`): an ID's region, nothing more."""
    try:
        return f"{float(value):.5E}"
    except (TypeError, ValueError, OverflowError):
        return mask_text(value)
