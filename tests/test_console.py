"""Any console: every command under a GBK and an ASCII stdout and stderr (Chinese Windows with
output sent to a file, an old cron mail) says what it says on UTF-8, each character the console
cannot encode written as a plain equivalent or `?`; data (CSV, JSON, HTML, xlsx) stays UTF-8."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor

import pytest

from fpservice.cli import console
from tests.ledgerkit import PERSONS, SERVICES, V1, V2, make_id, person, service, write_csv

ENCODINGS = ("gbk", "ascii")


@pytest.fixture(scope="module")
def ledgers(tmp_path_factory):
    """Floating and registered persons (so the tables show the equity gap, `户籍比率 − 流动比率`),
    services, and a rejected row (a finding with a masked value)."""
    d = tmp_path_factory.mktemp("console") / "台帐 2011"
    rows = [
        person(id_=make_id(seq=i), unit=(V1, V2)[i % 2]) + [("流动", "户籍")[i % 3 == 0]] for i in range(30)
    ]
    write_csv(d / "流入 人口.csv", PERSONS + ["人口类型"], rows)
    services = [service(make_id(seq=i), "2011-08-01", unit=(V1, V2)[i % 2]) for i in range(0, 30, 2)]
    write_csv(d / "服务.csv", SERVICES, services + [service(make_id(seq=99), "2011-13-01")])
    (d / "fpservice.yaml").write_text("plan: jiangbei-2011\n", encoding="utf-8")
    return d


TEXT = {  # name -> arguments; what they print is text for people
    "check": ["check", "{d}", "--as-of", "2011-09-30"],
    "report": ["report", "{d}", "-q", "2011Q3"],
    "report markdown": ["report", "{d}", "-q", "2011Q3", "-f", "markdown", "--details", "--trend"],
    "due": ["due", "{d}", "--date", "2011-10-01"],
    "due --print": ["due", "--date", "2011-10-01", "--print", "last_working_day"],
    "rules": ["rules"],
    "help": ["--help"],
    "check --help": ["check", "--help"],
    "report --help": ["report", "--help"],
    "due --help": ["due", "--help"],
    "a usage error": ["report", "{d}", "-q", "2011Q5"],
    "a missing directory": ["check", "{d}/没有这个目录"],
}
DATA = {  # what they print is data: UTF-8 whatever the console
    "check json": ["check", "{d}", "--as-of", "2011-09-30", "-f", "json"],
    "report csv": ["report", "{d}", "-q", "2011Q3", "-f", "csv"],
    "report json": ["report", "{d}", "-q", "2011Q3", "-f", "json", "--details"],
    "report html": ["report", "{d}", "-q", "2011Q3", "-f", "html"],
    "report xlsx": ["report", "{d}", "-q", "2011Q3", "-f", "xlsx"],
    "due json": ["due", "{d}", "--date", "2011-10-01", "-f", "json"],
}

# Each encoding's commands run one after another in one process, as the console script runs
# them (`main`, with fresh file descriptors 1 and 2 for each): a process per command would
# spend most of a minute importing pandas.
DRIVER = """
import json, os, sys
from fpservice.cli import main
jobs, out = json.loads(sys.argv[1]), sys.argv[2]
for i, args in enumerate(jobs):
    sys.stdout.flush(), sys.stderr.flush()
    for fd, part in ((1, "out"), (2, "err")):
        f = os.open(os.path.join(out, f"{i}.{part}"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(f, fd)
        os.close(f)
    sys.argv = ["fpservice", *args]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    sys.stdout.flush(), sys.stderr.flush()
    with open(os.path.join(out, f"{i}.code"), "w") as f:
        f.write(str(code))
"""


def fpservice(jobs: list[list[str]], encoding: str, cache, out) -> list[tuple[int, bytes, bytes]]:
    """(exit code, stdout, stderr) of each command, with stdout and stderr in `encoding`."""
    out.mkdir()
    env = {**os.environ, "PYTHONIOENCODING": encoding, "FPSERVICE_CACHE": str(cache), "COLUMNS": "120"}
    command = [sys.executable, "-c", DRIVER, json.dumps(jobs), str(out)]
    done = subprocess.run(command, capture_output=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    return [
        (
            int((out / f"{i}.code").read_text()),
            (out / f"{i}.out").read_bytes(),
            (out / f"{i}.err").read_bytes(),
        )
        for i in range(len(jobs))
    ]


@pytest.fixture(scope="module")
def runs(ledgers, tmp_path_factory):
    """Every command under UTF-8, GBK and ASCII: {(name, encoding): (code, stdout, stderr)}."""
    tmp = tmp_path_factory.mktemp("console-runs")
    names = list({**TEXT, **DATA})
    jobs = [[a.replace("{d}", str(ledgers)) for a in {**TEXT, **DATA}[name]] for name in names]
    fpservice(jobs[:1], "utf-8", tmp / "cache", tmp / "fill")  # fill the cache first
    with ThreadPoolExecutor(max_workers=2) as pool:  # a process per core
        done = {
            enc: pool.submit(fpservice, jobs, enc, tmp / "cache", tmp / enc) for enc in ("utf-8", *ENCODINGS)
        }
        return {(name, enc): got for enc, future in done.items() for name, got in zip(names, future.result())}


def sheets(xlsx: bytes) -> bytes:
    """A workbook's content without the time XlsxWriter stamps into it."""
    with zipfile.ZipFile(io.BytesIO(xlsx)) as z:
        return b"".join(z.read(n) for n in sorted(z.namelist()) if not n.startswith("docProps/"))


def plain(data: bytes, encoding: str) -> bytes:
    return console.encode(data.decode("utf-8"), encoding)


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("name", list(TEXT))
def test_text_for_people_is_written_in_the_consoles_encoding(runs, name, encoding):
    (code, stdout, stderr), (got_code, got_stdout, got_stderr) = runs[name, "utf-8"], runs[name, encoding]
    assert b"Traceback" not in got_stderr and got_code == code
    assert got_stdout == plain(stdout, encoding)
    assert got_stderr == plain(stderr, encoding)
    got_stdout.decode(encoding), got_stderr.decode(encoding)  # what the console can show


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("name", list(DATA))
def test_data_is_utf8_whatever_the_console(runs, name, encoding):
    (code, stdout, stderr), (got_code, got_stdout, got_stderr) = runs[name, "utf-8"], runs[name, encoding]
    assert b"Traceback" not in got_stderr and got_code == code and got_stdout
    same = sheets if name.endswith("xlsx") else bytes
    assert same(got_stdout) == same(stdout)
    assert got_stderr == plain(stderr, encoding)


def test_the_commands_exit_as_they_should(runs):
    codes = {name: runs[name, "utf-8"][0] for name in {**TEXT, **DATA}}
    assert codes["check"] == codes["report"] == 2  # the row dated 2011-13-01
    assert codes["a usage error"] == codes["a missing directory"] == 3
    assert codes["rules"] == codes["help"] == codes["due"] == 0
    assert "−".encode() in runs["report", "utf-8"][1]  # the GBK run had a character to replace


def test_plain_equivalents():
    assert console.encode("差距 = 户籍比率 − 流动比率 ✓ 0%–100%", "gbk").decode("gbk") == (
        "差距 = 户籍比率 - 流动比率 √ 0%–100%"  # GBK has the en dash
    )
    assert console.encode("截至（台帐）：１２ ✓ −", "ascii") == b"??(??):12 ? -"
    assert console.encode("a\udcff.csv", "utf-8") == b"a?.csv"  # a name that is not UTF-8
