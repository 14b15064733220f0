"""The reads put together: accounts and findings file by file in the order the files were found,
one frame per ledger type with its rows in file order, every person numbered across ledgers."""

from __future__ import annotations

import datetime as dt
import functools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from fpservice import units as units_mod
from fpservice.persons import first_seen
from fpservice.read.ledgerset import ReadResult
from fpservice.read.validate import text_dtype, validate
from fpservice.schema import LEDGER_TYPES


def by_file(results: list[tuple[ReadResult, str | None]], rels: list[str]):
    """-> accounts and findings file by file in the order the files were found, the frames of
    each ledger type in the order of the reads, and the villages seen."""
    parts: dict[str, list[pd.DataFrame]] = {k: [] for k in LEDGER_TYPES}
    account_of, findings_of, seen = {}, {}, set()
    for got, _ in results:
        for account in got.accounts:
            account_of[account.file] = account
        for finding in got.findings:
            findings_of.setdefault(finding.file, []).append(finding)
        seen |= got.villages
        if got.frame is not None:
            parts[got.accounts[0].ledger].append(got.frame)
    found = [f for rel in rels for f in findings_of.pop(rel, [])]
    found += [f for rest in findings_of.values() for f in rest]
    return [account_of[rel] for rel in rels], found, parts, seen


def frames(
    parts: dict[str, list[pd.DataFrame]], rank: dict[str, int], threads: int = 2
) -> dict[str, pd.DataFrame]:
    """One frame per ledger type, rows in file order, every person numbered (`person`) on
    `threads` threads (see persons.first_seen)."""
    orders = {k: _file_order(v, rank) for k, v in parts.items()}
    with_id = [k for k in parts if "pid" in (parts[k][0] if parts[k] else empty_frame(k))]
    # Persons are numbered on a thread of their own while the other columns are joined (pandas
    # hashes without the GIL). Measured at a million persons: the warm run (what cron does)
    # takes 2.09 s with it, 2.34 s without.
    keys = {k: ([f["pid"].to_numpy() for f in parts[k]], orders[k]) for k in with_id}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="fpservice-persons") as pool:
        numbering = pool.submit(_persons, keys, threads)
        skip = {k: "pid" for k in with_id}
        frames = {k: _concat(k, v, orders[k], rank, skip.get(k)) for k, v in parts.items()}
        ids, numbers = numbering.result()
    for k in with_id:  # a frame of its own (one may be a read's), its columns in the contract's order
        joined = frames[k]
        columns = {name: ids[k] if name == "pid" else joined[name] for name in empty_frame(k).columns}
        frames[k] = pd.DataFrame({**columns, "person": numbers[k]}, copy=False)
    return frames


def _persons(parts: dict[str, tuple[list[np.ndarray], np.ndarray | None]], threads: int):
    """From each ledger's ID numbers (int64 keys), read by read, and the order its joined frame
    will have (see _file_order): -> each ledger's keys in that order, and each row's person
    number (see persons.first_seen), the persons ledger's first. The keys of all ledgers are
    joined once, in one array that each ledger's keys are a view of."""
    sizes = [sum(map(len, joined)) for joined, _ in parts.values()]
    keys = np.empty(sum(sizes), dtype=np.int64)
    bounds = np.cumsum([0, *sizes]).tolist()
    ids = {}
    for (k, (joined, order)), a, b in zip(parts.items(), bounds, bounds[1:]):
        ids[k] = keys[a:b]
        if order is None:
            np.concatenate(joined or [keys[:0]], out=ids[k])
        else:
            np.take(np.concatenate(joined), order, out=ids[k])
    numbers = first_seen(keys, threads)
    return ids, {k: numbers[a:b] for k, a, b in zip(parts, bounds, bounds[1:])}


def common_days(windows) -> tuple[str | None, str | None]:
    firsts = [a for a, _ in windows if a]
    untils = [b for _, b in windows if b]
    return (max(firsts) if firsts else None, min(untils) if untils else None)


