"""The head start: the largest file read and parsed while pandas is imported. Whatever the file
holds, the ledgers read with it are those read without it, and the file is parsed once."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fpservice import read
from fpservice.headers import DEFAULT
from fpservice.read import arrowparse, csvparse, discover, headstart
from fpservice.read.headstart import HeadStart
from tests.ledgerkit import PERSONS, SERVICES, V1, make_id, person, run, service, write_csv
from tests.test_batches import FALLBACK, GOOD, ODD, assert_same, write_files


@pytest.fixture
def any_size(monkeypatch):
    """Every file large enough to be read alone, and one reading thread: the largest file is the
    head start's when it is no more than half of the bytes."""
    monkeypatch.setattr(discover, "BATCH_FILE", 0)
    monkeypatch.setattr(discover, "read_threads", lambda: 1)


def taken(monkeypatch) -> list:
    """What the loader was handed by head starts, as it took it."""
    got = []
    take = HeadStart.take
    monkeypatch.setattr(HeadStart, "take", lambda self, path: got.append(take(self, path)) or got[-1])
    return got


def with_and_without(d: Path, monkeypatch):
    got = taken(monkeypatch)
    ahead = read.load(d, head=HeadStart(d, None, DEFAULT))
    return ahead, read.load(d), [g for g in got if g is not None]


