"""One CSV file -> coded columns and the physical line each row starts on.

A ledger of a million rows holds a few thousand distinct dates, a few hundred unit codes and a
handful of vocabulary words, so such columns are read dictionary-encoded: `Cells` holds a code
per row and the distinct values once, and validation looks at each distinct value once. Columns
of nearly distinct values (ID numbers, names) are read a value per row.

The fast path hands the bytes to pyarrow. A file is taken as UTF-8 when its header is; pyarrow
checks every value it reads, and any invalid byte sends the whole file through `decode`, which
tells GB18030 from GBK pasted into UTF-8. A file whose header is GB18030 is parsed in its own
bytes and the values read are decoded afterwards; a value that does not decode sends it through
`decode` too, which names the line. Line numbers come for free when every physical line
is one record (the newline count proves it); otherwise numpy finds the records (a newline ends
one when an even number of quotes precede it). When anything does not add up — quotes in odd
places, a field larger than a block — the file is read again with Python's csv module, which
is slower but exact.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

csv.field_size_limit(1 << 30)

_TEXT = pa.dictionary(pa.int32(), pa.string())
_BYTES = pa.dictionary(pa.int32(), pa.binary())
# What Python's str.strip() removes, and stray byte-order marks (two exports pasted together).
_TRIMMED = "".join(c for c in map(chr, range(0x3001)) if c.isspace()) + "\ufeff"


class CsvProblem(Exception):
    """The file as a whole cannot be read: carries a finding code, line and detail."""

    def __init__(self, code: str, line: int | None = None, detail: str = ""):
        super().__init__(detail)
        self.code, self.line, self.detail = code, line, detail


@dataclass
class Cells:
    """One column: row i holds values[codes[i]], or is blank where codes[i] is -1.
    Values are trimmed of whitespace (and stray BOMs) and never blank; they need not be distinct."""

    codes: np.ndarray  # int32
    values: pa.StringArray
    dense: bool = False  # row i holds value i, and no row is blank

    @classmethod
    def blank(cls, n: int) -> Cells:
        return cls(np.full(n, -1, dtype=np.int32), pa.array([], pa.string()))

    @classmethod
    def of(cls, column: pa.ChunkedArray | pa.Array) -> Cells:
        """From a dictionary-encoded (or plain string) arrow column."""
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks() if column.num_chunks else pa.array([], _TEXT)
        if not pa.types.is_dictionary(column.type):
            column = column.dictionary_encode()
        codes = pc.fill_null(column.indices, -1).to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
        return cls._trimmed(codes, column.dictionary)

    @classmethod
    def each(cls, column: pa.ChunkedArray | pa.Array) -> Cells:
        """From a plain string column whose values are mostly distinct (ID numbers, names): row i
        holds value i, and hashing the values to share them would cost more than it saves."""
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks() if column.num_chunks else pa.array([], pa.string())
        codes = np.arange(len(column), dtype=np.int32)
        if column.null_count:
            codes[np.asarray(column.is_null())] = -1
        cells = cls._trimmed(codes, column)
        cells.dense = len(cells.values) == len(codes) and bool((cells.codes >= 0).all())
        return cells

    @classmethod
    def _trimmed(cls, codes: np.ndarray, values: pa.Array) -> Cells:
        values = pc.utf8_trim(values, _TRIMMED)
        blank = _empty(values)
        if blank.any():
            codes = np.where(lookup(blank, codes, True), np.int32(-1), codes)
        return cls(codes, values).compact()

    def compact(self) -> Cells:
        """Drop values no row holds (blanks, the header pyarrow read as a row)."""
        used = np.bincount(self.codes + 1, minlength=len(self.values) + 1)[1:] > 0  # +1: blanks
        if used.all():
            return self
        renumber = (np.cumsum(used) - 1).astype(np.int32)
        return Cells(lookup(renumber, self.codes, np.int32(-1)), self.values.filter(pa.array(used)))

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def present(self) -> np.ndarray:
        return self.codes >= 0

    def per_value(self, table, missing=None) -> np.ndarray:
        """A per-row array from a per-value one (`missing` for blank rows). For dense cells it is
        the per-value array itself."""
        if self.dense and missing is not None:
            return np.asarray(table)
        return lookup(np.asarray(table), self.codes, missing)

    def text(self) -> np.ndarray:
        """The values as Python strings (for display and small columns)."""
        return np.asarray(self.values.to_pylist(), dtype=object)

    def take(self, rows: np.ndarray) -> Cells:
        return Cells(self.codes[rows], self.values)

    def without(self, bad_values: np.ndarray) -> Cells:
        """Blank out the rows whose value is flagged in `bad_values`."""
        return Cells(np.where(lookup(bad_values, self.codes, False), np.int32(-1), self.codes), self.values)


def value_bytes(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A (non-empty) string or binary array's offsets, one per value and one past the last, and
    its data buffer, as numpy views: value i is data[offsets[i] : offsets[i + 1]]."""
    offsets = np.frombuffer(values.buffers()[1], np.int32)[values.offset : values.offset + len(values) + 1]
    return offsets, np.frombuffer(values.buffers()[2] or b"", np.uint8)


