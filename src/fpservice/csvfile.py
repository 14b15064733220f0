"""One CSV file -> a frame of text cells with the physical line each row starts on.

Encodings are detected over the whole file (UTF-8 with or without BOM, then GB18030, which
covers GBK and GB2312), so a GBK character on line 90,000 is not mistaken for UTF-8.
The fast path hands the bytes to pyarrow and recovers line numbers with numpy (a newline ends a
record when an even number of quotes precede it). When anything does not add up — quotes in
odd places, a field larger than a block — the file is read again with Python's csv module,
which is slower but exact.
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

csv.field_size_limit(1 << 30)


class CsvProblem(Exception):
    """The file as a whole cannot be read: carries a finding code, line and detail."""

    def __init__(self, code: str, line: int | None = None, detail: str = ""):
        super().__init__(detail)
        self.code, self.line, self.detail = code, line, detail


@dataclass
class CsvTable:
    header: list[str]
    cells: pd.DataFrame  # columns named by header position ("0", "1", ...), text or missing
    lines: np.ndarray  # physical line (1-based) where each row of `cells` starts
    ragged: list[tuple[int, int]] = field(default_factory=list)  # (line, number of fields)
    blank_rows: int = 0  # rows whose every kept cell is blank: skipped, not counted as read
    encoding: str = "utf-8"


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
        return _without_stray_boms(body), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise CsvProblem("file.undecodable", data.count(b"\n\x00", 0, exc.start) + 1) from None
        return _without_stray_boms(text.encode("utf-8")), "utf-16"
    try:
        data.decode("utf-8")
        return _without_stray_boms(data), "utf-8"
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    line = data.count(b"\n", 0, first_bad) + 1
    if _mostly_utf8(data):
        # GBK pasted into a UTF-8 file: decoding it all as GB18030 would garble the rest.
        raise CsvProblem("file.mixed_encoding", line)
    try:
        return _without_stray_boms(data.decode("gb18030").encode("utf-8")), "gb18030"
    except UnicodeDecodeError:
        raise CsvProblem("file.undecodable", line) from None


def _without_stray_boms(data: bytes) -> bytes:
    """A BOM in the middle of a file (two exports pasted together) is not part of any value."""
    return data.replace(codecs.BOM_UTF8, b"") if codecs.BOM_UTF8 in data else data


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


def has_control_bytes(data: bytes) -> bool:
    """Any control character other than tab, newline and carriage return (NUL, DEL, …)?"""
    arr = np.frombuffer(data, dtype=np.uint8)
    ctrl = (arr < 0x20) & (arr != 9) & (arr != 10) & (arr != 13)
    return bool(ctrl.any() or (arr == 0x7F).any())


def _delimiter(first_line: bytes) -> str:
    # Excel's "Unicode text" and some WPS exports are tab-separated.
    return "\t" if b"\t" in first_line and b"," not in first_line else ","


def read_header(data: bytes) -> list[str]:
    first = data.split(b"\n", 1)[0]
    delim = _delimiter(first)
    text = data[: 1 << 16].decode("utf-8", errors="replace")
    for row in csv.reader(io.StringIO(text), delimiter=delim):
        if any(c.strip() for c in row):
            return [c.strip() for c in row]
    return []


def read_table(data: bytes, usecols: list[int], encoding: str = "utf-8") -> CsvTable:
    """Parse UTF-8 `data`; keep the header positions in `usecols`."""
    delim = _delimiter(data.split(b"\n", 1)[0])
    try:
        table = _read_fast(data, usecols, delim)
    except (pa.ArrowInvalid, _Disagree):
        table = _read_exact(data, usecols, delim)
    table.encoding = encoding
    return _drop_blank_rows(table)


class _Disagree(Exception):
    pass


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


def _read_fast(data: bytes, usecols: list[int], delim: str) -> CsvTable:
    arr = np.frombuffer(data, dtype=np.uint8)
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
    width = nfields[0]
    ragged_mask = nfields[1:] != width

    header = read_header(data)
    if len(header) != width:
        raise _Disagree
    names = [str(i) for i in range(width)]
    skipped = []

    def on_invalid(row):
        skipped.append(row.actual_columns)
        return "skip"

    result = pacsv.read_csv(
        io.BytesIO(data),
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=0, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(
            delimiter=delim, newlines_in_values=True, invalid_row_handler=on_invalid
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.string() for n in names},
            include_columns=[names[i] for i in usecols],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )
    body_lines = lines[1:]
    expected_rows = int((~ragged_mask).sum()) + 1  # pyarrow returns the header as a row
    if result.num_rows != expected_rows or len(skipped) != int(ragged_mask.sum()):
        raise _Disagree
    cells = result.slice(1).to_pandas()
    cells.index = pd.RangeIndex(len(cells))
    ragged = list(zip(body_lines[ragged_mask].tolist(), nfields[1:][ragged_mask].tolist()))
    return CsvTable(header, cells, body_lines[~ragged_mask], ragged)


def _read_exact(data: bytes, usecols: list[int], delim: str) -> CsvTable:
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
    cells = pd.DataFrame(rows, columns=[str(i) for i in usecols], dtype="str")
    cells = cells.where(cells != "")
    return CsvTable(header, cells, np.asarray(lines, dtype=np.int64), ragged)


def _drop_blank_rows(table: CsvTable) -> CsvTable:
    cells = table.cells
    if len(cells.columns) == 0 or len(cells) == 0:
        return table
    stripped = cells.apply(lambda c: c.str.strip())
    stripped = stripped.where(stripped != "")
    blank = stripped.isna().all(axis=1).to_numpy()
    table.cells = stripped[~blank].reset_index(drop=True)
    table.lines = table.lines[~blank]
    table.blank_rows = int(blank.sum())
    return table
