"""Arrow string columns seen as bytes: the reader and the ID parser look at values' bytes
directly (offsets and one data buffer) instead of turning millions of values into Python text."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def whole(column: pa.ChunkedArray | pa.Array, empty: pa.DataType) -> pa.Array:
    """A column as one array: a chunked one's chunks joined (with no chunks, an empty array of
    type `empty`)."""
    if not isinstance(column, pa.ChunkedArray):
        return column
    return column.combine_chunks() if column.num_chunks else pa.array([], empty)


def value_bytes(values: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A (non-empty) string or binary array's offsets, one per value and one past the last, and
    its data buffer, as numpy views: value i is data[offsets[i] : offsets[i + 1]]."""
    offsets = np.frombuffer(values.buffers()[1], np.int32)[values.offset : values.offset + len(values) + 1]
    return offsets, np.frombuffer(values.buffers()[2] or b"", np.uint8)