@given(
    bodies=st.lists(st.lists(st.sampled_from(GOOD + ODD + FALLBACK), max_size=12), min_size=1, max_size=3),
    crlf=st.booleans(),
    final_newline=st.booleans(),
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_a_file_parsed_ahead_reads_as_it_would_have(bodies, crlf, final_newline, monkeypatch, any_size):
    """Rejected and skipped rows, line breaks in quotes, a quote left open, GBK in UTF-8 bytes:
    the head start's parse is used when it holds, and the file is read as ever when it fails."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        write_files(d, bodies, crlf, final_newline)
        ahead, alone, used = with_and_without(d, monkeypatch)
        assert_same(ahead, alone)
        largest = headstart.chosen(discover.discover(d), 1)
        if all(line in GOOD for line in bodies[int(largest.parent.name[1:])]):
            assert used  # a plain file is taken as parsed


def test_the_file_parsed_ahead_is_not_read_or_parsed_again(ledger_dir, monkeypatch, any_size):
    ids = [make_id(seq=i) for i in range(40)]
    write_csv(ledger_dir / "p.csv", PERSONS, [person(id_=x) for x in ids[:10]])
    write_csv(ledger_dir / "s.csv", SERVICES, [service(x, "2011-07-01") for x in ids])  # the largest
    parses = []
    parse = arrowparse._parse
    monkeypatch.setattr(arrowparse, "_parse", lambda *a: parses.append(len(a[0])) or parse(*a))
    ahead, alone, used = with_and_without(ledger_dir, monkeypatch)
    assert_same(ahead, alone)
    assert len(used) == 1 and used[0][0] == (ledger_dir / "s.csv").read_bytes()
    assert len(parses) == 4  # two files, each parsed once with the head start and once without


def test_the_parse_handed_on_is_let_go_of_once_coded(ledger_dir):
    """The loader holds what the head start handed it while the file is validated: the parse's
    table (as large as the file) must not stay alive with it."""
    from fpservice.read.encodings import open_source

    write_csv(ledger_dir / "s.csv", SERVICES, [service(make_id(seq=i), "2011-07-01") for i in range(5)])
    source = open_source((ledger_dir / "s.csv").read_bytes())
    usecols, delim = list(range(len(SERVICES))), arrowparse.delimiter_of(source)
    parsed = arrowparse.parse(source, usecols, delim=delim, distinct=frozenset({1}), threads=False)
    table = csvparse.read_table(source, usecols, frozenset({1}), False, parsed)
    assert parsed.table is None and len(table) == 5


def test_units_csv_is_never_parsed_ahead(ledger_dir, monkeypatch, any_size):
    """units.csv at the top is the units, which the loader reads on its own, not a ledger."""
    units = [["330205", "江北区", "县"]] + [[f"330205{i:03d}", f"街道{i}", "乡镇"] for i in range(1, 60)]
    write_csv(ledger_dir / "units.csv", ["代码", "名称", "级别"], units)
    write_csv(ledger_dir / "s.csv", SERVICES, [service(make_id(seq=1), "2011-07-01")])
    write_csv(ledger_dir / "p.csv", PERSONS, [person(id_=make_id(seq=1))])
    head = HeadStart(ledger_dir, None, DEFAULT)
    assert head.take(ledger_dir / "units.csv") is None
    assert head.take(ledger_dir / "p.csv") is not None  # the largest ledger instead


def test_only_a_csv_file_read_alone_on_one_core_is_parsed_ahead(tmp_path, monkeypatch):
    monkeypatch.setattr(discover, "BATCH_FILE", 100)
    sized = {}
    for name, size in [("a.csv", 300), ("b.csv", 200), ("c.xlsx", 900), ("d.csv", 50)]:
        (tmp_path / name).write_bytes(b"x" * size)
        sized[name] = tmp_path / name
    files = sorted(sized.values())
    assert headstart.chosen(files, 2) == sized["a.csv"]  # not the workbook, larger as it is
    assert headstart.chosen(files, 6) is None  # more than a core's share: parsed on all cores
    assert headstart.chosen([sized["d.csv"], sized["d.csv"]], 1) is None  # small: batched
    os.mkfifo(tmp_path / "e.csv")  # never opened (it would wait for a writer)
    assert headstart.chosen([*files, tmp_path / "e.csv"], 2) == sized["a.csv"]


def test_a_report_with_a_head_start_is_the_report_without_one(ledger_dir, monkeypatch, any_size):
    ids = [make_id(seq=i) for i in range(30)]
    write_csv(ledger_dir / "p.csv", PERSONS, [person(id_=x, unit=V1) for x in ids])
    write_csv(ledger_dir / "s.csv", SERVICES, [service(x, "2011-08-01") for x in ids[:20]])
    got = taken(monkeypatch)
    args = ["--no-cache", "report", ledger_dir, "-q", "2011Q3", "--plan", "000", "-f", "json"]
    ahead = run(args)
    assert [g for g in got if g is not None]
    monkeypatch.setattr(HeadStart, "take", lambda self, path: None)
    assert (ahead.exit_code, ahead.stdout) == (run(args).exit_code, run(args).stdout)


def test_the_head_start_parses_without_pandas(ledger_dir):
    """The module loads nothing heavy; a head start imports numpy and pyarrow on the caller's
    thread while its thread reads the file (the thread only reads and parses), never pandas."""
    ids = [make_id(seq=i) for i in range(30)]
    write_csv(ledger_dir / "p.csv", PERSONS, [person(id_=x) for x in ids[:5]])
    write_csv(ledger_dir / "s.csv", SERVICES, [service(x, "2011-07-01") for x in ids])
    code = f"""
import sys, threading
from pathlib import Path
from fpservice.read import discover, headstart
from fpservice.headers import DEFAULT
print(sorted(m for m in ("numpy", "pyarrow", "pandas") if m in sys.modules))
discover.BATCH_FILE, discover.read_threads = 0, lambda: 1
reading, read_bytes = threading.Event(), Path.read_bytes
Path.read_bytes = lambda self: reading.wait() and read_bytes(self)  # held until the caller is back
head = headstart.HeadStart(Path({str(ledger_dir)!r}), None, DEFAULT)
print("pyarrow" in sys.modules, "pandas" in sys.modules)
reading.set()
got = head.take(Path({str(ledger_dir / "s.csv")!r}))
print(got is not None and got[1].table.num_rows, "pandas" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:3] == ["[]", "True False", "31 False"]  # the header and 30 rows


def test_no_head_start_in_a_directory_of_many_files(ledger_dir, monkeypatch, any_size):
    """A file per village: the walk stops past `FILES` ledgers, and the loader reads as ever."""
    monkeypatch.setattr(headstart, "FILES", 3)
    ids = [make_id(seq=i) for i in range(20)]
    write_csv(ledger_dir / "s.csv", SERVICES, [service(x, "2011-07-01") for x in ids])  # the largest
    for i in range(3):
        write_csv(ledger_dir / f"p{i}.csv", PERSONS, [person(id_=ids[i])])
    assert discover.discover(ledger_dir, limit=3) is None
    assert len(discover.discover(ledger_dir, limit=4)) == 4
    ahead, alone, used = with_and_without(ledger_dir, monkeypatch)
    assert_same(ahead, alone)
    assert used == []
