"""What each ledger file's bytes are now: the digests a cached run keys its entries by. Every
byte is hashed on every run, so no changed file is ever taken for the one cached.

A run starts hashing as soon as its directory and plan are known (`Hashing`), on a thread of its
own, while the main thread imports pandas and the rest of the read stage: 0.3 s in which the
other core would idle. The loader then takes the digests made so far and hashes the rest. This
module imports neither pandas nor pyarrow, so that the hashing can start first."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import xxhash

from fpservice.read import discover


def digest(data: bytes) -> str:
    """What a file's bytes are, for a cache key. xxh3-128, not SHA-256: every run hashes every
    ledger byte (480 MB at a million persons: 0.65 s of CPU with SHA-256, 0.03 s with xxh3), and
    the key guards against change and accident, not against an attacker who can already write
    the user's private cache."""
    return xxhash.xxh3_128_hexdigest(data)


def digest_file(path: Path, block: int = 1 << 20) -> str:
    """`digest` of a file's bytes, read a block at a time into one buffer. A warm run hashes every
    ledger and needs none of their bytes: reading each file whole made (and faulted in) a copy of
    it, 0.24 s at a million persons against 0.10 s."""
    buf = bytearray(block)
    view = memoryview(buf)
    h = xxhash.xxh3_128()
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            h.update(view[:n])
    return h.hexdigest()


def content(path: Path | None) -> str | None:
    """A file's digest: "-" for what is not a file to open (its finding depends on its name
    only), None for a file that cannot be read (its read says why)."""
    if path is None:
        return "-"
    try:
        return digest_file(path)
    except OSError:
        return None


class Hashing:
    """The files under a directory, hashed one after another on a thread, until `stop`."""

    def __init__(self, root: Path):
        self._done: dict[Path, str | None] = {}
        self._stop = threading.Event()
        # A daemon: a run that fails before it reads (and so never stops it) still exits.
        self._thread = threading.Thread(target=self._run, args=(root,), name="fpservice-hashing", daemon=True)
        self._thread.start()

    def _run(self, root: Path) -> None:
        try:
            for path in discover.discover(root):
                if self._stop.is_set():
                    return
                if discover.unusable(path) is None:  # a named pipe is never opened
                    self._done[path] = content(path)
        except Exception:  # noqa: BLE001 - whatever it was, the loader hashes what is left itself
            return

    def stop(self) -> dict[Path, str | None]:
        """The digests made so far (after the file being hashed now); no more are made. Stopping
        it again gives the same."""
        self._stop.set()
        self._thread.join()
        return self._done


def contents_of(paths: list[Path | None], threads: int, hashing: Hashing | None = None) -> list[str | None]:
    """`content` of each path (None: not a file to open), those `hashing` has made already taken
    from it, the rest hashed on `threads` threads."""
    known = hashing.stop() if hashing else {}
    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(lambda path: known[path] if path in known else content(path), paths))
