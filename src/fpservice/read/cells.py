"""One column of a ledger as it was written: `Cells`, a code per row and the distinct values once.

A ledger of a million rows holds a few thousand distinct dates, a few hundred unit codes and a
handful of vocabulary words, so validation looks at each distinct value once and gives the
result back to the rows by their codes. Columns of nearly distinct values (ID numbers, names)
are kept a value per row (`dense`), since sharing them would cost more than it saves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from fpservice.arrowtext import byte_span, value_bytes, whole

TEXT = pa.dictionary(pa.int32(), pa.string())
# What Python's str.strip() removes, and stray byte-order marks (two exports pasted together).
_TRIMMED = "".join(c for c in map(chr, range(0x3001)) if c.isspace()) + "\ufeff"


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
    def of(cls, column: pa.ChunkedArray | pa.Array, header: int | None = None) -> Cells:
        """From a dictionary-encoded (or plain string) arrow column whose dictionary was built from
        its rows (pyarrow's CSV parse, `dictionary_encode`): every value is held by some row, but
        for `header`, the position of the header's value (pyarrow read the header as a row), kept
        only if a row repeats it. Blank values are dropped and their rows are blank."""
        column = whole(column, TEXT)
        if not pa.types.is_dictionary(column.type):
            column = column.dictionary_encode()
        codes = pc.fill_null(column.indices, -1).to_numpy(zero_copy_only=False).astype(np.int32, copy=False)
        values = pc.utf8_trim(column.dictionary, _TRIMMED)
        held = ~_empty(values)  # a blank value's rows are blank
        if header is not None and held[header]:  # one pass looking for one code, not a count of all
            held[header] = bool((codes == header).any())
        return cls(codes, values)._without_unheld(held)

    @classmethod
    def each(cls, column: pa.ChunkedArray | pa.Array) -> Cells:
        """From a plain string column whose values are mostly distinct (ID numbers, names): row i
        holds value i, and hashing the values to share them would cost more than it saves. Blank
        rows hold no value, so the values are the non-blank rows' in order."""
        values = whole(column, pa.string())
        lowest, highest = byte_span(values)
        if lowest <= 0x20 or highest >= 0x80:  # else no byte is whitespace or a BOM: none to trim
            values = pc.utf8_trim(values, _TRIMMED)
        filled = ~_empty(values)
        if filled.all():
            return cls(np.arange(len(values), dtype=np.int32), values, dense=True)
        codes = np.full(len(values), -1, dtype=np.int32)
        codes[filled] = np.arange(np.count_nonzero(filled), dtype=np.int32)
        return cls(codes, values.filter(pa.array(filled)))

    def compact(self) -> Cells:
        """Drop values no row holds (a subset of rows taken)."""
        return self._without_unheld(np.bincount(self.codes + 1, minlength=len(self.values) + 1)[1:] > 0)

    def _without_unheld(self, held: np.ndarray) -> Cells:
        """Only the values in `held`, renumbered; rows holding one of the others become blank."""
        if held.all():
            return self
        renumber = np.where(held, np.cumsum(held, dtype=np.int32) - 1, np.int32(-1))
        return Cells(lookup(renumber, self.codes, np.int32(-1)), self.values.filter(pa.array(held)))

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
