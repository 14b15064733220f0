"""Files written whole or not at all: through a temporary file beside the target and a rename,
so a reader (Excel, the next cron run, a second fpservice) sees the old file or the new one,
never half of one. Reports and cache entries both go through here."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from fpservice.errors import OutputError


def write_atomically(
    path: Path | str,
    write: Callable[[BinaryIO], object] | bytes,
    *,
    private: bool = False,
    durable: bool = True,
) -> None:
    """Write `write` (bytes, or a function of the open file) to `path`. `private` keeps the
    file to its owner (0600, as mkstemp makes it); otherwise it gets the usual permissions.
    `durable` flushes it to disk before the rename (reports; a cache entry can be lost).

    Raises OutputError when the operating system refuses (disk full, no permission, a directory
    in the way, the old file held open by another program): the temporary file is removed and
    the old file, if any, is as it was."""
    path = Path(path)
    tmp = None
    replacing = False
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as fh:
            if not private:
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(tmp, 0o666 & ~umask)
            if isinstance(write, bytes | bytearray | memoryview):
                fh.write(write)
            else:
                write(fh)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        replacing = True  # the new file is whole: only putting it in place is left
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):  # the error that stopped the write is the one to tell
                Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError.of(path, exc, replacing=replacing) from exc
        raise
