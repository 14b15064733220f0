"""One CSV file's bytes -> coded columns (`Cells`) and the physical line each row starts on.

The fast path hands the bytes to pyarrow (see `encodings` for which bytes). Line numbers come
for free when every physical line is one record (the newline count proves it); otherwise numpy
finds the records (a newline ends one when an even number of quotes precede it). When anything
does not add up — quotes in odd places, a field larger than a block — the file is read again
with Python's csv module, which is slower but exact.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fpservice.arrowtext import ascii_as_text, byte_span, value_bytes, whole
from fpservice.read.arrowparse import Disagree, Parsed, delimiter_of, parse
from fpservice.read.cells import Cells
from fpservice.read.encodings import Source, decoded
from fpservice.read.problem import FileProblem

# The exact reader's limit on one field: a ledger cell may be megabytes (a pasted document);
# it is read, checked and reported, not refused.
_FIELD_LIMIT = 1 << 30


@dataclass
class CsvTable:
    columns: dict[int, Cells]  # by header position
    lines: np.ndarray  # physical line (1-based) where each row starts
    ragged: list[tuple[int, int]] = field(default_factory=list)  # (line, number of fields)
    # lines of rows whose every kept cell is blank: skipped
    blank_lines: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    encoding: str = "utf-8"
    fast: bool = False  # parsed by pyarrow in the bytes given (no decoding of the whole file first)
    above: int = 0  # rows above the header (a title, 填报单位：…): skipped

    def __len__(self) -> int:
        return len(self.lines)

    def frame(self):
        """The kept columns as text (for small files such as units.csv)."""
        import pandas as pd  # (parsing itself needs no pandas: see headstart)

        return pd.DataFrame(
            {str(i): pd.Series(c.per_value(c.text()), dtype="str") for i, c in self.columns.items()}
        )


def read_table(
    source: Source,
    usecols: list[int],
    distinct: frozenset[int] = frozenset(),
    threads: bool = True,
    parsed: Parsed | None = None,
) -> CsvTable:
    """Parse the file; keep the header positions in `usecols`. Columns at positions in `distinct`
    hold mostly distinct values (ID numbers, names) and are kept a value per row; the others are
    dictionary-encoded. With `threads`, pyarrow parses blocks of the file on all cores (worth it
    when there are not other files to keep them busy). `parsed`: pyarrow's parse of these bytes
    made already (`parse`, by the head start), used when it was made of the same columns."""
    delim = delimiter_of(source)
    try:
        if parsed is None or parsed.table is None or parsed.shape != (tuple(usecols), distinct, delim):
            parsed = parse(source, usecols, delim=delim, distinct=distinct, threads=threads)
        table = _coded(source, parsed)
    except (pa.ArrowInvalid, Disagree, UnicodeDecodeError):
        if source.native or not source.checked:
            # A value that does not decode, rows that do not add up in the file's own bytes, a
            # byte that is not UTF-8, or rows that do not add up in a file whose bytes pyarrow
            # did not all check (a quote left open hides the lines after it): decide over the
            # whole file (GB18030, GBK inside UTF-8, or undecodable, with the line), and the exact
            # reader takes over from there.
            table = read_table(decoded(source.raw, headers=source.headers), usecols, distinct, threads)
            table.fast = False
            return table
        table = _read_exact(source.text[source.skip :], usecols, delim, distinct)
    table.encoding, table.above = source.encoding, source.above
    return _from_line(drop_blank_rows(table), source.first_line)


def _from_line(table: CsvTable, first_line: int) -> CsvTable:
    """Lines counted from the header's line (1) as lines of the file, whose header is on `first_line`."""
    if first_line > 1:
        shift = first_line - 1
        table.lines = table.lines + shift
        table.blank_lines = table.blank_lines + shift
        table.ragged = [(line + shift, n) for line, n in table.ragged]
    return table


