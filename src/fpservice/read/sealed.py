"""An entry's bytes on disk, sealed: a header that holds the format version, the entry's kind,
the length of what follows and a checksum (xxh3-128) of its key and its bytes. An entry is
trusted only when its header proves it (`unsealed`), before anything reads a byte of it: a disk
that flips a bit, a copy cut short or a file from elsewhere is `Damaged`."""

from __future__ import annotations

import struct

import xxhash

# The header of every entry. FORMAT changes whenever the layout of an entry does; the code
# fingerprint in the key changes with it, so an entry of another format at a key is damage.
# xxh3-128 because it is the fastest of the checksums measured here on a 50 MB buffer (one
# core, in memory): xxh3-128 2.4 ms (20 GB/s), blake3 8.5 ms (5.8 GB/s; 16 ms on its own
# threads, which the parse threads need), SHA-256 54 ms. A warm run over a 200,000-person district
# (44 MB of entries, 19 hits) spends 5-15 ms hashing and 12-16 ms in Arrow's full validation,
# summed over the reading threads, of a run of about 1.4 s; its warm load with and without them
# measured 367 and 372 ms (medians of 8, in one process): the difference is within the spread.
FORMAT = 2
_MAGIC = b"FPSVCACH"
_HEADER = struct.Struct("<8sIIQ16s")  # magic, format, kind, payload length, xxh3-128(key, payload)
HEADER_SIZE = 64  # the payload starts 64-byte aligned in the mapped file, as Arrow wants it
ARROW, JSON = 1, 2


class Damaged(Exception):
    """An entry that does not prove itself (header, checksum, Arrow's validation, its schema)."""


class _Sink:
    """The file an entry is written to, after its header: hashes the bytes as they go out, so
    that no second copy of a large entry is made to checksum it."""

    def __init__(self, fh, key: str):
        self._fh = fh
        self._hash = xxhash.xxh3_128(key.encode("ascii"))
        self.length = 0
        self.closed = False

    def write(self, data) -> int:
        self._hash.update(data)
        self.length += len(memoryview(data).cast("B"))
        return self._fh.write(data)

    def flush(self) -> None:
        self._fh.flush()

    def digest(self) -> bytes:
        return self._hash.digest()


def seal(fh, key: str, kind: int, payload) -> None:
    """Header (with a placeholder checksum), the payload through a hashing sink, then the header
    for real."""
    fh.write(bytes(HEADER_SIZE))
    sink = _Sink(fh, key)
    payload(sink)
    fh.seek(0)
    fh.write(_HEADER.pack(_MAGIC, FORMAT, kind, sink.length, sink.digest()))


def unsealed(entry, key: str, kind: int):
    """The payload of an entry (a buffer or memoryview over its bytes) once it has proved to be
    a whole entry of this format, of this kind, for this key. Raises Damaged."""
    view = memoryview(entry).cast("B")
    if len(view) < HEADER_SIZE:
        raise Damaged("short")
    head = bytes(view[:HEADER_SIZE])
    magic, version, got_kind, length, checksum = _HEADER.unpack_from(head)
    if (magic, version, got_kind, length) != (_MAGIC, FORMAT, kind, len(view) - HEADER_SIZE):
        raise Damaged("header")
    if any(head[_HEADER.size :]):
        raise Damaged("header padding")
    h = xxhash.xxh3_128(key.encode("ascii"))
    h.update(view[HEADER_SIZE:])
    if h.digest() != checksum:
        raise Damaged("checksum")
    return view[HEADER_SIZE:] if isinstance(entry, memoryview) else entry.slice(HEADER_SIZE)
