"""Categories of text through a shuffle (docs/partitioned.md). A shuffle carries rows as Arrow
tables, which unite the dictionaries of a categorical column only up to its index type: a file's
unit codes fit an 8-bit index, a county's do not. So the data's own categories (unit codes, a
destination, the file) cross as 32-bit codes among every read's values, and become categories
again in the partition, in the order the local engine joins them (`assemble.frames`)."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from fpservice.read import assemble
from fpservice.read.validate import text_dtype

Texts = dict[str, list[str]]  # per column of text, every read's values in order


@functools.cache
def shuffled(ledger: str) -> bool:
    """A ledger of persons: shuffled on the ID number (the others are dealt out whole)."""
    return "pid" in assemble.empty_frame(ledger)


@functools.cache
def columns(ledger: str) -> list[str]:
    """A ledger's categorical columns whose categories are the data's, not a vocabulary's. (An
    empty ledger's file column has a stand-in category.)"""
    expected = assemble.empty_frame(ledger)
    data = [
        name
        for name in expected.columns
        if isinstance(expected[name].dtype, pd.CategoricalDtype) and not len(expected[name].dtype.categories)
    ]
    return [*data, "file"]


def categories_of(ledger: str, frames: list[pd.DataFrame]) -> list[dict[str, list]]:
    """Each frame's categories of text (none for a ledger not shuffled: a request number is
    text, and of no use to the client)."""
    if not shuffled(ledger):
        return [{} for _ in frames]
    return [{name: list(frame[name].cat.categories) for name in columns(ledger)} for frame in frames]


def united(shapes: list[dict[str, list[dict[str, list]]]], rank: dict[str, int]) -> dict[str, Texts]:
    """Per shuffled ledger, the values of every read (`categories_of` per read and ledger), sorted
    as a read sorts them, the files in the order found (`rank`)."""
    seen: dict[str, dict[str, set]] = {}
    for shape in shapes:
        for ledger, frames in shape.items():
            if shuffled(ledger):
                mine = seen.setdefault(ledger, {name: set() for name in columns(ledger)})
                for categories in frames:
                    for name, values in categories.items():
                        mine[name].update(values)
    in_order = {"file": rank.__getitem__}
    return {
        ledger: {name: sorted(values, key=in_order.get(name)) for name, values in mine.items()}
        for ledger, mine in seen.items()
    }


def coded(frame: pd.DataFrame, texts: Texts) -> pd.DataFrame:
    """`frame` with its categories of text as codes (int32) among `texts`'."""
    codes = {}
    for name, values in texts.items():
        column = frame[name].cat.set_categories(values)
        codes[name] = column.cat.codes.to_numpy().astype(np.int32)
    return frame.assign(**codes)


def as_read(frame: pd.DataFrame, ledger: str, texts: Texts) -> pd.DataFrame:
    """A shuffled partition's rows with the columns and types a read gives: its codes of text as
    categories again, its vocabularies in their own order (Arrow's round trip unites them in the
    order met)."""
    expected = assemble.empty_frame(ledger)
    out = {}
    for name in expected.columns:
        column, want = frame[name], expected[name].dtype
        if name in texts:
            column = pd.Categorical.from_codes(column.to_numpy(), dtype=text_dtype(texts[name]))
        elif isinstance(want, pd.CategoricalDtype):
            if not column.cat.categories.equals(want.categories):
                column = column.cat.set_categories(want.categories)
        elif column.dtype != want:
            column = column.astype(want)
        out[name] = column if name in texts else column.array
    return pd.DataFrame(out, copy=False)
