"""A large CSV file read in pieces, each under the file's header, so that a Dask worker holds one
piece's rows at a time and not a whole quarter of a county's services (docs/partitioned.md): a
worker plans the pieces (`plan`), each piece is a task of its own (`read_piece`), and the client
puts their accounts and findings together (`merged`).

A piece ends at a line break with the file's quotes closed before it; its findings, rows and
accounts are those of the file read whole, line for line (tests/test_chunks.py). A file that
is not plain enough for that (a title above the header, an encoding to work out, rows the exact
reader must find) is read whole: what is wrong with it is then said as for any file.
"""

from __future__ import annotations

import datetime as dt
import mmap
from dataclasses import dataclass, replace
from pathlib import Path

from fpservice.headers import DEFAULT, Headers
from fpservice.read.assemble import common_days
from fpservice.read.discover import plain_head
from fpservice.read.encodings import open_source
from fpservice.read.ledgerfile import read_ledger_file
from fpservice.read.ledgerset import FileAccount, ReadResult
from fpservice.read.recognise import recognise

CHUNK_BYTES = 32 << 20  # a piece: about 200,000 rows of services, ~0.15 GB once read


def ranges(data, headers: Headers = DEFAULT, chunk_bytes: int = CHUNK_BYTES) -> list[tuple[int, int]] | None:
    """Byte ranges of the bodies of a file's pieces (after its first line), or None when it is
    to be read whole: not larger than a piece, a header not plainly on its first line."""
    found = pieces(data, headers, chunk_bytes)
    return None if found is None else [(piece.start, piece.stop) for piece in found]


@dataclass(frozen=True)
class Piece:
    """A piece of a file: its body's bytes [start, stop), the file's line it starts on, and
    where the file's header line ends (a piece is read under it)."""

    start: int
    stop: int
    line: int
    head: int


def plan(path: Path, headers: Headers = DEFAULT, chunk_bytes: int | None = None) -> list[Piece] | None:
    """The pieces of a file, or None when it is to be read whole (see `pieces`), from the file
    mapped: each piece's pages are let go once counted."""
    chunk_bytes = chunk_bytes or CHUNK_BYTES
    with open(path, "rb") as f:
        if f.seek(0, 2) <= chunk_bytes:
            return None
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        return pieces(data, headers, chunk_bytes)
    finally:
        data.close()


def pieces(data, headers: Headers = DEFAULT, chunk_bytes: int = CHUNK_BYTES) -> list[Piece] | None:
    """The pieces of a file's bytes, or None when it is to be read whole: not larger than a
    piece, a header not plainly on its first line, one piece only. One pass over the bytes: a
    piece ends at the first line break past `chunk_bytes` with the file's quotes closed; its
    lines are counted as the fast reader counts them."""
    head = _header_end(data, headers) if len(data) > chunk_bytes else None
    if head is None:
        return None
    out, start, line = [], head, 2
    while start < len(data):
        end = data.find(b"\n", start + chunk_bytes)
        stop = len(data) if end < 0 else end + 1
        odd = data[start:stop].count(b'"') % 2
        while odd and stop < len(data):  # a quoted value goes on past the break: cut further on
            end = data.find(b"\n", stop)
            nxt = len(data) if end < 0 else end + 1
            odd ^= data[stop:nxt].count(b'"') % 2
            stop = nxt
        out.append(Piece(start, stop, line, head))
        line += data[start:stop].count(b"\n")
        _let_go(data, start, stop)
        start = stop
    return out if len(out) > 1 else None


def _header_end(data, headers: Headers) -> int | None:
    """Where the file's first line ends, when it is plainly the header; else None."""
    head = plain_head(data[: 1 << 16])
    if head is None:
        return None
    source = open_source(bytes(head), headers=headers)
    if source.first_line != 1 or not source.header or recognise(source.header, headers)[0]:
        return None
    return len(head)


