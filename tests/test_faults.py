"""What the operating system and the file system throw at a run: a full disk, a missing
permission, a read-only directory, a directory in the way, a report Excel holds open, stdout on a
full disk; and whatever sits in a ledger directory (pipes, sockets, devices, links to nothing,
directories named like ledgers, names in GBK bytes or with spaces). Each is one line naming the
path and what to do (exit 3), or a finding: never a traceback, a hang or half a file."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from fpservice import atomicfile
from tests.ledgerkit import PERSONS, SERVICES, make_id, person, run, service, write_csv


@pytest.fixture
def ledgers(ledger_dir):
    a = make_id(seq=1)
    write_csv(ledger_dir / "p.csv", PERSONS, [person(id_=a), person(id_=make_id(seq=2))])
    write_csv(ledger_dir / "s.csv", SERVICES, [service(a, "2011-08-01")])
    return ledger_dir


def report_to(ledgers, target):
    return run(["report", ledgers, "-q", "2011Q3", "-p", "000", "-f", "csv", "-o", target])


def fail(error: OSError):
    def raising(*args, **kwargs):
        raise error

    return raising


def held(*args, **kwargs):
    """os.replace over a file Excel has open, on Windows."""
    exc = PermissionError(errno.EACCES, "另一个程序正在使用此文件，进程无法访问。")
    exc.winerror = 32
    raise exc


INJECTED = {  # where the write fails -> what is said
    "disk full while writing": (
        "os.fsync",
        fail(OSError(errno.ENOSPC, "No space left on device")),
        "磁盘已满",
    ),
    "no permission for the directory": (
        "tempfile.mkstemp",
        fail(PermissionError(errno.EACCES, "Permission denied")),
        "没有写入权限",
    ),
    "a read-only file system": (
        "tempfile.mkstemp",
        fail(OSError(errno.EROFS, "Read-only file system")),
        "只读",
    ),
    "the report held open by Excel": ("os.replace", held, "正被其他程序（如 Excel、WPS）打开"),
}


@pytest.mark.parametrize("case", list(INJECTED))
def test_a_failed_write_is_one_line_and_leaves_the_old_report(ledgers, tmp_path, monkeypatch, case):
    where, replacement, said = INJECTED[case]
    module, name = where.split(".")
    out = tmp_path / "reports"
    out.mkdir()
    target = out / "报告 2011Q3.csv"
    target.write_bytes(b"the previous report")
    monkeypatch.setattr({"os": os, "tempfile": tempfile}[module], name, replacement)
    result = report_to(ledgers, target)
    assert result.exit_code == 3, result.output
    assert result.stderr.startswith(f"fpservice: 无法写入 {target}：") and said in result.stderr
    assert result.stderr.count("\n") == 1 and "原有文件未改动" in result.stderr
    assert target.read_bytes() == b"the previous report"
    assert [p.name for p in out.iterdir()] == [target.name]  # no temporary file left behind


def test_a_directory_where_the_report_should_go(ledgers, tmp_path):
    out = tmp_path / "reports"
    (out / "jiangbei-2011_2011Q3.csv").mkdir(parents=True)
    result = report_to(ledgers, out)
    assert result.exit_code == 3 and "这是一个目录" in result.stderr, result.stderr
    assert [p.name for p in out.iterdir()] == ["jiangbei-2011_2011Q3.csv"]


def test_a_report_into_a_directory_that_does_not_exist(ledgers, tmp_path):
    result = report_to(ledgers, tmp_path / "没有" / "r.csv")
    assert result.exit_code == 3 and "目录" in result.stderr and "没有 不存在" in result.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
@pytest.mark.parametrize("fmt", ["table", "csv"])
def test_stdout_on_a_full_disk(ledgers, fmt):
    with open("/dev/full", "wb") as full:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "fpservice",
                "--no-cache",
                "report",
                ledgers,
                "-q",
                "2011Q3",
                "-p",
                "000",
                "-f",
                fmt,
            ],
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=120,
        )
    err = done.stderr.decode("utf-8")
    assert done.returncode == 3 and "磁盘已满" in err and "Traceback" not in err and err.count("\n") == 1


def test_the_temporary_file_goes_even_when_removing_it_fails(tmp_path, monkeypatch):
    """The error to tell is the write's, not the clean-up's."""
    monkeypatch.setattr(os, "fsync", fail(OSError(errno.EIO, "Input/output error")))
    with pytest.raises(atomicfile.OutputError, match="磁盘读写出错"):
        atomicfile.write_atomically(tmp_path / "r.csv", b"x")


# What can sit in a ledger directory.


@pytest.fixture
def odd_directory(ledgers):
    if sys.platform == "win32":
        pytest.skip("named pipes and sockets in a directory are POSIX")
    """The ledgers, beside every kind of entry a file system can hold under a ledger's name."""
    os.mkfifo(ledgers / "管道.csv")  # opening it would wait for a writer for ever
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(ledgers / "套接字.csv"))
    os.symlink("/dev/null", ledgers / "设备.csv")
    os.symlink(ledgers / "gone.csv", ledgers / "链接.csv")
    os.symlink(ledgers / "loop.csv", ledgers / "loop.csv")
    (ledgers / "目录.csv").mkdir()
    write_csv(ledgers / "目录.csv" / "inside.csv", SERVICES, [service(make_id(seq=3), "2011-08-02")])
    write_csv(ledgers / "流入 人口 2011.csv", PERSONS, [person(id_=make_id(seq=4))])
    gbk_name = os.path.join(os.fsencode(ledgers), "服务 台帐.csv".encode("gbk"))
    with open(gbk_name, "wb") as f:
        f.write((",".join(SERVICES) + "\n" + ",".join(service(make_id(seq=4), "2011-08-03")) + "\n").encode())
    with open(os.path.join(os.fsencode(ledgers), b"\xff\xfe.csv"), "wb") as f:
        f.write(b"\xff\xfe\x00")
    return ledgers


