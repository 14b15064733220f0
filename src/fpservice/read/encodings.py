"""A CSV file's encoding and header, found from its bytes without being told (SPEC §2).

A file is taken as UTF-8 when its header is; pyarrow checks every value it reads, and any
invalid byte sends the whole file through `decode`, which tells GB18030 from GBK pasted into
UTF-8. A file whose header is GB18030 (what Excel and WPS save on Chinese Windows) is parsed in
its own bytes and only the values read are decoded (see csvparse); a value that does not decode
sends it through `decode` too, which names the line.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from fpservice.headers import DEFAULT, Headers
from fpservice.read.header import HEADER_ROWS, find_header, first_nonblank
from fpservice.read.problem import FileProblem


@dataclass
class Source:
    """A file's bytes from offset `skip` (past a BOM and any rows above the header) and what we
    know of them. The bytes are UTF-8, or, when `native` names an encoding, the file's own bytes
    in that encoding: they are parsed as they are and only the values read are decoded (see
    csvparse). Lines are counted from the file's first line: the header is on `first_line`."""

    raw: bytes  # as read from disk
    text: bytes  # the bytes parsed, from `skip` on: `raw` itself, or `raw` decoded to UTF-8
    skip: int
    encoding: str
    header: list[str]
    checked: bool  # True when the whole file is known to be valid UTF-8
    native: str | None = None
    first_line: int = 1  # the header's line
    above: int = 0  # rows above the header (a title, 填报单位：…): skipped
    headers: Headers = DEFAULT  # what a header may be called (to find it again after decoding)
    counted: int | None = None  # the line breaks from `skip` on, when whoever joined the bytes counted them

    @property
    def buffer(self) -> pa.Buffer:
        return pa.py_buffer(self.text).slice(self.skip)

    def head(self, size: int = 1 << 16) -> bytes:
        return self.text[self.skip : self.skip + size]

    def newlines(self) -> int:
        if self.counted is None:
            self.counted = newlines_in(self.text, self.skip)
        return self.counted


def newlines_in(data: bytes, start: int = 0) -> int:
    """The line breaks in `data` from `start` on. numpy counts without holding the GIL (bytes.count
    holds it), so other files' threads go on meanwhile; slices keep the comparison's temporary
    small."""
    view = np.frombuffer(data, dtype=np.uint8)[start:]
    step = 1 << 23
    return sum(int(np.count_nonzero(view[i : i + step] == 10)) for i in range(0, len(view), step))


def open_source(raw: bytes, encoding: str | None = None, headers: Headers = DEFAULT) -> Source:
    """Find the encoding and header. The body of a UTF-8 file is checked while it is parsed; a
    file whose header is GB18030 (what Excel and WPS save on Chinese Windows) is parsed in its
    own bytes, and the values read are decoded after parsing."""
    if encoding is None and not raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        bom = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
        head = raw[bom : bom + (1 << 16)]
        for candidate, native in (("utf-8", None), (NATIVE, NATIVE)):
            if (bom and native) or not _header_decodes(head, candidate):
                continue
            header, line, above = locate_header(head.decode(candidate, errors="replace"), headers)
            skip = bom + _line_offset(head, line)
            header_line = raw[skip : skip + (1 << 16)]  # (a slice of the head, not of the whole file)
            if not _lines_decode(raw[bom:skip], candidate) or not _header_decodes(header_line, candidate):
                break  # the lines down to the header are not all in this encoding: detect it
            name = candidate if native else ("utf-8-sig" if bom else "utf-8")
            return Source(raw, raw, skip, name, header, False, native, line, above, headers)
    return decoded(raw, encoding, headers)


# GB18030 can be parsed as it is: the bytes of a multi-byte character are all 0x30 or above, so a
# comma, quote, tab or line break in the bytes is always that character.
NATIVE = "gb18030"


def decoded(raw: bytes, encoding: str | None = None, headers: Headers = DEFAULT) -> Source:
    utf8, found = decode(raw, encoding)
    header, line, above = locate_header(utf8[: 1 << 16].decode("utf-8", errors="replace"), headers)
    return Source(raw, utf8, _line_offset(utf8, line), found, header, True, None, line, above, headers)