def _coded(source: Source, parsed: Parsed) -> CsvTable:
    """The parsed columns as `Cells`, with the line each row starts on. The parse lets go of its
    table: whoever handed it on (the loader, the head start) may hold it through validation."""
    result, skipped, parsed.table = parsed.table, parsed.skipped, None
    usecols, distinct, delim = parsed.shape
    if not skipped and _lines_are_records(source, result.num_rows):
        lines, ragged = np.arange(2, result.num_rows + 1, dtype=np.int64), []  # header on line 1
    else:
        data = np.frombuffer(source.buffer, dtype=np.uint8)
        lines, ragged = _record_lines(data, delim, len(source.header), result, skipped)
    result = result.unify_dictionaries()
    # pyarrow returns the header as a row: its values are in the dictionaries, held by no row
    # unless one repeats the header
    header = {i: result.column(str(i))[0].index.as_py() for i in usecols if i not in distinct}
    result = result.slice(1)
    columns = {
        i: _cells(_as_text(result.column(str(i)), source.native), i in distinct, header.get(i))
        for i in usecols
    }
    return CsvTable(columns, lines, ragged, fast=True)


def _as_text(column: pa.ChunkedArray, encoding: str | None) -> pa.Array:
    """A column parsed as bytes, as UTF-8 text: checked when the file is UTF-8 (`encoding` None),
    decoded from the file's own encoding otherwise; a dictionary's distinct values once. Raises
    ArrowInvalid (not UTF-8) or UnicodeDecodeError when a value is not in the encoding."""
    column = whole(column, column.type)
    if pa.types.is_dictionary(column.type):
        return pa.DictionaryArray.from_arrays(column.indices, _text(column.dictionary, encoding))
    return _text(column, encoding)


def _text(values: pa.BinaryArray, encoding: str | None) -> pa.StringArray:
    """ASCII (ID numbers, codes, dates) is UTF-8 as it is: in a GB18030 file it is not decoded,
    and a long column of a UTF-8 file is not checked again (a million ID numbers: checked as
    UTF-8 in 8 ms, found ASCII in 2 ms; a dictionary's few distinct values are cast at once)."""
    if (encoding is not None or len(values) > _CHECKED_CAST) and byte_span(values)[1] < 0x80:
        return ascii_as_text(values)
    return values.cast(pa.string()) if encoding is None else _decoded_values(values, encoding)


_CHECKED_CAST = 10_000  # values in a column of a UTF-8 file above which it is looked at first


def _decoded_values(values: pa.BinaryArray, encoding: str) -> pa.StringArray:
    """Decode every value in one call: the values are joined with NUL bytes (which no GB18030
    character contains), decoded, and split again at the NULs by their positions. Raises
    UnicodeDecodeError when a value does not decode."""
    n = len(values)
    offsets, data = value_bytes(values)
    data = data[offsets[0] : offsets[-1]]
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


def _cells(column, distinct: bool, header: int | None = None) -> Cells:
    return Cells.each(column) if distinct else Cells.of(column, header)


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
        raise Disagree

    # Fields per record = delimiters outside quotes + 1.
    dpos = np.flatnonzero(arr == ord(delim))
    qpos = np.flatnonzero(arr == 34)
    if len(qpos):
        dpos = dpos[np.searchsorted(qpos, dpos) % 2 == 0]
    rec = np.searchsorted(ends, dpos)  # record index of each delimiter (by end offset)
    inside = (rec < len(ends)) & (dpos >= starts[np.minimum(rec, len(starts) - 1)])
    nfields = np.bincount(rec[inside], minlength=len(ends)) + 1
    if nfields[0] != width:
        raise Disagree
    ragged_mask = nfields[1:] != width
    body_lines = lines[1:]
    if result.num_rows != int((~ragged_mask).sum()) + 1 or len(skipped) != int(ragged_mask.sum()):
        raise Disagree
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
    if csv.field_size_limit() < _FIELD_LIMIT:  # the csv module's limit is process-wide: raised, never lowered
        csv.field_size_limit(_FIELD_LIMIT)
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
            if len(record) != len(header):  # blank or a footer? the caller looks (as at the fast reader's)
                ragged.append((start, len(record)))
                continue
            rows.append([record[i] for i in usecols])
            lines.append(start)
    except csv.Error as exc:
        raise FileProblem("file.unparsable", reader.line_num, str(exc)) from None
    if header is None:
        raise FileProblem("file.empty", 1)
    columns = {}
    for j, i in enumerate(usecols):
        values = pa.array([r[j] for r in rows], pa.string())
        columns[i] = _cells(values, i in distinct)
    return CsvTable(columns, np.asarray(lines, dtype=np.int64), ragged)


def drop_blank_rows(table: CsvTable) -> CsvTable:
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