def _concat(
    key: str, frames: list[pd.DataFrame], order: np.ndarray | None, rank: dict[str, int], skip=None
) -> pd.DataFrame:
    """One frame per ledger type, its rows taken in `order` (see _file_order), its file categories
    in the order the files were found (`rank`).
    Categorical columns (file, unit, …) keep their codes: the categories of all files are united
    first, so pandas does not fall back to strings. Text categories are sorted in every file and
    stay sorted when united: how files were grouped into reads does not show. The column `skip`
    is left out of a frame joined here (its caller joins it), not out of one read's frame."""
    if not frames:
        return empty_frame(key).copy()
    if len(frames) == 1 and order is None:
        return frames[0]
    columns = {}
    for name in frames[0].columns:
        if name == skip:
            continue
        parts = [f[name].array for f in frames]
        first = parts[0]
        if isinstance(first.dtype, pd.CategoricalDtype):
            # A vocabulary's categories are the same, in the same order, in every file: the codes
            # line up as they are. Unit codes differ from file to file and are united first.
            if all(p.dtype is first.dtype or p.categories.equals(first.categories) for p in parts):
                codes = np.concatenate([p.codes for p in parts])
                column = pd.Categorical.from_codes(codes, dtype=first.dtype)
            else:
                column = union_categoricals(parts, sort_categories=True)
        else:  # arrays of one type: no index to align, unlike pd.concat
            column = type(first)._concat_same_type(parts)
        columns[name] = column if order is None else column.take(order)
    file = columns["file"]
    columns["file"] = file.reorder_categories(sorted(file.categories, key=rank.__getitem__))
    return pd.DataFrame(columns, copy=False)  # no copy into 2-D blocks: columns stay as built


def _file_order(frames: list[pd.DataFrame], rank: dict[str, int]) -> np.ndarray | None:
    """Positions that put the joined rows of the frames file by file in the order the files were
    found, or None when they are in it already (as they are unless a batch and a file read alone,
    or two batches, interleave). A file's rows are together and in line order in its frame."""
    ranks = [_file_ranks(f, rank) for f in frames]
    codes = [f["file"].cat.codes.to_numpy() for f in frames]
    # A frame of one file (every large read) stands for its rows by that file's rank alone: only
    # batches' rows are looked at one by one, unless the frames are out of order
    runs = [r[:1] if len(r) == 1 else r[c] for r, c in zip(ranks, codes) if len(c)]
    if not runs or _ascending(np.concatenate(runs)):
        return None
    return np.argsort(np.concatenate([r[c] for r, c in zip(ranks, codes)]), kind="stable")


def _file_ranks(frame: pd.DataFrame, rank: dict[str, int]) -> np.ndarray:
    """The rank of each of the frame's file categories."""
    return np.array([rank[c] for c in frame["file"].cat.categories], dtype=np.int64)


def _ascending(values: np.ndarray) -> bool:
    return bool((values[1:] >= values[:-1]).all())


@functools.cache
def empty_frame(key: str) -> pd.DataFrame:
    """A ledger type with no file: no rows, but every column with its type."""
    columns = validate(
        LEDGER_TYPES[key], "", {}, np.zeros(0, np.int64), {}, units_mod.empty(), dt.date.today()
    )[0]
    return pd.DataFrame({"file": pd.Categorical.from_codes([], ["-"]), **columns}, copy=False)


def text_categories(frame: pd.DataFrame) -> None:
    """Categories as text again where Arrow gave them back as objects (an empty category list)."""
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.CategoricalDtype) and column.cat.categories.dtype != "str":
            categories = text_dtype(column.cat.categories)
            frame[name] = pd.Categorical.from_codes(column.cat.codes, dtype=categories)


def check_frame(
    frame: pd.DataFrame, ledger: str | None, files: set[str], numbered: bool = False, only=None
) -> None:
    """The rows of an entry have exactly the columns and types a read of its ledger type gives
    (the frames of a type are joined column by column, their categories by position); with
    `numbered`, the joined frame of a ledger set, whose persons carry their numbers too; with
    `only`, those of the columns that are in it."""
    if ledger is None:
        raise ValueError("rows without a ledger type")
    expected = empty_frame(ledger)
    columns = list(expected.columns)
    if numbered and "pid" in expected:
        columns.append("person")
    if only is not None:
        columns = [name for name in columns if name in only]
    if "person" in columns and (
        frame.get("person") is None or frame["person"].dtype != np.int32 or (frame["person"] < 0).any()
    ):
        raise ValueError("person")
    if list(frame.columns) != columns:
        raise ValueError("columns")
    for name in expected.columns:
        if name not in frame:  # left out by `only`
            continue
        want, got = expected[name].dtype, frame[name].dtype
        if not isinstance(want, pd.CategoricalDtype):
            if got != want:
                raise ValueError(name)
        elif not isinstance(got, pd.CategoricalDtype) or got.ordered != want.ordered:
            raise ValueError(name)
        elif name == "file":  # the files of this read, by name
            if not set(got.categories) <= files:
                raise ValueError(name)
        elif len(want.categories) and not got.categories.equals(want.categories):  # a vocabulary
            raise ValueError(name)