def test_whatever_sits_in_a_ledger_directory_check_finishes(odd_directory):
    done = subprocess.run(
        [sys.executable, "-m", "fpservice", "--no-cache", "check", odd_directory, "-p", "000", "-f", "json"],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 2 and b"Traceback" not in done.stderr, done.stderr.decode()
    doc = json.loads(done.stdout)
    by_file = {f["file"]: f["code"] for f in doc["findings"] if f["code"].startswith("file.")}
    assert by_file["管道.csv"] == by_file["套接字.csv"] == by_file["设备.csv"] == "file.not_regular"
    assert by_file["链接.csv"] == by_file["loop.csv"] == "file.unreadable"
    accounts = {a["file"]: a for a in doc["files"]}
    assert accounts["目录.csv/inside.csv"]["used"] == 1  # a directory named like a file is a directory
    assert accounts["流入 人口 2011.csv"]["used"] == 1
    assert accounts["服务 台帐.csv"]["used"] == 1  # a name in GBK bytes, shown as the office wrote it
    assert "\\xff\\xfe.csv" in accounts  # odd bytes, escaped
    assert all(a["read"] == a["used"] + a["rejected"] + a["skipped"] for a in doc["files"])


def test_whatever_sits_in_a_ledger_directory_report_finishes(odd_directory):
    result = run(["--no-cache", "report", odd_directory, "-q", "2011Q3", "-p", "000", "-f", "json"])
    assert result.exit_code == 2 and json.loads(result.stdout)
    assert "6 个错误" in result.stderr


def test_a_ledger_that_cannot_be_read_is_a_finding(ledgers, monkeypatch):
    read_bytes = Path.read_bytes

    def denied(path):
        if path.name == "s.csv":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", denied)
    result = run(["--no-cache", "check", ledgers, "-p", "000", "-f", "json"])
    doc = json.loads(result.stdout)
    assert result.exit_code == 2
    assert [(f["code"], f["file"]) for f in doc["findings"]] == [("file.unreadable", "s.csv")]
    assert "没有读取权限" in doc["findings"][0]["message"]


def test_a_directory_that_cannot_be_listed_is_a_finding(ledgers, monkeypatch):
    (ledgers / "村").mkdir()
    write_csv(ledgers / "村" / "p2.csv", PERSONS, [person(id_=make_id(seq=5))])
    scandir = os.scandir

    def denied(path="."):
        if os.fspath(path).endswith("村"):
            raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", denied)
    result = run(["--no-cache", "check", ledgers, "-p", "000", "-f", "json"])
    doc = json.loads(result.stdout)
    assert result.exit_code == 2
    assert [(f["code"], f["file"]) for f in doc["findings"]] == [("file.unreadable", "村")]


def test_a_ledger_directory_that_cannot_be_read_is_one_line(ledgers, monkeypatch):
    monkeypatch.setattr(Path, "iterdir", fail(PermissionError(errno.EACCES, "Permission denied")))
    result = run(["--no-cache", "check", ledgers, "-p", "000"])
    assert result.exit_code == 3 and result.stderr == f"fpservice: 无法读取台帐目录 {ledgers}：" + (
        "没有读取权限；请用有权限的账户运行，或请管理员开放读取权限\n"
    )
