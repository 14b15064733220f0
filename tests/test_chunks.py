"""A large file read in pieces (what a Dask worker does with a quarter's services) must say what
it says read whole: the same rows, findings in the same order with the file's own lines, the
same account."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fpservice.read import assemble, chunks
from fpservice.read.ledgerfile import read_ledger_file
from fpservice.units import empty as no_units
from tests.ledgerkit import SERVICES, V2, make_id, service
from tests.test_batches import FALLBACK, GOOD, HEADER, ODD

TODAY = dt.date(2012, 1, 1)
SERVICE_LINES = [
    ",".join(service(make_id(seq=3), "2011-07-01")),
    ",".join(service(make_id(seq=4), "2011-02-30")),  # a bad date
    ",".join(service("330205198001011234", "2011-07-01", unit=V2)),  # a wrong check digit
    ",".join(service(make_id(seq=5), "2011-07-01", item="看病")),  # not a service item
    ",".join(service(make_id(seq=6), "2011-07-01", free="也许")),  # not yes or no
    ",".join(service(make_id(seq=7), "2011-07-01", unit="33020500100")),  # a unit code too short
    ",".join(service(make_id(seq=8), "2013-01-01")),  # after today
]


def read_chunked(path, rel, units, encoding, today, chunk_bytes=None):
    """A file's pieces, read one after the other, as the Dask engine's tasks read them; None when
    it is to be read whole."""
    pieces = chunks.plan(path, chunk_bytes=chunk_bytes)
    if pieces is None:
        return None
    return (chunks.read_piece(path, piece, rel, units, encoding, today) for piece in pieces)


def units(d: Path):
    return no_units()  # no units.csv: village codes are checked by their form


def read_both(path: Path, size: int):
    whole = read_ledger_file(path.read_bytes(), path.name, units(path.parent), None, TODAY, False)
    pieces = read_chunked(path, path.name, units(path.parent), None, TODAY, chunk_bytes=size)
    return whole, pieces


def assert_same_as_whole(whole, pieces) -> int:
    parts = list(pieces)
    got = chunks.merged(parts)
    assert got.accounts == whole.accounts
    assert got.findings == whole.findings
    assert got.villages == whole.villages
    assert got.valid_days == whole.valid_days
    ledger = whole.accounts[0].ledger
    rank = {whole.accounts[0].file: 0}
    none = {key: [] for key in assemble.LEDGER_TYPES}
    one = assemble.frames({**none, ledger: [whole.frame]}, rank)[ledger]
    many = assemble.frames({**none, ledger: [p.frame for p in parts]}, rank)[ledger]
    pd.testing.assert_frame_equal(many, one)
    return len(parts)


@given(
    lines=st.lists(st.sampled_from(GOOD + ODD), min_size=1, max_size=40),
    size=st.integers(min_value=1, max_value=600),
    crlf=st.booleans(),
    final_newline=st.booleans(),
)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_file_read_in_pieces_says_what_it_says_whole(lines, size, crlf, final_newline):
    newline = b"\r\n" if crlf else b"\n"
    data = newline.join([HEADER.encode(), *(x.encode() for x in lines)]) + (newline if final_newline else b"")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "流入人口.csv"
        path.write_bytes(data)
        whole, pieces = read_both(path, size)
        if pieces is not None:
            try:
                assert_same_as_whole(whole, pieces)
            except chunks.Whole:  # read whole, then: only for what the exact reader must find
                assert any(f.code.startswith("file.") or f.line is None for f in whole.findings) or (
                    whole.accounts[0].rejected
                )


@pytest.mark.parametrize("size", [60, 300, 1000])
def test_a_services_file_with_every_kind_of_problem_in_pieces(tmp_path, size):
    path = tmp_path / "服务.csv"
    body = [SERVICE_LINES[i % len(SERVICE_LINES)] for i in range(7 * 30)]
    path.write_text("\n".join([",".join(SERVICES), *body]) + "\n", encoding="utf-8")
    whole, pieces = read_both(path, size)
    assert pieces is not None
    assert assert_same_as_whole(whole, pieces) > 3
    assert len({f.code for f in whole.findings}) >= 5


def test_a_file_with_a_lone_carriage_return_is_read_whole(tmp_path):
    """Only the exact reader ends a line at a lone CR: the file's lines are known read whole."""
    path = tmp_path / "服务.csv"
    body = [SERVICE_LINES[i % 3] for i in range(300)]
    body[200] += "\r,extra"
    path.write_text("\n".join([",".join(SERVICES), *body]) + "\n", encoding="utf-8")
    whole, pieces = read_both(path, 500)
    assert [f.line for f in whole.findings if f.code == "row.ragged"] == [203]
    with pytest.raises(chunks.Whole):
        list(pieces)