def _let_go(data, start: int, stop: int) -> None:
    """Drop a range of a mapped file from the process's memory (the system keeps it cached):
    the pages of a file counted through are the worker's resident memory until the file is
    closed, and at 10 million persons a quarter's services is a GB, which Dask then takes for
    the worker's own and spills for. Bytes in memory have nothing to let go."""
    if isinstance(data, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
        begin = start - start % mmap.PAGESIZE
        data.madvise(mmap.MADV_DONTNEED, begin, stop - begin)


def read_piece(
    path: Path,
    piece: Piece,
    rel: str,
    units,
    encoding: str | None,
    today: dt.date,
    headers: Headers = DEFAULT,
) -> ReadResult:
    """One piece, read and validated under the file's header, its lines the file's. Raises Whole
    when the piece cannot say what the file says there (a problem of the whole file, or rows
    the exact reader had to find): the caller reads the file whole."""
    with open(path, "rb") as f:
        head = f.read(piece.head)
        f.seek(piece.start)
        body = f.read(piece.stop - piece.start)
    got = read_ledger_file(head + body, rel, units, encoding, today, False, headers, fast_only=True)
    if got is None or any(_of_the_whole(f) for f in got.findings):
        raise Whole(rel)
    return _shifted(got, piece.line - 2)


class Whole(Exception):
    """A piece could not be read as the file's own lines: read the file whole."""


def _of_the_whole(finding) -> bool:
    """A finding about the file rather than a line of it (the header, the encoding)."""
    return finding.line is None or finding.line < 2 or finding.code.startswith("file.")


def _shifted(got: ReadResult, by: int) -> ReadResult:
    if not by:
        return got
    frame = got.frame if got.frame is None else got.frame.assign(line=got.frame["line"] + by)
    return replace(got, frame=frame, findings=[replace(f, line=f.line + by) for f in got.findings])


def merged(parts: list[ReadResult]) -> ReadResult:
    """The pieces' accounts, findings and villages as the file's, read whole, gives them (no
    rows: the caller has taken each piece's). Findings come check by check, each check's in
    line order, as the checks of one read give them."""
    first = parts[0].accounts[0]
    account = FileAccount(first.file, first.ledger, first.encoding)
    for got in parts:
        for a in got.accounts:
            account.read += a.read
            account.used += a.used
            account.rejected += a.rejected
            account.skipped += a.skipped
    return ReadResult(
        [account],
        None,
        _in_check_order(parts),
        set().union(*(got.villages for got in parts)),
        common_days([got.valid_days for got in parts]),
    )


# What a read finds before its checks run, in this order: rows it could not parse, rows that
# repeat the header (ledgerfile._rows_of)
BEFORE_CHECKS = {("row.ragged", None): -2, ("row.repeated_header", None): -1}


def _in_check_order(parts: list[ReadResult]) -> list:
    """Findings of the pieces in the order a whole read gives: check by check, in the order the
    checks ran (which each piece tells), each check's in line order. Raises Whole when the
    pieces do not tell that order (two checks that never ran in the same piece)."""
    after: dict[tuple, set] = {}
    for got in parts:
        for a, b in zip(got.checks, got.checks[1:]):
            after.setdefault(a, set()).add(b)
        for key in got.checks:
            after.setdefault(key, set())
    before = {key: 0 for key in after}
    for nexts in after.values():
        for key in nexts:
            before[key] += 1
    ready = [key for key, n in before.items() if n == 0]
    rank = dict(BEFORE_CHECKS)
    while ready:
        if len(ready) > 1:
            raise Whole("the pieces do not tell the checks' order")
        key = ready.pop()
        rank[key] = len(rank)
        for nxt in after[key]:
            before[nxt] -= 1
            if before[nxt] == 0:
                ready.append(nxt)
    every = [f for got in parts for f in got.findings]
    if any((f.code, f.column) not in rank for f in every):
        raise Whole("a finding of no check the pieces ran")
    return sorted(every, key=lambda f: rank[f.code, f.column])  # stable: pieces in line order
