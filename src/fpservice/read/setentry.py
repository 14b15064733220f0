"""The whole ledger set as one cache entry: the frames of every ledger type as joined (persons
numbered), with the accounts and findings of every file. A run over files that have not changed
since the last one (what cron does before each deadline) then hashes the files and maps an
entry per ledger type, instead of loading an entry per file, joining them and numbering persons
again: at a million persons, 0.4 s instead of 2.2 s.

The key is every file's name and content (and what the per-file entries are keyed by: the code,
the encoding asked for, units.csv, the header aliases): one changed byte anywhere misses it, and
the reads of the files that did not change are then served from the set they were last stored
in. Each part is checked as a file's entry is (checksum, Arrow's validation, the columns and
types a read gives); a part that fails means the set is read as if there were no such entry,
and written anew.

A read's rows are stored once: a read of a set gets no entry of its own, only a small document
(`ROWS`) that says where its rows are in the set, the categories its own frame had, and its
accounts and findings. The rows of a set are its files' rows in file order, so a read's rows are
a range per file. (Before, every read was stored whole as well: at a million persons the first
run wrote 470 MB of entries instead of 247 MB.)
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pandas as pd

from fpservice.read import assemble
from fpservice.read.cache import LedgerCache, finding_fields, finding_from
from fpservice.read.contents import digest
from fpservice.read.ledgerset import LedgerSet, account_from
from fpservice.read.validate import text_dtype
from fpservice.schema import LEDGER_TYPES

SUFFIX = ".set"  # the parts' files, beside the .arrow entries of single reads
ROWS = ".rows"  # where a read's rows are in a set (a JSON document)


def key_of(cache: LedgerCache, names: list[str], contents: list[str | None], context: str) -> str | None:
    """The key of the files, by name and content; None when a file could not be read."""
    if None in contents:
        return None
    text = "\0".join(f"{name}\0{c}" for name, c in zip(names, contents))
    return cache.key(digest(text.encode("utf-8", "surrogatepass")), "ledger set", context)


def get(
    cache: LedgerCache, key: str, ledgers: LedgerSet, today, columns: dict[str, set[str]] | None = None
) -> LedgerSet | None:
    """The set stored at `key`, into `ledgers` (its root, units and units.csv findings), or None.
    With `columns`, each frame holds only those of its columns (`ledgers.columns` says so)."""
    doc = cache.get_document(key, today)
    if doc is None:
        return None
    try:
        accounts = [account_from(a) for a in doc["accounts"]]
        findings = [finding_from(f) for f in doc["findings"]]
        seen = doc["villages"]
        if not all(isinstance(v, str) for v in seen):
            raise ValueError("villages")
    except (ValueError, KeyError, TypeError):
        return cache.discard_document(key)
    frames = _frames(cache, key, {a.file for a in accounts}, today, columns)
    if frames is None:
        return None
    if not ledgers.units.listed:
        ledgers.units.add_seen(sorted(seen))
    ledgers.frames, ledgers.accounts = frames, accounts
    ledgers.findings = ledgers.findings + findings
    ledgers.key, ledgers.valid_days = key, tuple(doc["valid_days"])
    ledgers.columns = columns
    return ledgers


def with_every_column(cache: LedgerCache, ledgers: LedgerSet, today) -> LedgerSet | None:
    """A set `get` gave with some columns, with all of them: its parts read again whole. None
    when they can no longer be read (damaged, or removed since)."""
    if ledgers.columns is None:
        return ledgers
    frames = _frames(cache, ledgers.key, {a.file for a in ledgers.accounts}, today, None)
    return None if frames is None else replace(ledgers, frames=frames, columns=None)


def _frames(cache: LedgerCache, key: str, files: set[str], today, columns) -> dict | None:
    """The parts stored at `key`, a frame per ledger type (only `columns`, when given), each
    checked as a read's frame is; None when one is missing or damaged (that one is discarded)."""
    names = list(LEDGER_TYPES)
    with ThreadPoolExecutor(max_workers=2) as pool:  # Arrow validates and converts without the GIL
        hits = list(pool.map(lambda ledger: _get_part(cache, key, ledger, today, columns), names))
    frames = {}
    for ledger, hit in zip(names, hits):
        frame = _checked(cache, key, ledger, hit, files | {"-"}, columns and columns[ledger])
        if frame is None:
            return None
        frames[ledger] = frame
    return frames


