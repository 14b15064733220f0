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


def byte_span(values: pa.Array) -> tuple[int, int]:
    """The lowest and highest byte in the values, (256, -1) when there is none: two passes without
    a temporary array, which spare most columns the scans that would find nothing (an ID
    number's bytes are digits and X, all of a name's 0x80 and above)."""
    offsets, data = value_bytes(values)
    data = data[offsets[0] : offsets[-1]] if len(values) else data[:0]
    return (int(data.min()), int(data.max())) if len(data) else (256, -1)


def ascii_as_text(values: pa.Array) -> pa.Array:
    """Binary values whose bytes are all ASCII (see byte_span), as text: the same buffers, since
    ASCII is UTF-8 already (a cast would check every byte again)."""
    return pa.Array.from_buffers(pa.string(), len(values), values.buffers(), values.null_count, values.offset)
