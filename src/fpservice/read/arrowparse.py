"""pyarrow's parse of a CSV file's bytes, the first step of reading one (csvparse does the rest):
pyarrow alone, which lets go of the GIL from start to end. It needs neither pandas nor Arrow's
compute functions, so the head start (headstart.py) can begin it while they are imported."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.csv as pacsv

from fpservice.read.encodings import Source, delimiter

_BYTES = pa.dictionary(pa.int32(), pa.binary())


class Disagree(Exception):
    """The bytes must be read another way: no columns, no rows, or rows that do not add up."""


def _parse(
    data: pa.Buffer,
    usecols: list[int],
    delim: str,
    width: int,
    on_invalid,
    distinct: frozenset[int],
    threads: bool,
) -> pa.Table:
    """The columns at `usecols` as bytes, dictionary-encoded but for those in `distinct`. Bytes,
    not text: pyarrow checks a text column's UTF-8 cell by cell, while `_as_text` checks each
    distinct value once (csvparse._as_text; a 74 MB file of services: 0.29 -> 0.22 s)."""
    names = [str(i) for i in range(width)]
    return pacsv.read_csv(
        pa.BufferReader(data),
        read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24, use_threads=threads),
        parse_options=pacsv.ParseOptions(
            delimiter=delim, newlines_in_values=True, invalid_row_handler=on_invalid
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={names[i]: pa.binary() if i in distinct else _BYTES for i in usecols},
            include_columns=[names[i] for i in usecols],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )


@dataclass
class Parsed:
    """pyarrow's parse of a file's bytes: the table, the number of fields of each row it skipped
    for having the wrong number, and what it was made of (positions kept, those kept a value per
    row, the delimiter)."""

    table: pa.Table | None  # None once coded (see csvparse._coded)
    skipped: list[int]
    shape: tuple[tuple[int, ...], frozenset[int], str]


def parse(
    source: Source, usecols: list[int], *, delim: str, distinct: frozenset[int], threads: bool
) -> Parsed:
    """The fast parse of a file (pyarrow alone: no pandas, and the GIL let go of meanwhile). Raises
    ArrowInvalid or Disagree when the file must be read another way (see csvparse.read_table)."""
    width = len(source.header)
    if width == 0:
        raise Disagree
    skipped = []

    def on_invalid(row):
        skipped.append(row.actual_columns)
        return "skip"

    # pyarrow decodes a row with the wrong number of fields as UTF-8 before it calls the handler,
    # and prints what fails there; a file whose bytes are not known to be UTF-8 stops at such a
    # row instead, and comes back checked (see read_table).
    handler = on_invalid if source.checked else None
    result = _parse(source.buffer, usecols, delim, width, handler, distinct, threads)
    if result.num_rows == 0:
        raise Disagree
    return Parsed(result, skipped, (tuple(usecols), distinct, delim))


def delimiter_of(source: Source) -> str:
    return delimiter(source.head().split(b"\n", 1)[0])