def put(cache: LedgerCache, key: str, ledgers: LedgerSet, found: list, seen: set) -> None:
    """Store the set read: its frames, then the document that names its files' accounts and
    findings (`found`: the files' own, not units.csv's) and the villages seen. The entries are
    written in that order, so a set whose document is there has had its frames written."""
    days = list(ledgers.valid_days)
    for ledger, frame in ledgers.frames.items():
        meta = {"valid_days": days}
        if not len(frame):  # Arrow keeps no dictionary for no rows: the categories are kept here
            meta["categories"] = {
                name: frame[name].cat.categories.tolist()
                for name in frame.columns
                if isinstance(frame[name].dtype, pd.CategoricalDtype)
            }
        cache.put(_part(cache, key, ledger), frame, meta, SUFFIX)
    cache.put_document(
        key,
        {
            "valid_days": days,
            "accounts": [vars(a) for a in ledgers.accounts],
            "findings": [finding_fields(f) for f in found],
            "villages": sorted(seen),
        },
    )


def _get_part(cache: LedgerCache, key: str, ledger: str, today, columns: dict[str, set[str]] | None):
    return cache.get(_part(cache, key, ledger), today, SUFFIX, columns and columns[ledger])


def _part(cache: LedgerCache, key: str, ledger: str) -> str:
    return cache.key(key, ledger, "ledger set part")


def _empty_categories(frame: pd.DataFrame, categories) -> None:
    """The categories of a part without rows, as `put` kept them."""
    if categories is None:
        return
    if len(frame) or not isinstance(categories, dict):
        raise ValueError("categories")
    for name, values in categories.items():
        if name not in frame:
            raise ValueError("categories")
        frame[name] = pd.Categorical.from_codes([], dtype=_noted_dtype(values))


def _noted_dtype(values) -> pd.CategoricalDtype:
    """The text categories a document noted for a column. Raises ValueError when they are not
    a list of texts (damage)."""
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValueError("categories")
    return text_dtype(values)


def point(cache: LedgerCache, key: str, ledgers: LedgerSet, kept: list) -> list:
    """Note where the rows of each read in `kept` ((its key, frame, entry meta)) are in the set
    just stored at `key`. -> the reads whose rows are not where they should be, to be stored
    whole instead (none, unless the set's frames are not in file order)."""
    bounds = {ledger: _file_bounds(frame["file"]) for ledger, frame in ledgers.frames.items()}
    left = []
    for read_key, frame, meta in kept:
        rows = _rows_in(frame["file"], bounds[meta["accounts"][0]["ledger"]])
        if rows is None:
            left.append((read_key, frame, meta))
            continue
        categories = {
            name: frame[name].cat.categories.tolist()
            for name in frame.columns
            if isinstance(frame[name].dtype, pd.CategoricalDtype)
        }
        read = {name: value for name, value in meta.items() if name != "valid_days"}
        doc = {
            "valid_days": meta["valid_days"],
            "set": key,
            "rows": rows,
            "categories": categories,
            "read": read,
        }
        cache.put_document(rows_key(cache, read_key), doc, ROWS)
    return left


class Stored:
    """The parts of sets that reads' rows are taken from, each loaded once (reads run on
    threads: the first to need a part loads it, the others wait for it)."""

    def __init__(self):
        self._parts: dict[tuple[str, str], pd.DataFrame | None] = {}
        self._lock = threading.Lock()

    def rows_of(self, cache: LedgerCache, read_key: str, today):
        """-> (frame, meta) as a read's own entry would give them, from the set its rows are in;
        None when there is no note of them, or the set is gone or damaged."""
        key = rows_key(cache, read_key)
        doc = cache.get_document(key, today, ROWS)
        if doc is None:
            cache.misses += 1
            return None
        try:
            meta = {**doc["read"], "valid_days": doc["valid_days"]}  # (the days get_document checked)
            rows, categories = doc["rows"], doc["categories"]
            ledger = meta["accounts"][0]["ledger"]
            if ledger not in LEDGER_TYPES or not isinstance(categories, dict):
                raise ValueError("ledger")
            whole = self._part(cache, doc["set"], ledger, today)
            if whole is None:  # the set was removed, or is damaged (and said so): read again
                cache.misses += 1
                return None
            frame = _taken(whole, rows, categories)
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            return cache.discard_document(key, ROWS)
        cache.hits += 1
        return frame, meta

    def _part(self, cache: LedgerCache, key: str, ledger: str, today) -> pd.DataFrame | None:
        if not isinstance(key, str):
            raise ValueError("set")
        with self._lock:
            if (key, ledger) not in self._parts:
                self._parts[(key, ledger)] = _whole_part(cache, key, ledger, today)
            return self._parts[(key, ledger)]


