"""Persons numbered across ledgers: the numbers are pandas.factorize's (first appearance), whether
the keys are hashed in one table or bucket by bucket, on one thread or two."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fpservice import persons
from fpservice.persons import first_seen
from fpservice.read.assemble import _file_order, _persons

ledgers = st.lists(st.lists(st.integers(-(2**62), 2**62) | st.integers(0, 40), max_size=60), max_size=5)


@settings(max_examples=100, deadline=None)
@given(ledgers, st.sampled_from([1, 2]), st.booleans())
def test_numbers_are_first_appearance(keys_per_ledger, threads, bucketed):
    ids = [np.array(keys, dtype=np.int64) for keys in keys_per_ledger]
    with pytest.MonkeyPatch.context() as mp:
        if bucketed:  # small inputs through the buckets too
            mp.setattr(persons, "_BUCKETED", 0)
        keys = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        got = first_seen(keys, threads)
    assert got.dtype == np.int32
    assert got.tolist() == pd.factorize(keys)[0].tolist()


def test_a_district_of_keys_in_buckets():
    # Above the size where buckets are used: a persons ledger (each key once, numbered 0, 1, 2 …)
    # and services that repeat most of them and add some unknown IDs.
    rng = np.random.default_rng(7)
    people = rng.choice(10**9, 400_000, replace=False) + 10**17
    services = np.concatenate([rng.choice(people, 900_000), rng.integers(0, 10**18, 1_000)])
    rng.shuffle(services)
    numbers = first_seen(np.concatenate([people, services]))
    assert len(people) + len(services) >= persons._BUCKETED
    assert np.array_equal(numbers[: len(people)], np.arange(len(people)))
    together = pd.factorize(np.concatenate([people, services]))[0]
    assert np.array_equal(numbers, together)
    assert np.array_equal(first_seen(services, threads=1), pd.factorize(services)[0])


def _frame(files: list[str], codes: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"file": pd.Categorical.from_codes(codes, files)})


def test_rows_put_in_file_order_only_when_reads_interleave():
    rank = {"a.csv": 0, "b.csv": 1, "c.csv": 2}
    batch = _frame(["a.csv", "c.csv"], [0, 0, 1])  # a batch of a.csv and c.csv, read together
    alone = _frame(["b.csv"], [0, 0])  # b.csv, read alone, found between them
    assert _file_order([batch, alone], rank).tolist() == [0, 1, 3, 4, 2]
    assert _file_order([_frame(["a.csv", "b.csv"], [0, 1]), _frame(["c.csv"], [0])], rank) is None
    assert _file_order([_frame(["c.csv"], []), _frame(["a.csv"], [0])], rank) is None  # no rows: no order
    assert _file_order([_frame(["b.csv"], [0]), _frame(["a.csv"], [0, 0])], rank).tolist() == [1, 2, 0]
    assert _file_order([], rank) is None


reads = st.lists(st.lists(st.integers(0, 30), max_size=20), max_size=3)  # a ledger's reads' keys


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(reads, st.booleans(), st.randoms()), max_size=4), st.sampled_from([1, 2]))
def test_ledgers_keys_joined_in_order_and_numbered_across_ledgers(ledgers, threads):
    """Each ledger's keys joined read by read and put in its frame's order (when one is given),
    and every row numbered by first appearance across the ledgers, the first ledger's first."""
    parts, expected = {}, {}
    for i, (keys, shuffled, rng) in enumerate(ledgers):
        arrays = [np.array(k, dtype=np.int64) for k in keys]
        joined = np.concatenate(arrays or [np.zeros(0, np.int64)])
        order = None  # (a ledger without rows has no order: _file_order)
        if shuffled and len(joined):
            order = np.array(rng.sample(range(len(joined)), len(joined)), dtype=np.intp)
        parts[f"l{i}"] = (arrays, order)
        expected[f"l{i}"] = joined if order is None else joined[order]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(persons, "_BUCKETED", 0)  # through the buckets, small as the keys are
        ids, numbers = _persons(parts, threads)
    assert list(ids) == list(numbers) == list(parts)
    assert all(np.array_equal(ids[k], expected[k]) and ids[k].dtype == np.int64 for k in parts)
    everyone = np.concatenate([expected[k] for k in parts] or [np.zeros(0, np.int64)])
    assert np.concatenate([numbers[k] for k in parts] or [np.zeros(0, np.int32)]).tolist() == (
        pd.factorize(everyone)[0].tolist()
    )
