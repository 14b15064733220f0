"""Small files with one header (a file per village) are read together. Whatever their rows hold,
the result must be what reading each file alone gives: the same rows, the same findings with
each file's own line numbers, the same account per file."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fpservice import read
from fpservice.read import discover, loader
from fpservice.read.cache import LedgerCache
from fpservice.schema import LEDGER_TYPES
from tests.ledgerkit import PERSONS, V1, V2, make_id, person, run, write_csv

HEADER = ",".join(PERSONS)
GOOD = [",".join(person(id_=make_id(seq=i), unit=(V1, V2)[i % 2])) for i in range(6)]
# Lines that each make a file harder to read: rejected rows, rows that are skipped, and lines
# that make the batch go back to reading its files one by one (a quote left open, GBK bytes).
ODD = [
    ",".join(person(id_=make_id(seq=7), arrived="2011-13-01")),  # a bad date: rejected
    ",".join(person(id_=make_id(seq=8))[:-1]),  # a field short: ragged
    ",".join(person(id_="330205198001011234")),  # a wrong check digit
    "",  # a blank line
    "," * (len(PERSONS) - 1),  # a row of blank cells
    HEADER,  # the header again
    ",".join(person(id_=make_id(seq=9), name='"王\n芳"')),  # a line break inside quotes
    ",".join(person(id_=make_id(seq=10), name="王\x07芳")),  # a control character
]
FALLBACK = [
    ",".join(person(id_=make_id(seq=11), name='"王芳')),  # a quote left open
    ",".join(person(id_=make_id(seq=12), name="王芳")).encode("gbk"),  # GBK in a UTF-8 file
]


def write_files(d: Path, bodies: list[list], crlf: bool, final_newline: bool) -> None:
    newline = b"\r\n" if crlf else b"\n"
    for i, body in enumerate(bodies):
        lines = [HEADER.encode()] + [x if isinstance(x, bytes) else x.encode() for x in body]
        data = newline.join(lines) + (newline if final_newline else b"")
        path = d / f"村{i:02d}" / "流入人口.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def read_both(d: Path, monkeypatch) -> tuple:
    together = read.load(d)
    with monkeypatch.context() as m:
        m.setattr(discover, "BATCH_FILE", 0)  # no file is small enough: each is read alone
        alone = read.load(d)
    return together, alone


def assert_same(together, alone) -> None:
    assert together.accounts == alone.accounts
    assert together.findings == alone.findings
    for key in LEDGER_TYPES:
        pd.testing.assert_frame_equal(together.frames[key], alone.frames[key])


@given(
    bodies=st.lists(
        st.lists(st.sampled_from(GOOD + ODD + FALLBACK), max_size=8),
        min_size=2,
        max_size=5,
    ),
    crlf=st.booleans(),
    final_newline=st.booleans(),
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_files_read_together_say_what_each_says_alone(bodies, crlf, final_newline, monkeypatch):
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        write_files(d, bodies, crlf, final_newline)
        assert_same(*read_both(d, monkeypatch))


@pytest.mark.parametrize("odd", FALLBACK, ids=["open quote", "gbk"])
def test_a_file_the_batch_cannot_take_is_read_alone(tmp_path, monkeypatch, odd):
    write_files(tmp_path, [GOOD[:2], [GOOD[2], odd], GOOD[3:]], crlf=False, final_newline=True)
    together, alone = read_both(tmp_path, monkeypatch)
    assert_same(together, alone)
    assert any(f.file == "村01/流入人口.csv" for f in together.findings)


def test_a_batch_is_really_read_as_one(tmp_path, monkeypatch):
    write_files(tmp_path, [GOOD[:3], GOOD[3:], [ODD[0]]], crlf=False, final_newline=True)
    reads = []
    original = loader.read_batch
    monkeypatch.setattr(loader, "read_batch", lambda *a, **k: reads.append(original(*a, **k)) or reads[-1])
    read.load(tmp_path)
    assert len(reads) == 1 and reads[0] is not None and len(reads[0].accounts) == 3


def test_a_plain_batch_counts_its_line_breaks_once(tmp_path, monkeypatch):
    """The files' line breaks are counted as they are joined; with no blank line and no line
    break inside a value, that count tells the parser's rows are the lines, and neither the
    joined bytes are counted again nor each record's line looked for."""
    from fpservice.read import csvparse, encodings

    write_files(tmp_path, [GOOD[:3], GOOD[3:]], crlf=True, final_newline=False)
    looked = []
    monkeypatch.setattr(encodings, "newlines_in", lambda *a: looked.append("counted again"))
    original = csvparse._record_lines
    monkeypatch.setattr(csvparse, "_record_lines", lambda *a: looked.append("records") or original(*a))
    together = read.load(tmp_path)
    assert looked == []
    monkeypatch.undo()
    assert_same(together, read_both(tmp_path, monkeypatch)[1])