def _whole_part(cache: LedgerCache, key: str, ledger: str, today) -> pd.DataFrame | None:
    return _checked(cache, key, ledger, _get_part(cache, key, ledger, today, None), None)


def _checked(cache: LedgerCache, key: str, ledger: str, hit, files: set[str] | None, only=None):
    """A part as `_get_part` gave it, checked as a read's frame is (`files`: the names its rows
    may carry, None: any); None when it is missing, or damaged (then discarded)."""
    if hit is None:
        return None
    frame, meta = hit
    try:
        _empty_categories(frame, meta.get("categories"))
        assemble.text_categories(frame)
        names = set(frame["file"].cat.categories) if files is None else files
        assemble.check_frame(frame, ledger, names, numbered=True, only=only)
    except (ValueError, KeyError, TypeError, AttributeError):
        cache.discard(_part(cache, key, ledger), SUFFIX)
        return None
    return frame


def _file_bounds(files: pd.Series) -> dict[str, tuple[int, int]]:
    """Where each file's rows are in a set's frame (its rows are file by file, in the order of
    the file categories); empty when they are not."""
    codes = files.cat.codes.to_numpy()
    if len(codes) and (codes[0] < 0 or not (codes[1:] >= codes[:-1]).all()):
        return {}
    ends = np.cumsum(np.bincount(codes, minlength=len(files.cat.categories))).tolist()
    starts = [0, *ends[:-1]]
    return {rel: (a, b) for rel, a, b in zip(files.cat.categories, starts, ends)}


def _rows_in(files: pd.Series, bounds: dict[str, tuple[int, int]]) -> list | None:
    """A read's rows as [file, start, stop] ranges of a set's rows, in the read's order; None
    when a file's rows are not one run in the read or not as many in the set."""
    codes = files.cat.codes.to_numpy()
    if not len(codes):
        return []
    firsts = np.concatenate([[0], np.flatnonzero(codes[1:] != codes[:-1]) + 1])
    counts = np.diff(np.append(firsts, len(codes))).tolist()
    runs = codes[firsts].tolist()
    if len(set(runs)) != len(runs):
        return None
    out = []
    for code, count in zip(runs, counts):
        rel = files.cat.categories[code]
        if rel not in bounds or bounds[rel][1] - bounds[rel][0] != count:
            return None
        out.append([rel, *bounds[rel]])
    return out


def _taken(whole: pd.DataFrame, rows: list, categories: dict) -> pd.DataFrame:
    """A read's frame from a set's: its rows, without the persons' numbers, with the categories
    its own frame had. Raises ValueError when the rows are not that read's (damage)."""
    files = whole["file"]
    codes = files.cat.codes.to_numpy()
    spans = []
    for rel, start, stop in rows:
        if not isinstance(rel, str) or rel not in files.cat.categories:
            raise ValueError("rows")
        if not (isinstance(start, int) and isinstance(stop, int) and 0 <= start <= stop <= len(whole)):
            raise ValueError("rows")
        if not (codes[start:stop] == files.cat.categories.get_loc(rel)).all():
            raise ValueError("rows")
        spans.append((start, stop))
    if len(spans) == 1:
        frame = whole.iloc[spans[0][0] : spans[0][1]]
    else:
        positions = [np.arange(a, b, dtype=np.int64) for a, b in spans]
        frame = whole.take(np.concatenate(positions) if positions else np.zeros(0, np.int64))
    frame = frame.drop(columns="person", errors="ignore").reset_index(drop=True)
    coded = [name for name in frame.columns if isinstance(frame[name].dtype, pd.CategoricalDtype)]
    if sorted(coded) != sorted(categories):
        raise ValueError("categories")
    for name in coded:
        column = frame[name]
        own = column.cat.set_categories(_noted_dtype(categories[name]).categories)
        if (own.isna() != column.isna()).any():  # a value the read's categories do not hold
            raise ValueError(name)
        frame[name] = own
    return frame


def rows_key(cache: LedgerCache, read_key: str) -> str:
    return cache.key(read_key, "rows in a set", "ledger set rows")
