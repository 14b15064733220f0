"""A cache of validated ledger files, so that the quarterly re-run over unchanged files is fast.

An entry is keyed by the SHA-256 of the file's bytes, its path in the ledger directory, the
encoding asked for, the units it was checked against and the code that checked it (every
module of fpservice, and the versions of the libraries that read and wrote the entry): a
changed byte, a new units.csv or a changed fpservice means a re-parse, never a stale result. An entry holds
the validated rows (Arrow IPC), the findings (values already masked), the row account and the
village codes seen.

One thing depends on the day: an ID whose birth date is after today is invalid. An entry
records the latest birth date it accepted and the earliest it rejected as future, and is used
only on days between the two.

The cache lives outside the ledger directory (input is never written to): $FPSERVICE_CACHE,
else $XDG_CACHE_HOME/fpservice, else ~/.cache/fpservice. It holds the same personal data as
the ledgers (ID keys, dates), so it is private to its user (0700 directory, 0600 files).
Entries not used for 120 days are removed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import os
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.feather as feather

import fpservice
from fpservice.atomicfile import write_atomically
from fpservice.findings import Finding

_UNUSED_DAYS = 120


def default_dir() -> Path:
    if os.environ.get("FPSERVICE_CACHE"):
        return Path(os.environ["FPSERVICE_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fpservice"


@functools.cache
def _code_fingerprint() -> str:
    """Every module of fpservice and the versions of the libraries an entry passes through.
    Derived, not listed: the masking of a value stored in a finding, a schema alias or a reader
    fix changes the key without anyone remembering to add a file to a list."""
    package = Path(fpservice.__file__).parent
    h = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        h.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    versions = (sys.version, np.__version__, pd.__version__, pa.__version__)
    h.update("\0".join(versions).encode())
    return h.hexdigest()[:16]


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LedgerCache:
    """Entries under one directory. Any problem with the cache (unwritable, a damaged entry) only
    means the file is read again: a cache never makes a run fail.

    Entries are written by a thread of their own while the run goes on (the report is computed
    meanwhile); `close` waits for them."""

    # A file smaller than this is parsed faster than its entry is read back (a few ms either way).
    MIN_BYTES = 64 << 10

    def __init__(self, directory: Path | str, min_bytes: int = MIN_BYTES):
        self.directory = Path(directory)
        self.min_bytes = min_bytes
        self._code = _code_fingerprint()
        self.hits = self.misses = 0
        self._writer: ThreadPoolExecutor | None = None
        self._writing: dict[Path, Future] = {}

    def worth_it(self, size: int) -> bool:
        return size >= self.min_bytes

    def key(self, content: str, rel: str, context: str) -> str:
        return hashlib.sha256("\0".join((self._code, context, rel, content)).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.arrow"

    def get(self, key: str, today: dt.date):
        """-> (frame, meta) or None."""
        path = self._path(key)
        if path in self._writing:  # put by this cache a moment ago: let it land first
            self._writing.pop(path).exception()  # waits; a failed write is only a miss below
        try:
            with pa.memory_map(str(path)) as source:
                table = feather.read_table(source)
            meta = json.loads(table.schema.metadata[b"fpservice"])
        except (OSError, ValueError, KeyError, TypeError, pa.ArrowException):
            self.misses += 1
            return None
        if not holds_on(meta["valid_days"], today):
            self.misses += 1
            return None
        self.hits += 1
        _touch(path)
        return table.to_pandas(), meta

    def put(self, key: str, frame, meta: dict) -> None:
        """Store a validated file. The rows are taken now (the frame may change afterwards) and
        written in the background."""
        try:
            table = pa.Table.from_pandas(frame, preserve_index=False, nthreads=1)  # runs in a worker
            table = table.replace_schema_metadata(
                {**(table.schema.metadata or {}), b"fpservice": json.dumps(meta, ensure_ascii=False)}
            )
        except (TypeError, ValueError, pa.ArrowException):
            return
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fpservice-cache")
        path = self._path(key)
        self._writing[path] = self._writer.submit(_write_entry, path, table)

    def close(self) -> None:
        """Wait until every entry is written."""
        if self._writer is not None:
            self._writer.shutdown(wait=True)
            self._writer = None
            self._writing.clear()

    def get_findings(self, key: str, today: dt.date) -> list[Finding] | None:
        """Findings across files (consistency checks), stored under the key of all the files."""
        try:
            doc = json.loads((self.directory / key[:2] / f"{key}.json").read_text(encoding="utf-8"))
            if not holds_on(doc["valid_days"], today):
                return None
            return [Finding(*f) for f in doc["findings"]]
        except (OSError, ValueError, TypeError, KeyError):
            return None

    def put_findings(self, key: str, findings: list[Finding], valid_days) -> None:
        path = self.directory / key[:2] / f"{key}.json"
        doc = {"valid_days": valid_days, "findings": [finding_fields(f) for f in findings]}
        try:
            text = json.dumps(doc, ensure_ascii=False).encode("utf-8")
            _write_privately(path, text)
        except (OSError, TypeError, ValueError):
            pass

    def prune(self) -> None:
        """Once a day at most: remove entries not used for a while (their files changed, or left
        the directory). Every hit touches its entry, so what cron reads each quarter stays."""
        marker = self.directory / ".pruned"
        now = time.time()
        try:
            if marker.exists() and now - marker.stat().st_mtime < 86400:
                return
            cutoff = now - _UNUSED_DAYS * 86400
            for path in self.directory.glob("*/*"):
                if path.stat().st_mtime < cutoff:
                    path.unlink(missing_ok=True)
            marker.touch(mode=0o600)
        except OSError:
            pass


def holds_on(valid_days, today: dt.date) -> bool:
    """Is a result computed for the days [first, until) still right today? (None: unbounded)"""
    first, until = valid_days
    day = today.isoformat()
    return (first is None or first <= day) and (until is None or day < until)


def _write_entry(path: Path, table: pa.Table) -> None:
    with contextlib.suppress(OSError, pa.ArrowException):  # an entry not written is only a miss
        _write_privately(path, lambda fh: feather.write_feather(table, fh, compression="uncompressed"))


def finding_fields(f: Finding) -> list:
    return [f.code, f.file, f.line, f.column, f.value, f.detail, f.unit]


def _write_privately(path: Path, write) -> None:
    """A reader sees a whole entry or none; only its owner can read it (0600)."""
    _private_dir(path.parent)
    write_atomically(path, write, private=True, durable=False)


def _private_dir(path: Path) -> None:
    for d in (path.parent, path):  # the cache directory, then its fan-out subdirectory
        d.mkdir(mode=0o700, parents=True, exist_ok=True)


def _touch(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.utime(path)
