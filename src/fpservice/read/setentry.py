"""The whole ledger set as one cache entry: the frames of every ledger type as joined (persons
numbered), with the accounts and findings of every file. A run over files that have not changed
since the last one (what cron does before each deadline) then hashes the files and maps an
entry per ledger type, instead of loading an entry per file, joining them and numbering persons
again: at a million persons, 0.4 s instead of 2.2 s.

The key is every file's name and content (and what the per-file entries are keyed by: the code,
the encoding asked for, units.csv, the header aliases): one changed byte anywhere misses it, and
the per-file entries then serve the files that did not change. Each part is checked as a file's
entry is (checksum, Arrow's validation, the columns and types a read gives); a part that fails
means the set is read as if there were no such entry, and written anew.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pandas as pd

from fpservice.read import assemble
from fpservice.read.cache import LedgerCache, finding_fields, finding_from
from fpservice.read.contents import digest
from fpservice.read.ledgerset import LedgerSet, account_from
from fpservice.read.validate import text_dtype
from fpservice.schema import LEDGER_TYPES

SUFFIX = ".set"  # the parts' files, beside the .arrow entries of single reads


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
        if hit is None:
            return None
        frame, meta = hit
        try:
            _empty_categories(frame, meta.get("categories"))
            assemble.text_categories(frame)
            only = columns and columns[ledger]
            assemble.check_frame(frame, ledger, files | {"-"}, numbered=True, only=only)
        except (ValueError, KeyError, TypeError, AttributeError):
            cache.discard(_part(cache, key, ledger), SUFFIX)
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
        if name not in frame or not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise ValueError("categories")
        frame[name] = pd.Categorical.from_codes([], dtype=text_dtype(values))