def _empty(values: pa.StringArray) -> np.ndarray:
    """Values that are empty or null, read off arrow's offsets (no compute call per column: a
    ledger of one village has many small files)."""
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    empty = np.diff(value_bytes(values)[0]) == 0
    if values.null_count:
        empty |= np.asarray(values.is_null())
    return empty


def lookup(table: np.ndarray, codes: np.ndarray, missing) -> np.ndarray:
    """table[codes], with `missing` where a code is -1."""
    table = np.asarray(table)
    if missing is None and table.dtype.kind in "biu":
        table = table.astype(object)
    padded = np.concatenate([table, np.array([missing], dtype=table.dtype)])
    return padded[codes]


@dataclass
class CsvTable:
    columns: dict[int, Cells]  # by header position
    lines: np.ndarray  # physical line (1-based) where each row starts
    ragged: list[tuple[int, int]] = field(default_factory=list)  # (line, number of fields)
    # lines of rows whose every kept cell is blank: skipped, not counted as read
    blank_lines: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    encoding: str = "utf-8"
    fast: bool = False  # parsed by pyarrow in the bytes given (no decoding of the whole file first)

    def __len__(self) -> int:
        return len(self.lines)

    def frame(self) -> pd.DataFrame:
        """The kept columns as text (for small files such as units.csv)."""
        return pd.DataFrame(
            {str(i): pd.Series(c.per_value(c.text()), dtype="str") for i, c in self.columns.items()}
        )


@dataclass
class Source:
    """A file's bytes from offset `skip` (past a BOM) and what we know of them. The bytes are
    UTF-8, or, when `native` names an encoding, the file's own bytes in that encoding: they are
    parsed as they are and only the values read are decoded (see _decoded_values)."""

    raw: bytes  # as read from disk
    text: bytes  # the bytes parsed, from `skip` on: `raw` itself, or `raw` decoded to UTF-8
    skip: int
    encoding: str
    header: list[str]
    checked: bool  # True when the whole file is known to be valid UTF-8
    native: str | None = None

    @property
    def buffer(self) -> pa.Buffer:
        return pa.py_buffer(self.text).slice(self.skip)

    def head(self, size: int = 1 << 16) -> bytes:
        return self.text[self.skip : self.skip + size]

    def newlines(self) -> int:
        # numpy counts without holding the GIL (bytes.count holds it), so other files' threads
        # go on meanwhile; slices keep the comparison's temporary small.
        data = np.frombuffer(self.text, dtype=np.uint8)[self.skip :]
        step = 1 << 23
        return sum(int(np.count_nonzero(data[i : i + step] == 10)) for i in range(0, len(data), step))


