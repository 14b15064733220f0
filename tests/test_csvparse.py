"""The CSV parser: rows, their physical lines, ragged and blank rows, whatever the quoting."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fpservice import read
from tests.ledgerkit import V1


def test_row_accounting_with_ragged_blank_and_quoted_rows(ledger_dir):
    text = (
        "村居代码,岗位,备注\n"
        f'{V1},专职,"两行\n备注"\n'  # lines 2-3: one row
        "\n"  # line 4: blank line, not a row
        f"{V1},兼职\n"  # line 5: ragged
        ",,\n"  # line 6: blank row
        f"{V1},专职,,多\n"  # line 7: ragged
        f"{V1},协管员,x\n"
    )  # line 8
    (ledger_dir / "staff.csv").write_text(text, encoding="utf-8")
    result = read.load(ledger_dir)
    account = result.accounts[0]
    assert (account.read, account.used, account.rejected, account.skipped) == (5, 2, 2, 1)  # read = all three
    assert [(f.code, f.line) for f in result.findings] == [("row.ragged", 5), ("row.ragged", 7)]
    assert result.frames["staff"]["line"].tolist() == [2, 8]


cell_text = st.text(alphabet='ab甲 ,"\n', max_size=6)


@given(
    rows=st.lists(st.lists(cell_text, min_size=3, max_size=3), min_size=1, max_size=12),
    blank_after=st.sets(st.integers(0, 12), max_size=3),
    crlf=st.booleans(),
    final_newline=st.booleans(),
    encoding=st.sampled_from(["utf-8", "gb18030"]),
)
@settings(max_examples=300, deadline=None)
def test_the_fast_reader_agrees_with_the_csv_module(rows, blank_after, crlf, final_newline, encoding):
    """pyarrow with line numbers by newline count (or by quote parity) must give the same cells
    and the same physical lines as Python's csv module, whatever the quoting, blank lines and
    line endings, and whether the file is UTF-8 or GB18030 parsed in its own bytes. The middle
    column is read a value per row (as ID numbers are), the others dictionary-encoded: both must
    give the same cells."""
    import csv as csvmod
    import io

    from fpservice.read import csvparse, encodings

    newline = "\r\n" if crlf else "\n"
    out = io.StringIO()
    writer = csvmod.writer(out, lineterminator=newline)
    writer.writerow(["甲", "乙", "丙"])
    for i, row in enumerate(rows):
        writer.writerow(row)
        if i in blank_after:
            out.write(newline)
    text = out.getvalue()
    if not final_newline:
        text = text[: -len(newline)]

    source = encodings.open_source(text.encode(encoding))
    assert source.encoding == encoding
    fast = csvparse.read_table(source, [0, 1, 2], distinct=frozenset({1}))
    exact = csvparse.drop_blank_rows(csvparse._read_exact(text.encode("utf-8"), [0, 1, 2], ","))
    assert fast.lines.tolist() == exact.lines.tolist()
    assert fast.ragged == exact.ragged and list(fast.blank_lines) == list(exact.blank_lines)
    for i in (0, 1, 2):
        a, b = fast.columns[i], exact.columns[i]
        assert a.per_value(a.text()).tolist() == b.per_value(b.text()).tolist()
        for cells in (a, b):  # every value is some row's (the header's too only when a row repeats it)
            held = np.bincount(cells.codes[cells.codes >= 0], minlength=len(cells.values))
            assert (held > 0).all() and "" not in cells.text().tolist()


_CELLS = ["330205198001010011", "3302051980010100X", " 12 ", "\t7", "", None, "王芳", "é", "\u3000x"]


@given(st.lists(st.sampled_from(_CELLS), max_size=40), st.integers(0, 12_000))
@settings(max_examples=60, deadline=None)
def test_long_columns_become_text_and_cells_as_a_checked_cast_and_a_trim_make_them(sample, repeat):
    """A long column of ASCII bytes is taken as text without checking it again, and a column with
    nothing to trim is not trimmed: what comes out is what the cast and the trim give."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from fpservice.read import csvparse
    from fpservice.read.cells import _TRIMMED, Cells

    values = pa.array([None if v is None else v.encode() for v in sample * (repeat // 40 + 1)], pa.binary())
    text = csvparse._text(values, None)
    assert text.equals(values.cast(pa.string()))
    text.validate(full=True)
    cells = Cells.each(text)
    trimmed = pc.utf8_trim(text, _TRIMMED).to_pylist()
    assert [None if c < 0 else cells.values[int(c)].as_py() for c in cells.codes] == [
        v or None for v in trimmed
    ]
