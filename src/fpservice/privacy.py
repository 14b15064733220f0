"""Masking of personal values. Nothing fpservice prints or writes shows a full ID or name."""

from __future__ import annotations


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
    """Non-personal values are shown as written, but never at unbounded length."""
    v = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in str(value)[: limit * 2])
    return v if len(v) <= limit else v[: limit - 1] + "…"