def open_source(raw: bytes, encoding: str | None = None) -> Source:
    """Find the encoding and header. The body of a UTF-8 file is checked while it is parsed; a
    file whose header is GB18030 (what Excel and WPS save on Chinese Windows) is parsed in its
    own bytes, and the values read are decoded after parsing."""
    if encoding is None and not raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        skip = len(codecs.BOM_UTF8) if raw.startswith(codecs.BOM_UTF8) else 0
        head = raw[skip : skip + (1 << 16)]
        if _header_decodes(head, "utf-8"):
            return Source(raw, raw, skip, "utf-8-sig" if skip else "utf-8", read_header(head), False)
        if not skip and _header_decodes(head, _NATIVE):
            header = read_header(head.decode(_NATIVE, errors="replace").encode("utf-8"))
            return Source(raw, raw, 0, _NATIVE, header, False, native=_NATIVE)
    return _decoded(raw, encoding)


# GB18030 can be parsed as it is: the bytes of a multi-byte character are all 0x30 or above, so a
# comma, quote, tab or line break in the bytes is always that character.
_NATIVE = "gb18030"


def _decoded(raw: bytes, encoding: str | None = None) -> Source:
    utf8, found = decode(raw, encoding)
    return Source(raw, utf8, 0, found, read_header(utf8), True)


def _header_decodes(head: bytes, encoding: str) -> bool:
    line = head.split(b"\n", 1)[0]
    try:
        line.decode(encoding)
    except UnicodeDecodeError:
        return False
    return True


def decode(data: bytes, encoding: str | None = None) -> tuple[bytes, str]:
    """-> (UTF-8 bytes without BOM, the encoding found). Raises CsvProblem when undecodable."""
    if encoding:
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            line = data.count(b"\n", 0, getattr(exc, "start", 0)) + 1
            raise CsvProblem("file.undecodable", line, str(exc)) from None
        return text.lstrip("\ufeff").encode("utf-8"), encoding
    if data.startswith(codecs.BOM_UTF8):
        body = data[len(codecs.BOM_UTF8) :]
        _strict(body, "utf-8")
        return body, "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise CsvProblem("file.undecodable", data.count(b"\n\x00", 0, exc.start) + 1) from None
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
        raise CsvProblem("file.mixed_encoding", line)
    try:
        return data.decode("gb18030").encode("utf-8"), "gb18030"
    except UnicodeDecodeError as exc:  # the line where GB18030 fails, not where UTF-8 did
        raise CsvProblem("file.undecodable", data.count(b"\n", 0, exc.start) + 1) from None


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
        raise CsvProblem("file.undecodable", data.count(b"\n", 0, exc.start) + 1) from None


def _delimiter(first_line: bytes) -> str:
    # Excel's "Unicode text" and some WPS exports are tab-separated.
    return "\t" if b"\t" in first_line and b"," not in first_line else ","


def read_header(data: bytes) -> list[str]:
    first = data.split(b"\n", 1)[0]
    delim = _delimiter(first)
    text = data[: 1 << 16].decode("utf-8", errors="replace")
    for row in csv.reader(io.StringIO(text), delimiter=delim):
        if any(c.strip() for c in row):
            return [c.strip().lstrip("\ufeff") for c in row]
    return []


def read_table(
    source: Source, usecols: list[int], distinct: frozenset[int] = frozenset(), threads: bool = True
) -> CsvTable:
    """Parse the file; keep the header positions in `usecols`. Columns at positions in `distinct`
    hold mostly distinct values (ID numbers, names) and are kept a value per row; the others are
    dictionary-encoded. With `threads`, pyarrow parses blocks of the file on all cores (worth it
    when there are not other files to keep them busy)."""
    delim = _delimiter(source.head().split(b"\n", 1)[0])
    try:
        table = _read_fast(source, usecols, delim, distinct, threads)
    except (pa.ArrowInvalid, _Disagree, UnicodeDecodeError):
        if source.native or not source.checked:
            # A value that does not decode, rows that do not add up in the file's own bytes, a
            # byte that is not UTF-8, or rows that do not add up in a file whose bytes pyarrow
            # did not all check (a quote left open hides the lines after it): decide over the
            # whole file (GB18030, GBK inside UTF-8, or undecodable, with the line), and the exact
            # reader takes over from there.
            table = read_table(_decoded(source.raw), usecols, distinct, threads)
            table.fast = False
            return table
        table = _read_exact(source.text[source.skip :], usecols, delim, distinct)
    table.encoding = source.encoding
    return _drop_blank_rows(table)


