"""Honest small numbers: the 95 % Wilson score interval of a rate.

A village at 2/3 and a township at 667/1000 have the same rate and very different certainty.
The Wilson interval behaves well at 0 %, 100 % and small denominators, where the textbook
normal interval does not.
"""

from __future__ import annotations

import numpy as np

Z95 = 1.959963984540054


def wilson(numerator, denominator, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """(low, high) arrays; NaN where the denominator is 0."""
    k = np.asarray(numerator, dtype="float64")
    n = np.asarray(denominator, dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        z2n = z * z / n
        center = (p + z2n / 2) / (1 + z2n)
        half = z / (1 + z2n) * np.sqrt(p * (1 - p) / n + z2n / (4 * n))
        low, high = np.clip(center - half, 0, 1), np.clip(center + half, 0, 1)
    low[n == 0] = np.nan
    high[n == 0] = np.nan
    return low, high
