"""Persons as dense numbers: every ID number across all ledgers gets one small integer at load,
so that "has this person a service?" or "how many distinct persons has a unit?" is a bitmap
over those numbers, not a join or a hash of strings."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fpservice.threads import mapped

# A million keys or more are numbered bucket by bucket. One hash table for all of them is far
# larger than the processor's caches, and every key looks into it at a random place: a cache
# miss per key, most of the time numbering takes. Split by a hash of the key into 64 buckets,
# each bucket's table stays in the caches. Keys of a district of 2M persons (10.7M keys): one
# table 1.06 s, buckets 0.52 s on two threads (0.70 s on one); 1M persons (5.7M keys): 0.32 s
# against 0.25 s. Fewer keys gain nothing.
_BUCKETED = 1 << 20
_BUCKET_BITS = 6
_SPREAD = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: the top bits depend on every bit


def first_seen(keys: np.ndarray, threads: int = 2) -> np.ndarray:
    """Each key's number in order of first appearance (pandas.factorize's codes), as int32. The
    loader numbers the keys of all ledgers joined, the persons ledger's first: its row i is
    person i, and an ID has one number in every ledger."""
    if len(keys) < _BUCKETED:
        return pd.factorize(keys, size_hint=len(keys))[0].astype(np.int32)
    n, buckets = len(keys), 1 << _BUCKET_BITS
    spread = keys.view(np.uint64) * _SPREAD
    spread >>= np.uint64(64 - _BUCKET_BITS)  # (in place: one array of n the size of the keys, not two)
    bucket = spread.astype(np.uint8)
    del spread
    order = np.argsort(bucket, kind="stable")  # a radix sort: each bucket's rows together, in order
    ends = np.cumsum(np.bincount(bucket, minlength=buckets)).tolist()
    starts = [0, *ends[:-1]]
    del bucket
    provisional = np.empty(n, dtype=np.int32)  # a key's number within its bucket

    # The passes that look keys and numbers up at random places (a bucket's keys gathered, its
    # numbers put back) are each bucket's own, on the threads too: the 5.7M keys of a million
    # persons took 0.15-0.16 s where they took 0.20-0.21 s gathered all at once (medians of seven).
    def number(i: int) -> tuple[np.ndarray, int]:
        """Number bucket i's keys; -> where each of them is first seen (where its code is above
        every code before it), and how many there are. pandas hashes without the GIL: buckets
        overlap on threads."""
        start, end = starts[i], ends[i]
        if start == end:
            return order[:0], 0
        rows = order[start:end]
        codes = pd.factorize(keys[rows])[0]
        provisional[start:end] = codes
        new = np.empty(end - start, dtype=bool)
        new[0] = True
        np.greater(codes[1:], np.maximum.accumulate(codes)[:-1], out=new[1:])
        return rows[new], int(codes.max()) + 1

    numbered = mapped(number, range(buckets), threads, "numbering")
    offsets = np.cumsum([0, *(count for _, count in numbered)]).tolist()  # numbers before each bucket's
    first = np.concatenate([firsts for firsts, _ in numbered])  # each key's first row, by its number
    seen = np.zeros(n, dtype=bool)
    seen[first] = True
    final = (np.cumsum(seen, dtype=np.int32) - 1)[first]  # the keys in order of first appearance
    numbers = np.empty(n, dtype=np.int32)

    def put(i: int) -> None:
        start, end = starts[i], ends[i]
        numbers[order[start:end]] = final[provisional[start:end] + np.int32(offsets[i])]

    mapped(put, range(buckets), threads, "numbering")
    return numbers


def has_person(persons: np.ndarray, people: np.ndarray, dense: bool = False) -> np.ndarray:
    """For rows with `persons` numbers: is the person among `people`? `dense`: `persons` is
    0, 1, 2 … (a ledger of one row per person, in the order persons were numbered), so the
    marks are the answer, with no lookup per row."""
    size = max(len(persons) if dense else int(persons.max(initial=-1)) + 1, int(people.max(initial=-1)) + 1)
    mark = np.zeros(size, dtype=bool)
    mark[people] = True
    return mark[: len(persons)] if dense else mark[persons]