class _Disagree(Exception):
    pass


def _parse(
    data: pa.Buffer,
    usecols: list[int],
    delim: str,
    width: int,
    on_invalid,
    distinct: frozenset[int],
    threads: bool,
    native: bool = False,
) -> pa.Table:
    names = [str(i) for i in range(width)]
    plain, coded = (pa.binary(), _BYTES) if native else (pa.string(), _TEXT)
    return pacsv.read_csv(
        pa.BufferReader(data),
        read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24, use_threads=threads),
        parse_options=pacsv.ParseOptions(
            delimiter=delim, newlines_in_values=True, invalid_row_handler=on_invalid
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={names[i]: plain if i in distinct else coded for i in usecols},
            include_columns=[names[i] for i in usecols],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )


def _read_fast(
    source: Source, usecols: list[int], delim: str, distinct: frozenset[int], threads: bool
) -> CsvTable:
    width = len(source.header)
    if width == 0:
        raise _Disagree
    skipped = []

    def on_invalid(row):
        skipped.append(row.actual_columns)
        return "skip"

    data = source.buffer
    # pyarrow decodes a row with the wrong number of fields as UTF-8 before it calls the handler,
    # and prints what fails there; a file whose bytes are not known to be UTF-8 stops at such a
    # row instead, and comes back checked (see read_table).
    handler = on_invalid if source.checked else None
    result = _parse(data, usecols, delim, width, handler, distinct, threads, source.native is not None)
    if result.num_rows == 0:
        raise _Disagree
    if not skipped and _lines_are_records(source, result.num_rows):
        lines, ragged = np.arange(2, result.num_rows + 1, dtype=np.int64), []  # header on line 1
    else:
        lines, ragged = _record_lines(np.frombuffer(data, dtype=np.uint8), delim, width, result, skipped)
    result = result.slice(1).unify_dictionaries()  # pyarrow returns the header as a row
    columns = {i: _cells(_as_text(result.column(str(i)), source.native), i in distinct) for i in usecols}
    return CsvTable(columns, lines, ragged, fast=True)


def _as_text(column: pa.ChunkedArray, encoding: str | None):
    """A column parsed from a file's own bytes, as UTF-8 text (as it is when already UTF-8)."""
    if encoding is None:
        return column
    column = column.combine_chunks() if column.num_chunks else pa.array([], column.type)
    if pa.types.is_dictionary(column.type):  # decode each distinct value once
        return pa.DictionaryArray.from_arrays(column.indices, _decoded_values(column.dictionary, encoding))
    return _decoded_values(column, encoding)


def _decoded_values(values: pa.BinaryArray, encoding: str) -> pa.StringArray:
    """Decode every value in one call: the values are joined with NUL bytes (which no GB18030
    character contains), decoded, and split again at the NULs by their positions. Raises
    UnicodeDecodeError when a value does not decode."""
    n = len(values)
    if n == 0:
        return pa.array([], pa.string())
    offsets, data = value_bytes(values)
    data = data[offsets[0] : offsets[-1]]
    if not (data >= 0x80).any():  # ASCII (ID numbers, codes, dates) is UTF-8 as it is
        return values.cast(pa.string())
    if (data == 0).any():  # a NUL of the ledger's own: one value at a time
        return pa.array([v if v is None else v.decode(encoding) for v in values.to_pylist()], pa.string())
    joined = np.insert(data, offsets[1:-1] - offsets[0], np.uint8(0))
    utf8 = np.frombuffer(joined.tobytes().decode(encoding).encode("utf-8"), np.uint8)
    ends = np.flatnonzero(utf8 == 0)
    starts = np.concatenate(([0], ends - np.arange(len(ends)), [len(utf8) - len(ends)]))
    text = pa.Array.from_buffers(
        pa.string(), n, [None, pa.py_buffer(starts.astype(np.int32)), pa.py_buffer(utf8[utf8 != 0])]
    )
    return pc.if_else(values.is_valid(), text, pa.scalar(None, pa.string())) if values.null_count else text


def _cells(column, distinct: bool) -> Cells:
    return Cells.each(column) if distinct else Cells.of(column)


