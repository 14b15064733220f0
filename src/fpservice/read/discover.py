"""Which files a ledger directory holds, and how they are grouped into reads: a file alone, or a
batch of small files with one header (a file per village) read as one."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from fpservice.errors import os_reason
from fpservice.read.sheets import SUFFIXES, is_workbook

LEDGER_SUFFIXES = (".csv", *SUFFIXES)
UNITS_FILE = "units.csv"  # at the directory's top: the units, not a ledger


def discover(root: Path, limit: int | None = None) -> list[Path] | None:
    """CSV files and workbooks at any depth, in a stable order. Symlinked directories are not
    followed; hidden files and the lock files Excel and WPS keep beside an open workbook
    (`~$台帐.xlsx`) are not ledgers. A directory that cannot be listed is among what is found
    (see `unusable`): ledgers may be in it, so it is said, not passed over. With `limit`, None
    as soon as more than that many are found (the rest is not walked)."""
    found = []

    def unlisted(exc: OSError) -> None:
        if exc.filename is not None and Path(exc.filename) != Path(root):
            found.append(Path(exc.filename))

    for dirpath, dirnames, filenames in os.walk(root, onerror=unlisted, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.lower().endswith(LEDGER_SUFFIXES) and not name.startswith((".", "~$")):
                found.append(Path(dirpath) / name)
        if limit is not None and len(found) > limit:
            return None
    return found


_SPECIAL = (
    (stat.S_ISFIFO, "命名管道"),
    (stat.S_ISSOCK, "套接字"),
    (stat.S_ISCHR, "设备文件"),
    (stat.S_ISBLK, "设备文件"),
)


def unusable(path: Path) -> tuple[str, str] | None:
    """(finding code, detail) when what was found is not a file that can be read: a named pipe,
    a socket or a device (never opened: a pipe would wait for a writer for ever), a link to
    nothing or to itself, a directory that cannot be listed. None for a regular file."""
    try:
        mode = path.stat().st_mode  # follows a link to what it names
    except OSError as exc:
        if path.is_symlink() and isinstance(exc, FileNotFoundError):
            return "file.unreadable", "符号链接指向的文件不存在"
        return "file.unreadable", os_reason(exc, writing=False)
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        try:
            os.scandir(path).close()
        except OSError as exc:
            return "file.unreadable", "目录无法列出：" + os_reason(exc, writing=False)
        return "file.unreadable", "目录无法列出"
    kind = next((name for test, name in _SPECIAL if test(mode)), "特殊文件")
    return "file.not_regular", kind


def display_name(name: str) -> str:
    """A file name as findings and accounts show it. A name whose bytes are not UTF-8 (one from
    a zip made on Chinese Windows, in GBK) is read as GB18030, else shown with its odd bytes
    escaped: what is printed or written as JSON is always text."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        raw = os.fsencode(name)
    try:
        return raw.decode("gb18030")
    except UnicodeDecodeError:
        return raw.decode("utf-8", "backslashreplace")


def read_threads() -> int:
    """How many reads run at once: pyarrow and numpy let go of the GIL while they parse and
    compute, so files overlap on the cores."""
    return min(4, os.cpu_count() or 1)


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