def test_a_gb18030_file_in_pieces(tmp_path):
    path = tmp_path / "服务.csv"
    body = [SERVICE_LINES[i % 3] for i in range(300)]
    path.write_bytes(("\n".join([",".join(SERVICES), *body]) + "\n").encode("gb18030"))
    whole, pieces = read_both(path, 500)
    assert whole.accounts[0].encoding == "gb18030"
    assert assert_same_as_whole(whole, pieces) > 3


def test_quoted_line_breaks_stay_in_their_piece(tmp_path):
    path = tmp_path / "服务.csv"
    quoted = ",".join(service(make_id(seq=9), "2011-07-01", place='"现居\n住地"'))
    body = [quoted if i % 3 == 0 else SERVICE_LINES[0] for i in range(200)]
    path.write_text("\n".join([",".join(SERVICES), *body]) + "\n", encoding="utf-8")
    whole, pieces = read_both(path, 97)
    assert assert_same_as_whole(whole, pieces) > 3


def test_a_quote_left_open_sends_the_file_to_be_read_whole(tmp_path):
    path = tmp_path / "流入人口.csv"
    odd = FALLBACK[0].encode()
    lines = [HEADER.encode(), *(x.encode() for x in GOOD * 20), odd, *(x.encode() for x in GOOD * 20)]
    path.write_bytes(b"\n".join(lines) + b"\n")
    whole, pieces = read_both(path, 200)
    assert [f.code for f in whole.findings] == ["row.ragged"]  # the rest of the file: one bad row
    with pytest.raises(chunks.Whole):  # the exact reader read the piece it opens
        list(pieces)


def test_a_file_the_pieces_cannot_take_is_read_whole(tmp_path):
    path = tmp_path / "流入人口.csv"
    odd = FALLBACK[1]  # GBK in a UTF-8 file: a problem of the whole file
    lines = [HEADER.encode(), *(x.encode() for x in GOOD * 20), odd, *(x.encode() for x in GOOD * 20)]
    path.write_bytes(b"\n".join(lines) + b"\n")
    whole, pieces = read_both(path, 200)
    assert [f.code for f in whole.findings] == ["file.mixed_encoding"]
    with pytest.raises(chunks.Whole):
        list(pieces)


def test_small_files_and_titled_files_are_read_whole(tmp_path):
    small = tmp_path / "small.csv"
    small.write_text("\n".join([HEADER, *GOOD]) + "\n", encoding="utf-8")
    assert read_chunked(small, "small.csv", units(tmp_path), None, TODAY, chunk_bytes=1 << 20) is None
    titled = tmp_path / "titled.csv"
    titled.write_text("\n".join(["流入人口信息登记簿", HEADER, *GOOD * 20]) + "\n", encoding="utf-8")
    assert read_chunked(titled, "titled.csv", units(tmp_path), None, TODAY, chunk_bytes=100) is None


def test_pieces_end_at_line_breaks_outside_quotes():
    data = b"h\n" + b'a,"x\ny"\n' * 50 + b"b,c\n" * 50
    assert chunks.ranges(data, chunk_bytes=10) is None  # the header "h" names no ledger: read whole
    head = HEADER.encode() + b"\n"
    data = head + b'1,"x\ny"\n' * 50 + b"2,c\n" * 50
    spans = chunks.ranges(data, chunk_bytes=10)
    assert spans[0][0] == len(head) and spans[-1][1] == len(data)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    assert all(data[start:stop].count(b'"') % 2 == 0 for start, stop in spans)
    assert all(data[stop - 1 : stop] == b"\n" for _, stop in spans)


PLAN_PEAK = """
import sys
from pathlib import Path
from fpservice.read import chunks
def kib(name):  # this process's resident memory now (VmRSS), or at its peak (VmHWM)
    return int(next(line for line in open("/proc/self/status") if line.startswith(name)).split()[1])
now = kib("VmRSS:")
pieces = chunks.plan(Path(sys.argv[1]), chunk_bytes=4 << 20)
print(len(pieces), (kib("VmHWM:") - now) >> 10)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="resident memory read from Linux's /proc")
def test_planning_pieces_holds_a_piece_of_the_file_not_the_file(tmp_path):
    """A worker plans a quarter's services (a GB at 10 million persons) by counting through the
    mapped file: each piece's pages are let go once counted, so its memory stays near a piece's,
    where holding the pages of the whole file made Dask spill for memory it did not use."""
    import subprocess
    import sys

    path = tmp_path / "services.csv"
    row = ",".join(service(make_id(seq=3), "2011-07-01")) + "\n"
    path.write_text(",".join(SERVICES) + "\n" + row * (96_000_000 // len(row.encode())), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", PLAN_PEAK, str(path)], capture_output=True, text=True, check=True
    )
    pieces, grown_mib = map(int, done.stdout.split())
    assert pieces >= 20
    assert grown_mib < 40  # the file is 96 MB; a piece 4 MiB
