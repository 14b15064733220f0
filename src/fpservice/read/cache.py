"""A cache of validated ledger files, so that the quarterly re-run over unchanged files is fast.

An entry is keyed by the xxh3-128 of the file's bytes, its path in the ledger directory, the
encoding asked for, the units it was checked against and the code that checked it (every
module of fpservice, and the versions of the libraries that read and wrote the entry): a
changed byte, a new units.csv or a changed fpservice means a re-parse, never a stale result. An entry holds
the validated rows (Arrow IPC), the findings (values already masked), the row account and the
village codes seen.

An entry is trusted only when it proves itself: it is sealed (`sealed`: a header with the
format version, its kind, its length and a checksum of its key and its bytes), the seal is
checked before Arrow sees a byte, and what Arrow reads is then validated
in full, so a disk that flips a bit, a copy cut short or a file from elsewhere is a damaged
entry: it is discarded, the ledger file read again, and the run says so once (`warnings`).
A damaged entry never crashes a run or changes a number.

One thing depends on the day: an ID whose birth date is after today is invalid. An entry
records the latest birth date it accepted and the earliest it rejected as future, and is used
only on days between the two.

The cache lives outside the ledger directory (input is never written to): $FPSERVICE_CACHE,
else %LOCALAPPDATA%\\fpservice on Windows, else $XDG_CACHE_HOME/fpservice or ~/.cache/fpservice.
It holds the same personal data as the ledgers (ID keys, dates), so it is private to its user
(0700 directory, 0600 files). Entries not used for 120 days are removed. A cache that cannot be
written is said once, and the run goes on without writing it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import importlib
import json
import os
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import xxhash

import fpservice
from fpservice.atomicfile import write_atomically
from fpservice.errors import OutputError, os_reason
from fpservice.findings import CODES, Finding
from fpservice.read.sealed import ARROW, FORMAT, JSON, Damaged, seal, unsealed

_UNUSED_DAYS = 120

DAMAGED = "缓存文件已损坏，已重新读取台帐"

# pyarrow is imported where entries are read and written: making a cache (the command line does,
# before it knows whether there are ledgers to read) loads nothing heavy.


def default_dir() -> Path | None:
    """Where the cache lives unless told: None when there is no home directory to put it in."""
    if os.environ.get("FPSERVICE_CACHE"):
        return Path(os.environ["FPSERVICE_CACHE"])
    if sys.platform == "win32":  # the per-user, non-roaming place Windows keeps for caches
        if os.environ.get("LOCALAPPDATA"):
            return Path(os.environ["LOCALAPPDATA"]) / "fpservice"
        base = None
    else:
        base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            home = Path.home()
        except (RuntimeError, KeyError):  # a service account without a home
            return None
        base = home / ("AppData/Local" if sys.platform == "win32" else ".cache")
    return Path(base) / "fpservice"


def _version(module: str) -> str:
    """A library's version, from the module itself: `importlib.metadata` would cost each run
    50 ms to import. python-calamine tells none: the digest of its compiled module stands for
    it (the same on every machine with the same build, another for any other build)."""
    try:
        got = importlib.import_module(module)
    except ImportError:
        return "-"
    if hasattr(got, "__version__"):
        return str(got.__version__)
    if getattr(got, "__file__", None) is None:
        return f"{got.__name__} -"
    return f"{got.__name__} {xxhash.xxh3_64_hexdigest(Path(got.__file__).read_bytes())}"


@functools.cache
def _code_fingerprint() -> str:
    """Every module of fpservice and the versions of the libraries an entry passes through.
    Derived, not listed: the masking of a value stored in a finding, a schema alias or a reader
    fix changes the key without anyone remembering to add a file to a list."""
    package = Path(fpservice.__file__).parent
    h = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        h.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    versions = (
        sys.version,
        _version("numpy"),
        _version("pandas"),
        _version("pyarrow"),
        xxhash.VERSION,
        _version("python_calamine._python_calamine"),  # reads the workbooks whose sheets are entries
        str(FORMAT),
    )
    h.update("\0".join(versions).encode())
    return h.hexdigest()[:16]


class LedgerCache:
    """Entries under one directory. Any problem with the cache (unwritable, a damaged entry) only
    means the file is read again: a cache never makes a run fail. What went wrong is counted here
    and said once by `warnings`.

    Entries are written by a thread of their own while the run goes on (the report is computed
    meanwhile); `close` waits for them."""

    # A file smaller than this is parsed faster than its entry is read back (a few ms either way).
    MIN_BYTES = 64 << 10

    def __init__(self, directory: Path | str, min_bytes: int = MIN_BYTES):
        self.directory = Path(directory)
        self.min_bytes = min_bytes
        self.hits = self.misses = 0
        self.damaged: list[str] = []  # keys of the entries discarded (appended by reader threads)
        self.unwritable: str | None = None  # why the first write failed; then none is tried
        self._writer: ThreadPoolExecutor | None = None
        self._writing: dict[Path, Future] = {}
        self._lock = threading.Lock()

    def worth_it(self, size: int) -> bool:
        return size >= self.min_bytes

    def key(self, content: str, rel: str, context: str) -> str:
        text = "\0".join((_code_fingerprint(), context, rel, content))
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()

    def _path(self, key: str, suffix: str = ".arrow") -> Path:
        return self.directory / key[:2] / f"{key}{suffix}"

    def get(self, key: str, today: dt.date, suffix: str = ".arrow", columns: set[str] | None = None):
        """-> (frame, meta) or None (no entry, one for other days, or a damaged one). `suffix`
        tells a file's entries (.arrow) from the parts of a whole ledger set (.set); with
        `columns`, the frame holds only those of them the entry has (the rest are neither
        validated nor converted; the checksum still covers the whole entry), and is a view to
        read, not to change: its numbers and dates are the entry's own mapped memory, read-only.
        (Copying them into pandas' blocks was 75 ms of a 1.5 s warm run at a million persons.)"""
        import pyarrow as pa
        import pyarrow.feather as feather

        path = self._path(key, suffix)
        if path in self._writing:  # put by this cache a moment ago: let it land first
            self._writing.pop(path).exception()  # waits; a failed write is only a miss below
        try:
            with pa.memory_map(str(path)) as source:
                mapped = source.read_buffer()
        except (FileNotFoundError, NotADirectoryError):
            self.misses += 1
            return None
        except (OSError, pa.ArrowException):  # unreadable, or empty (nothing to map)
            return self._discard(key, path)
        try:
            table = feather.read_table(pa.BufferReader(unsealed(mapped, key, ARROW)))
            if columns is not None:
                table = table.select([name for name in table.column_names if name in columns])
            table.validate(full=True)  # offsets, dictionary indices, UTF-8: before pandas looks
            meta = json.loads(table.schema.metadata[b"fpservice"])
            if not isinstance(meta, dict) or not _is_days(meta.get("valid_days")):
                raise Damaged("meta")
            frame = table.to_pandas(split_blocks=columns is not None)
        except (Damaged, OSError, ValueError, KeyError, TypeError, IndexError, pa.ArrowException):
            del mapped
            return self._discard(key, path)
        if not holds_on(meta["valid_days"], today):
            self.misses += 1
            return None
        self.hits += 1
        _touch(path)
        return frame, meta

    def discard(self, key: str, suffix: str = ".arrow") -> None:
        """An entry that read back but is not what its reader expects: damaged all the same."""
        self._discard(key, self._path(key, suffix))

    def _discard(self, key: str, path: Path) -> None:
        self.misses += 1
        self.damaged.append(key)
        with contextlib.suppress(OSError):  # the re-read writes it anew; if not, it stays a miss
            path.unlink()

    def put(self, key: str, frame, meta: dict, suffix: str = ".arrow") -> None:
        """Store a validated file, converted to Arrow and written in the background. The rows
        are taken now: a shallow copy, which pandas' copy-on-write (pandas 3) keeps as it is
        whatever is done to the frame afterwards."""
        if self.unwritable:
            return
        try:
            text = json.dumps(meta, ensure_ascii=False)
        except (TypeError, ValueError):  # no entry: a miss next time
            return
        self._queue(self._path(key, suffix), self._write_entry, key, frame.copy(deep=False), text)

    def _queue(self, path: Path, write, *args) -> None:
        """`write(path, *args)` on the writing thread, after the writes queued before it. Reading
        threads put entries: the thread is made once, under a lock."""
        with self._lock:
            if self._writer is None:
                self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fpservice-cache")
            self._writing[path] = self._writer.submit(write, path, *args)

    def close(self) -> None:
        """Wait until every entry is written."""
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.shutdown(wait=True)
            self._writing.clear()

    def warnings(self) -> list[str]:
        """What a user must hear about this run's cache, each thing once (after `close`)."""
        said = []
        if self.damaged:
            said.append(DAMAGED)
        if self.unwritable:
            said.append(
                f"缓存目录 {self.directory} 无法写入：{self.unwritable}。本次运行不写缓存，结果不受影响；"
                "可用 --cache-dir 指定别的目录，或加 --no-cache"
            )
        return said

    def get_findings(self, key: str, today: dt.date) -> list[Finding] | None:
        """Findings across files (consistency checks), stored under the key of all the files."""
        doc = self.get_document(key, today)
        if doc is None:
            return None
        try:
            return [finding_from(f) for f in doc["findings"]]
        except (ValueError, KeyError, TypeError):
            return self.discard_document(key)

    def put_findings(self, key: str, findings: list[Finding], valid_days) -> None:
        self.put_document(key, {"valid_days": valid_days, "findings": [finding_fields(f) for f in findings]})

    def has(self, key: str, suffix: str = ".arrow") -> bool:
        """Is there an entry at `key` (whole or not)?"""
        return self._path(key, suffix) in self._writing or self._path(key, suffix).exists()

    def get_document(self, key: str, today: dt.date, suffix: str = ".json") -> dict | None:
        """A JSON entry (a dict with its `valid_days`) or None: none, one for other days, or a
        damaged one (discarded)."""
        path = self._path(key, suffix)
        if path in self._writing:
            self._writing.pop(path).exception()
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError:
            return self._discard(key, path)
        try:
            doc = json.loads(bytes(unsealed(memoryview(data), key, JSON)).decode("utf-8"))
            if not isinstance(doc, dict) or not _is_days(doc.get("valid_days")):
                raise Damaged("valid_days")
        except (Damaged, ValueError):
            return self._discard(key, path)
        if not holds_on(doc["valid_days"], today):
            return None
        _touch(path)  # used: not pruned while runs keep using it
        return doc

    def discard_document(self, key: str, suffix: str = ".json") -> None:
        """A JSON entry that read back but holds what its reader cannot use: damaged."""
        return self._discard(key, self._path(key, suffix))

    def put_document(self, key: str, doc: dict, suffix: str = ".json") -> None:
        """Store a JSON entry, in the background after the entries put before it."""
        if self.unwritable:
            return
        try:
            text = json.dumps(doc, ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError):
            return
        self._queue(self._path(key, suffix), self._write, key, JSON, lambda sink: sink.write(text))

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

    def _write_entry(self, path: Path, key: str, frame, meta: str) -> None:
        import pyarrow as pa
        import pyarrow.feather as feather

        if self.unwritable:  # queued before an earlier write failed: not worth converting
            return
        try:
            table = pa.Table.from_pandas(frame, preserve_index=False, nthreads=1)
        except (TypeError, ValueError, pa.ArrowException):  # no entry: a miss next time
            return
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"fpservice": meta})

        def payload(sink) -> None:
            # One record batch, not Feather's 64K-row ones: a column of one chunk converts to
            # numpy without being joined (loading a million persons' services: 0.10 s -> 0.05 s).
            feather.write_feather(table, sink, compression="uncompressed", chunksize=max(table.num_rows, 1))

        self._write(path, key, ARROW, payload)

    def _write(self, path: Path, key: str, kind: int, payload) -> None:
        """Write an entry whole (header, then `payload(sink)`), privately. A failure that is the
        directory's (no space, no permission) stops the writing for the run and is said once; one
        that is this entry's (another fpservice reading it on Windows, where a file in use cannot
        be replaced) is not. An entry not written is only a miss next time."""
        if self.unwritable:  # a write queued before an earlier one failed
            return
        import pyarrow as pa  # an Arrow payload fails with Arrow's own errors

        try:
            _private_dir(path.parent)
            write_atomically(path, lambda fh: seal(fh, key, kind, payload), private=True, durable=False)
        except OutputError as exc:
            if not exc.replacing:  # else another process has this one entry open (Windows)
                self.unwritable = self.unwritable or exc.reason
        except OSError as exc:  # making the directory
            self.unwritable = self.unwritable or os_reason(exc, writing=True)
        except pa.ArrowException:
            pass


