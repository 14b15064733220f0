"""A head start on reading: the largest ledger file read and parsed on a thread while the main
thread imports pandas and the rest of the read stage, 0.2-0.3 s in which the other core would
idle. The parse is pyarrow's alone, which lets go of the GIL throughout, so the import is barely
slowed (a thread that also validated would wait on the import for the GIL at every numpy call).

Only for a run without a cache (a run with one hashes its files meanwhile: contents.Hashing),
and only for a file the loader would read alone and parse on one core anyway: one too large to
be batched, and no larger than a core's share of the directory. The loader takes the bytes and
the parse from here (`take`) instead of reading and parsing the file itself; should anything
have gone wrong here, it reads the file as ever and says what was wrong. This module imports
neither pandas nor the checks."""

from __future__ import annotations

import threading
from pathlib import Path

from fpservice.headers import Headers
from fpservice.read import csvparse, discover
from fpservice.read.encodings import open_source
from fpservice.read.recognise import distinct_columns, recognise
from fpservice.read.sheets import is_workbook


class HeadStart:
    """The largest ledger file under `root`, read and parsed on a thread of its own."""

    def __init__(self, root: Path, encoding: str | None, headers: Headers):
        self._path: Path | None = None  # the file chosen, until it is taken
        self._got: tuple[bytes, csvparse.Parsed] | None = None
        self._chosen, self._done = threading.Event(), threading.Event()
        # A daemon: a run that fails before it reads (and so never takes the file) still exits.
        self._thread = threading.Thread(
            target=self._run, args=(root, encoding, headers), name="fpservice-headstart", daemon=True
        )
        self._thread.start()

    def _run(self, root: Path, encoding: str | None, headers: Headers) -> None:
        try:
            try:
                ledgers = [p for p in discover.discover(Path(root)) if not _units_file(p, Path(root))]
                self._path = chosen(ledgers, discover.read_threads())
            finally:
                self._chosen.set()
            if self._path is None:
                return
            raw = self._path.read_bytes()
            source = open_source(raw, encoding, headers)
            problem, ltype, mapping = recognise(source.header, headers)
            if source.header and not problem:
                usecols, distinct = sorted(mapping), distinct_columns(ltype, mapping)
                parsed = csvparse.parse(source, usecols, csvparse.delimiter_of(source), distinct, False)
                self._got = raw, parsed
        except Exception:  # noqa: BLE001 - the loader reads the file as ever, and says what was wrong
            self._got = None
        finally:
            self._done.set()

    def take(self, path: Path) -> tuple[bytes, csvparse.Parsed] | None:
        """The bytes of `path` and pyarrow's parse of them, when it is the file parsed here (after
        the parse has ended); once. None for any other file, or when the parse failed."""
        self._chosen.wait()  # (a moment: the files' sizes)
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
