"""Which files a ledger directory holds, and how they are grouped into reads: a file alone, or a
batch of small files with one header (a file per village) read as one."""

from __future__ import annotations

import os
from pathlib import Path

from fpservice.read.sheets import SUFFIXES, is_workbook

LEDGER_SUFFIXES = (".csv", *SUFFIXES)


def discover(root: Path) -> list[Path]:
    """CSV files and workbooks at any depth, in a stable order. Symlinked directories are not
    followed; hidden files and the lock files Excel and WPS keep beside an open workbook
    (`~$台帐.xlsx`) are not ledgers."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.lower().endswith(LEDGER_SUFFIXES) and not name.startswith((".", "~$")):
                found.append(Path(dirpath) / name)
    return found


# Files below BATCH_FILE bytes whose first lines are the same bytes (one header, as in a file per
# village) are read together, up to BATCH_BYTES at a time: reading a file costs a few
# milliseconds besides its bytes (building columns and frames), which thousands of small files
# would otherwise pay each.
BATCH_FILE = 4 << 20
BATCH_BYTES = 16 << 20


def jobs(files: list[Path], sizes: dict[Path, int], batching: bool) -> list[list[Path]]:
    """The files in reads: a batch of small files with one header, or a file alone. In the order
    of each read's first file."""
    groups: dict[bytes, list[Path]] = {}
    first: dict[int, list[Path]] = {}
    for i, path in enumerate(files):
        small = batching and sizes[path] < BATCH_FILE and not is_workbook(path.name)
        head = _header_line(path) if small else None
        if head is None:
            first[i] = [path]
        else:
            groups.setdefault(head, []).append(path)
    index = {path: i for i, path in enumerate(files)}
    for paths in groups.values():
        batch, size = [], 0
        for path in paths:
            if batch and size + sizes[path] > BATCH_BYTES:
                first[index[batch[0]]] = batch
                batch, size = [], 0
            batch.append(path)
            size += sizes[path]
        first[index[batch[0]]] = batch
    return [first[i] for i in sorted(first)]


def _header_line(path: Path) -> bytes | None:
    """A file's first line, when it can head a batch (see plain_head)."""
    try:
        with path.open("rb") as fh:
            return plain_head(fh.read(4096))
    except OSError:
        return None


def plain_head(data: bytes) -> bytes | None:
    """The first line of a file's bytes with its line break, when files can be joined under it:
    no quote in it (a quoted header may go on over several lines), not UTF-16."""
    end = data.find(b"\n")
    if end < 0 or b'"' in data[:end] or data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    return data[: end + 1]


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