def _is_days(valid_days) -> bool:
    return (
        isinstance(valid_days, list)
        and len(valid_days) == 2
        and all(d is None or isinstance(d, str) for d in valid_days)
    )


def holds_on(valid_days, today: dt.date) -> bool:
    """Is a result computed for the days [first, until) still right today? (None: unbounded)"""
    first, until = valid_days
    day = today.isoformat()
    return (first is None or first <= day) and (until is None or day < until)


def finding_fields(f: Finding) -> list:
    return [f.code, f.file, f.line, f.column, f.value, f.detail, f.unit]


def finding_from(fields) -> Finding:
    """A finding as an entry stored it, checked field by field (ValueError when it is not one)."""
    if not isinstance(fields, list) or len(fields) != 7:
        raise ValueError("finding")
    code, file, line, column, value, detail, unit = fields
    if code not in CODES or not isinstance(file, str) or not (line is None or type(line) is int):
        raise ValueError("finding")
    if not all(v is None or isinstance(v, str) for v in (column, value, detail, unit)):
        raise ValueError("finding")
    return Finding(code, file, line, column, value, detail, unit)


def _private_dir(path: Path) -> None:
    for d in (path.parent, path):  # the cache directory, then its fan-out subdirectory
        d.mkdir(mode=0o700, parents=True, exist_ok=True)


def _touch(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.utime(path)
