"""glibc's allocator, where the C library is glibc: the command line tells it to keep freed
blocks (cli), a Dask worker gives them back past its spill threshold (heaptrim)."""

from __future__ import annotations

import ctypes


def function(name: str):
    """glibc's function `name`, or None where the C library has none (musl, macOS, Windows)."""
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError, TypeError):  # TypeError: Windows loads no library by None
        return None