def test_village_files_through_the_cli_name_their_own_file_and_line(tmp_path):
    """Forty village files with one header; one bad date on line 3 of one of them."""
    for i in range(40):
        rows = [person(id_=make_id(seq=2 * i + k, birth=f"19{70 + i % 20}0101"), unit=V1) for k in range(2)]
        if i == 17:
            rows[1][5] = "2011-02-30"
        write_csv(tmp_path / f"v{i:02d}" / "流入人口.csv", PERSONS, rows)
    result = run(["--no-cache", "check", tmp_path, "-f", "json", "--plan", "000"])
    out = json.loads(result.stdout)
    bad = [f for f in out["findings"] if f["code"] == "value.date"]
    assert [(f["file"], f["line"], f["value"]) for f in bad] == [("v17/流入人口.csv", 3, "2011-02-30")]
    accounts = {a["file"]: a for a in out["files"]}
    assert len(accounts) == 40
    assert (accounts["v17/流入人口.csv"]["used"], accounts["v17/流入人口.csv"]["rejected"]) == (1, 1)
    assert all(a["read"] == 2 for a in accounts.values())


def test_the_cache_keeps_batches_and_remembers_those_read_file_by_file(tmp_path, monkeypatch):
    d = tmp_path / "ledgers"
    (d / "a").mkdir(parents=True)
    write_files(d / "a", [GOOD[:3], [GOOD[3], ODD[0]], GOOD[4:]], crlf=False, final_newline=True)
    (d / "b").mkdir()
    write_files(
        d / "b", [GOOD[:2], [GOOD[2], FALLBACK[0]]], crlf=True, final_newline=True
    )  # a header of its own
    tries = []
    original = loader.read_batch
    monkeypatch.setattr(loader, "read_batch", lambda *a, **k: tries.append(original(*a, **k)) or tries[-1])

    cold_cache = LedgerCache(tmp_path / "cache", min_bytes=0)
    cold = read.load(d, cache=cold_cache)
    cold_cache.close()
    assert sorted(t is None for t in tries) == [False, True]  # a/ as one; b/ has a quote left open
    warm_cache = LedgerCache(tmp_path / "cache", min_bytes=0)
    warm = read.load(d, cache=warm_cache)
    assert len(tries) == 2 and warm_cache.misses == 0  # neither batch is tried again
    assert_same(warm, cold)


def test_rows_stay_in_file_order_when_a_file_read_alone_falls_between_a_batch(tmp_path, monkeypatch):
    write_files(tmp_path, [GOOD[:2], [GOOD[2]], GOOD[3:5], [ODD[4]]], crlf=False, final_newline=True)
    (tmp_path / "村01" / "流入人口.csv").write_bytes(
        (HEADER + "\r\n" + GOOD[2]).encode()
    )  # a header of its own
    together, alone = read_both(tmp_path, monkeypatch)
    assert_same(together, alone)
    persons = together.frames["persons"]
    assert (
        persons["file"].tolist()
        == ["村00/流入人口.csv"] * 2 + ["村01/流入人口.csv"] + ["村02/流入人口.csv"] * 2
    )
    assert list(persons["file"].cat.categories) == [f"村0{i}/流入人口.csv" for i in range(4)]  # 村03: no rows