def _lines_are_records(source: Source, rows: int) -> bool:
    """True when every physical line is one record (no blank line, no newline inside a value):
    then the file holds exactly as many lines as records."""
    newlines = source.newlines()
    ends_with_newline = source.text.endswith(b"\n")
    return (newlines if ends_with_newline else newlines + 1) == rows


def _record_lines(arr: np.ndarray, delim: str, width: int, result: pa.Table, skipped: list):
    """Line numbers of the rows pyarrow returned and the ragged rows it skipped, from the bytes."""
    starts, ends, lines = _record_bounds(arr)
    length = ends - starts
    cr_only = (length == 1) & (arr[np.minimum(starts, len(arr) - 1)] == 13)
    nonblank = (length > 0) & ~cr_only
    starts, ends, lines = starts[nonblank], ends[nonblank], lines[nonblank]
    if len(starts) == 0:
        raise _Disagree

    # Fields per record = delimiters outside quotes + 1.
    dpos = np.flatnonzero(arr == ord(delim))
    qpos = np.flatnonzero(arr == 34)
    if len(qpos):
        dpos = dpos[np.searchsorted(qpos, dpos) % 2 == 0]
    rec = np.searchsorted(ends, dpos)  # record index of each delimiter (by end offset)
    inside = (rec < len(ends)) & (dpos >= starts[np.minimum(rec, len(starts) - 1)])
    nfields = np.bincount(rec[inside], minlength=len(ends)) + 1
    if nfields[0] != width:
        raise _Disagree
    ragged_mask = nfields[1:] != width
    body_lines = lines[1:]
    if result.num_rows != int((~ragged_mask).sum()) + 1 or len(skipped) != int(ragged_mask.sum()):
        raise _Disagree
    ragged = list(zip(body_lines[ragged_mask].tolist(), nfields[1:][ragged_mask].tolist()))
    return body_lines[~ragged_mask], ragged


def _record_bounds(arr: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Start offsets, end offsets (exclusive, before the newline) and start lines of records."""
    nl = np.flatnonzero(arr == 10)
    qpos = np.flatnonzero(arr == 34)
    ends = nl[np.searchsorted(qpos, nl) % 2 == 0] if len(qpos) else nl
    if len(arr) and (len(ends) == 0 or ends[-1] != len(arr) - 1):
        ends = np.append(ends, len(arr))  # last record without a final newline
    starts = np.concatenate(([0], ends[:-1] + 1))
    lines = np.searchsorted(nl, starts) + 1
    return starts, ends, lines


def _read_exact(
    data: bytes, usecols: list[int], delim: str, distinct: frozenset[int] = frozenset()
) -> CsvTable:
    text = data.decode("utf-8")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    header, rows, lines, ragged = None, [], [], []
    line = 1
    try:
        for record in reader:
            start, line = line, reader.line_num + 1
            if not record or not any(c.strip() for c in record) and header is None:
                continue
            if header is None:
                header = [c.strip() for c in record]
                continue
            if len(record) != len(header):
                if any(c.strip() for c in record):
                    ragged.append((start, len(record)))
                continue
            rows.append([record[i] for i in usecols])
            lines.append(start)
    except csv.Error as exc:
        raise CsvProblem("file.unparsable", reader.line_num, str(exc)) from None
    if header is None:
        raise CsvProblem("file.empty", 1)
    columns = {}
    for j, i in enumerate(usecols):
        values = pa.array([r[j] for r in rows], pa.string())
        columns[i] = _cells(values, i in distinct)
    return CsvTable(columns, np.asarray(lines, dtype=np.int64), ragged)


def _drop_blank_rows(table: CsvTable) -> CsvTable:
    if not table.columns or len(table) == 0:
        return table
    blank = np.ones(len(table), dtype=bool)
    for cells in table.columns.values():
        blank &= cells.codes < 0
    if blank.any():
        keep = np.flatnonzero(~blank)
        table.columns = {i: c.take(keep) for i, c in table.columns.items()}
        table.blank_lines = table.lines[blank]
        table.lines = table.lines[keep]
    return table
