"""A head start on reading: the largest ledger file read and parsed on a thread while the main
thread imports pandas and the rest of the read stage, some 0.3 s in which the other core would
idle. The parse is pyarrow's alone, which lets go of the GIL throughout, so the import is barely
slowed (a thread that also validated would wait on the import for the GIL at every numpy call).

Only for a run without a cache (a run with one hashes its files meanwhile: contents.Hashing),
and only for a file the loader would read alone and parse on one core anyway: one too large to
be batched, and no larger than a core's share of the directory. The loader takes the bytes and
the parse from here (`take`) instead of reading and parsing the file itself; should anything
have gone wrong here, it reads the file as ever and says what was wrong.

What needs the GIL is done on the caller's thread: the file is chosen there, and numpy and
pyarrow imported there while the thread reads the file. A thread that walked the directory or
imported them beside the main thread's imports took the GIL from them at every step, and began
its parse 0.2 s later. The walk is cut short in a directory of more than `FILES` ledgers (a
file per village: thousands of small files, batched, whose sizes alone would take the caller
0.3 s to look up): no head start there. This module imports neither pandas nor, until a head
start begins, numpy or pyarrow."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

from fpservice.headers import Headers
from fpservice.read import discover
from fpservice.read.sheets import is_workbook

if TYPE_CHECKING:
    from fpservice.read.arrowparse import Parsed

FILES = 500  # ledger files in a directory above which there is no head start (see the module's note)


class HeadStart:
    """The largest ledger file under `root`, read and parsed on a thread of its own."""

    def __init__(self, root: Path, encoding: str | None, headers: Headers):
        self._got = None  # (bytes, parse), once parsed
        self._done, imported = threading.Event(), threading.Event()
        try:
            found = discover.discover(Path(root), limit=FILES)
            ledgers = [p for p in found or [] if not _units_file(p, Path(root))]
            self._path: Path | None = chosen(ledgers, discover.read_threads())
        except Exception:  # noqa: BLE001 - the loader finds out for itself
            self._path = None
        if self._path is None:
            self._done.set()
            return
        try:
            # A daemon: a run that fails before it reads (and so never takes the file) still exits.
            threading.Thread(
                target=self._run, args=(encoding, headers, imported), name="fpservice-headstart", daemon=True
            ).start()
            from fpservice.read import arrowparse, encodings, recognise  # noqa: F401 - for the thread
        finally:
            imported.set()

    def _run(self, encoding: str | None, headers: Headers, imported: threading.Event) -> None:
        try:
            raw = self._path.read_bytes()
            imported.wait()  # then the imports below find the modules loaded
            from fpservice.read import arrowparse
            from fpservice.read.encodings import open_source
            from fpservice.read.recognise import distinct_columns, recognise

            source = open_source(raw, encoding, headers)
            problem, ltype, mapping = recognise(source.header, headers)
            if source.header and not problem:
                usecols, distinct = sorted(mapping), distinct_columns(ltype, mapping)
                delim = arrowparse.delimiter_of(source)
                parsed = arrowparse.parse(source, usecols, delim=delim, distinct=distinct, threads=False)
                self._got = raw, parsed
        except Exception:  # noqa: BLE001 - the loader reads the file as ever, and says what was wrong
            self._got = None
        finally:
            self._done.set()

    def take(self, path: Path) -> tuple[bytes, Parsed] | None:
        """The bytes of `path` and pyarrow's parse of them, when it is the file parsed here (after
        the parse has ended); once. None for any other file, or when the parse failed."""
        if path != self._path:
            return None
        self._done.wait()
        got, self._got, self._path = self._got, None, None
        return got


def chosen(files: list[Path], threads: int) -> Path | None:
    """The largest CSV file, when it is one the loader reads alone and on one core (see the
    module's note)."""
    sizes = {path: discover.file_size(path) for path in files if discover.unusable(path) is None}
    candidates = [path for path in sizes if not is_workbook(path.name)]
    if not candidates:
        return None
    largest = max(candidates, key=sizes.__getitem__)
    fits = discover.BATCH_FILE <= sizes[largest] <= sum(sizes.values()) / threads
    return largest if fits else None


def _units_file(path: Path, root: Path) -> bool:
    return path.parent == root and path.name.lower() == discover.UNITS_FILE
