"""Work spread over a few threads. numpy, pandas and Arrow let go of the GIL in their passes
over millions of rows, so such passes (counts, checks, buckets of keys) run side by side on the
cores. A Dask worker, which has one thread, asks for one: then nothing is started."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def mapped(fn: Callable[[T], R], items: Iterable[T], threads: int, name: str) -> list[R]:
    """`fn` of each item, in the items' order, on up to `threads` threads (named fpservice-`name`),
    or in this thread when one will do."""
    items = list(items)
    if threads <= 1 or len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"fpservice-{name}") as pool:
        return list(pool.map(fn, items))