def _line_offset(data: bytes, line: int) -> int:
    """Where physical line `line` (1-based) starts in `data`."""
    at = 0
    for _ in range(line - 1):
        at = data.index(b"\n", at) + 1
    return at


def _lines_decode(data: bytes, encoding: str) -> bool:
    try:
        data.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def _header_decodes(head: bytes, encoding: str) -> bool:
    line = head.split(b"\n", 1)[0]
    try:
        line.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def decode(data: bytes, encoding: str | None = None) -> tuple[bytes, str]:
    """-> (UTF-8 bytes without BOM, the encoding found). Raises FileProblem when undecodable."""
    if encoding:
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            line = data.count(b"\n", 0, getattr(exc, "start", 0)) + 1
            raise FileProblem("file.undecodable", line, str(exc)) from None
        return text.lstrip("\ufeff").encode("utf-8"), encoding
    if data.startswith(codecs.BOM_UTF8):
        body = data[len(codecs.BOM_UTF8) :]
        _strict(body, "utf-8")
        return body, "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise FileProblem("file.undecodable", data.count(b"\n\x00", 0, exc.start) + 1) from None
        return text.encode("utf-8"), "utf-16"
    try:
        data.decode("utf-8")
        return data, "utf-8"
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    line = data.count(b"\n", 0, first_bad) + 1
    if not data[:first_bad].isascii() and _mostly_utf8(data):
        # GBK pasted into a UTF-8 file: decoding it all as GB18030 would garble the rest. (A file
        # whose first non-ASCII character is already not UTF-8 was saved as GBK to begin with.)
        raise FileProblem("file.mixed_encoding", line)
    try:
        return data.decode("gb18030").encode("utf-8"), "gb18030"
    except UnicodeDecodeError as exc:  # the line where GB18030 fails, not where UTF-8 did
        raise FileProblem("file.undecodable", data.count(b"\n", 0, exc.start) + 1) from None


def _mostly_utf8(data: bytes) -> bool:
    """True when most non-ASCII bytes form valid 3-byte UTF-8 sequences (as Chinese text in UTF-8
    does; GBK text only rarely forms one by accident)."""
    arr = np.frombuffer(data, dtype=np.uint8)
    high = int((arr >= 0x80).sum())
    if high == 0 or len(arr) < 3:
        return False
    cont = (arr >= 0x80) & (arr < 0xC0)
    lead3 = (arr >= 0xE0) & (arr < 0xF0)
    valid3 = int((lead3[:-2] & cont[1:-1] & cont[2:]).sum())
    return valid3 * 3 >= high * 0.5


def _strict(data: bytes, encoding: str) -> None:
    try:
        data.decode(encoding)
    except UnicodeDecodeError as exc:
        raise FileProblem("file.undecodable", data.count(b"\n", 0, exc.start) + 1) from None


def delimiter(first_line: bytes) -> str:
    # Excel's "Unicode text" and some WPS exports are tab-separated.
    return "\t" if b"\t" in first_line and b"," not in first_line else ","


def locate_header(text: str, headers: Headers = DEFAULT) -> tuple[list[str], int, int]:
    """(the header's cells, its physical line, the rows above it) from a file's first lines: the
    first row within HEADER_ROWS holding a signature, else the first row with any text."""
    lines = text.split("\n", HEADER_ROWS)[:HEADER_ROWS]
    delim = delimiter(next((x for x in lines if "\t" in x or "," in x), "").encode())
    reader = csv.reader(io.StringIO(text), delimiter=delim)
    rows, starts, line = [], [], 1
    try:
        for record in reader:
            rows.append([c.strip().lstrip("\ufeff") for c in record])
            starts.append(line)
            line = reader.line_num + 1
            if len(rows) >= HEADER_ROWS:
                break
    except csv.Error:  # a quote left open in the first lines: the parser reports it
        pass
    found = find_header(rows, headers)
    at = found.row if found else first_nonblank(rows)
    if at is None:
        return [], 1, 0
    return (found.labels if found else rows[at]), starts[at], sum(1 for r in rows[:at] if r)
