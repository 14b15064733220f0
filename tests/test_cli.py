"""The real CLI end to end: exit codes, formats, help texts, and privacy of what is printed."""

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from fpservice.cli import cli
from tests.ledgerkit import PERSONS, REPO, SERVICES, V1, make_id, person, run, service, write_csv

SAMPLE = REPO / "sample_data"


@pytest.mark.parametrize("command", [[]] + [[name] for name in sorted(cli.commands)])
def test_every_command_has_help(command):
    result = run(command + ["--help"])
    assert result.exit_code == 0 and "用法：" in result.output and "显示本帮助并退出。" in result.output
    assert "Usage:" not in result.output and "Show this message" not in result.output


def met_ledgers(d):
    a = make_id(seq=1)
    write_csv(d / "p.csv", PERSONS, [person(id_=a)])
    write_csv(
        d / "s.csv",
        SERVICES,
        [service(a, "2011-05-01"), service(a, "2011-08-01"), service(a, "2011-08-01", "孕前优生咨询")],
    )
    write_csv(
        d / "v.csv",
        ["村居代码", "调查类型", "调查日期", "调查结果"],
        [[V1, "政策知晓", "2011-08-01", "是"], [V1, "行政服务满意", "2011-08-01", "是"]],
    )


def test_exit_0_when_every_target_is_met(ledger_dir):
    met_ledgers(ledger_dir)
    result = run(["report", ledger_dir, "-q", "2011Q3", "-p", "000"])
    assert result.exit_code == 0, result.output
    assert "达标" in result.stdout and "未达标 0" in result.stdout


def test_exit_1_when_a_target_is_missed(ledger_dir):
    met_ledgers(ledger_dir)
    write_csv(ledger_dir / "p2.csv", PERSONS, [person(id_=make_id(seq=2))])
    assert run(["report", ledger_dir, "-q", "2011Q3", "-p", "000"]).exit_code == 1


def test_exit_2_when_rows_are_rejected_even_if_targets_are_met(ledger_dir):
    met_ledgers(ledger_dir)
    write_csv(ledger_dir / "bad.csv", SERVICES, [service(make_id(seq=3), "2011-13-01")])
    result = run(["report", ledger_dir, "-q", "2011Q3", "-p", "000"])
    assert result.exit_code == 2 and "1 行被拒绝" in result.stderr


def test_quarter_alone_misses_do_not_fail_the_run(ledger_dir):
    """Q3 alone has no check, but year-to-date does: the exit code follows year-to-date."""
    a = make_id(seq=1)
    write_csv(ledger_dir / "p.csv", PERSONS, [person(id_=a)])
    write_csv(
        ledger_dir / "s.csv", SERVICES, [service(a, "2011-03-01"), service(a, "2011-03-01", "避孕药具")]
    )
    rows = json.loads(run(["report", ledger_dir, "-q", "2011Q3", "-p", "001", "-f", "json"]).stdout)
    q3 = [r for r in rows if r["period"] == "2011Q3" and r["indicator"] == "pregnancy_check"]
    assert {r["status"] for r in q3} == {"missed"}
    result = run(["report", ledger_dir, "-q", "2011Q3", "-p", "001", "--no-phases"])
    assert result.exit_code == 1  # staffing 0 of 1 is missed year-to-date
    assert "专干配备" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["report", "{dir}", "-q", "2011Q5", "-p", "000"],
        ["report", "{dir}", "-q", "2011Q3", "-p", "nope"],
        ["report", "{dir}", "-q", "2011Q3"],  # no plan and no fpservice.yaml
        ["report", "{dir}/missing", "-q", "2011Q3", "-p", "000"],
        ["report", "{dir}", "-p", "000"],  # --quarter is required
        ["check", "{dir}", "-p", "000", "--as-of", "2011-13-01"],
        ["report", "{dir}", "-q", "2011Q3", "-p", "000", "--format", "pdf"],
    ],
)
def test_exit_3_when_it_cannot_run(ledger_dir, args):
    met_ledgers(ledger_dir)
    result = run([a.replace("{dir}", str(ledger_dir)) for a in args])
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output


def test_empty_directory_is_never_all_good(ledger_dir):
    assert run(["check", ledger_dir, "-p", "000"]).exit_code == 3
    write_csv(ledger_dir / "s.csv", SERVICES, [])
    assert run(["check", ledger_dir, "-p", "000"]).exit_code == 3


def test_json_rows_have_exactly_the_spec_fields(ledger_dir):
    met_ledgers(ledger_dir)
    rows = json.loads(run(["report", ledger_dir, "-q", "2011Q3", "-p", "000", "-f", "json"]).stdout)
    fields = [
        "unit",
        "unit_name",
        "level",
        "indicator",
        "indicator_name",
        "period",
        "start",
        "end",
        "numerator",
        "denominator",
        "rate",
        "target",
        "status",
    ]
    assert all(list(r) == fields for r in rows)
    periods = {r["period"] for r in rows}
    assert {"2011Q3", "2011Q1-2011Q3", "第一阶段 宣传动员", "第二阶段 全面实施"} == periods
    levels = {r["level"] for r in rows}
    assert levels == {"县", "乡镇", "村"}
    no_data = [r for r in rows if r["status"] == "no_data"]
    assert no_data and all(r["rate"] is None and r["denominator"] == 0 for r in no_data)


def test_csv_has_bom_and_the_same_rows_as_json(ledger_dir, tmp_path):
    met_ledgers(ledger_dir)
    out = tmp_path / "report.csv"
    result = run(["report", ledger_dir, "-q", "2011Q3", "-p", "000", "-f", "csv", "-o", out])
    assert result.exit_code == 0
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    as_json = json.loads(run(["report", ledger_dir, "-q", "2011Q3", "-p", "000", "-f", "json"]).stdout)
    assert len(rows) == len(as_json)
    assert [(r["unit"], r["indicator"], r["period"], int(r["numerator"])) for r in rows] == [
        (r["unit"], r["indicator"], r["period"], r["numerator"]) for r in as_json
    ]


def test_plan_from_the_ledger_directory_config(ledger_dir):
    met_ledgers(ledger_dir)
    (ledger_dir / "fpservice.yaml").write_text("plan: 市中区\n", encoding="utf-8")
    rows = json.loads(run(["report", ledger_dir, "-q", "2011Q3", "-f", "json"]).stdout)
    assert {r["indicator"] for r in rows} >= {"preconception_exam", "rh_knowledge"}


def test_check_lists_findings_and_accounts(ledger_dir):
    met_ledgers(ledger_dir)
    write_csv(ledger_dir / "bad.csv", SERVICES, [service(make_id(seq=3), "2011-02-30")])
    result = run(["check", ledger_dir, "-p", "000"])
    assert result.exit_code == 2
    assert re.search(r"bad\.csv:2 列“服务日期” \[错误 value\.date\]", result.stdout)
    assert "读入行" in result.stdout and "截至 2011-08-01" in result.stderr
    doc = json.loads(run(["check", ledger_dir, "-p", "000", "-f", "json"]).stdout)
    assert all(f["read"] == f["used"] + f["rejected"] for f in doc["files"])
    assert doc["findings"][0]["code"] == "value.date"


def test_rules_command_lists_plans():
    result = run(["rules"])
    assert result.exit_code == 0
    assert "jiangbei-2011" in result.stdout and "新政办发〔2009〕193号" in result.stdout


@pytest.fixture(scope="module")
def sample_copy(tmp_path_factory):
    d = tmp_path_factory.mktemp("sample") / "sample_data"
    shutil.copytree(SAMPLE, d)
    return d


def personal_values(d):
    """Every full ID number, name and phone number in the sample ledgers: CSV files (their header
    wherever it is) and workbooks, read independently of fpservice."""
    import python_calamine

    tables = []
    for path in d.rglob("*"):
        if path.suffix == ".csv":
            raw = path.read_bytes()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = raw.decode("gb18030")
            tables.append(list(csv.reader(io.StringIO(text))))
        elif path.suffix in (".xlsx", ".xls"):
            book = python_calamine.CalamineWorkbook.from_path(str(path))
            tables += [
                [[str(c) for c in row] for row in book.get_sheet_by_name(n).to_python()]
                for n in book.sheet_names
            ]
    values = set()
    for rows in tables:
        header = next((r for r in rows if {"身份证号", "公民身份号码", "姓名"} & set(r)), None)
        if header is None:
            continue
        wanted = [i for i, h in enumerate(header) if h in ("身份证号", "公民身份号码", "姓名", "联系电话")]
        values |= {row[i] for row in rows if row is not header for i in wanted if i < len(row) and row[i]}
    return values


def test_sample_report_shows_met_missed_and_no_data(sample_copy):
    result = run(["report", sample_copy, "-q", "2011Q3"])
    assert result.exit_code == 1
    for word in ("达标", "未达标", "无数据"):
        assert word in result.stdout


def test_nothing_printed_or_written_shows_personal_data(sample_copy, tmp_path):
    secrets = personal_values(sample_copy)
    assert len(secrets) > 1000
    # Make sure findings with values are printed too: add a bad row with a real ID.
    some_id = next(v for v in secrets if re.fullmatch(r"\d{17}[\dX]", v))
    wrong = some_id[:-1] + ("0" if some_id[-1] != "0" else "1")  # a wrong check digit: a warning
    other_id = next(v for v in secrets if re.fullmatch(r"\d{17}[\dX]", v) and v != some_id)
    typed = [
        service(some_id, "2011-02-30"),
        service(wrong, "2011-07-01"),
        # personal numbers where they do not belong: an ID as the service, a mobile as the place,
        # an ID Excel turned into a number of 15 significant digits
        service(some_id, "2011-07-01", item=other_id, place="电话13957400123"),
        service("4.52123197005268E+17", "2011-07-01"),
    ]
    secrets |= {"13957400123", "452123197005268"}
    write_csv(sample_copy / "extra.csv", SERVICES, typed)
    outputs = []
    commands = [["check", sample_copy, "-f", fmt] for fmt in ("table", "json")]
    commands += [
        ["report", sample_copy, "-q", "2011Q3", "-f", f] for f in ("table", "markdown", "csv", "json")
    ]
    commands += [
        ["report", sample_copy, "--due", "--date", "2011-10-01", "--all-indicators"],
        ["due", sample_copy, "--date", "2011-10-01"],
        ["due", sample_copy, "-f", "json"],
        ["rules"],
    ]
    for args in commands:
        result = run(args)
        assert result.exit_code in (0, 1, 2), args
        outputs.append(result.stdout + result.stderr)
    for fmt in ("table", "markdown", "csv", "json"):
        written = tmp_path / f"out.{fmt}"
        run(["report", sample_copy, "-q", "2011Q3", "-f", fmt, "-o", written])
        outputs.append(written.read_text(encoding="utf-8-sig"))
    everything = "\n".join(outputs)
    assert "330205" in everything  # units are printed; persons are not
    leaked = [v for v in secrets if v in everything and len(v) >= 3]
    assert not leaked, leaked[:5]
    assert wrong[:6] + "********" + wrong[-4:] in everything and wrong not in everything


@pytest.mark.parametrize("fmt", ["table", "json"])
def test_a_reader_that_goes_away_is_no_error(fmt):
    """`fpservice report … | head`: the reader closes the pipe; nothing is said about it."""
    command = [sys.executable, "-m", "fpservice", "report", REPO / "sample_data", "-q", "2011Q3"]
    command += ["--all-indicators", "--details" if fmt == "json" else "--trend", "-f", fmt]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as done:
        done.stdout.read(10)
        done.stdout.close()  # before fpservice has written all: its next write meets a broken pipe
        err = done.stderr.read().decode("utf-8")
    assert "Traceback" not in err and "Exception ignored" not in err and "BrokenPipe" not in err, err
    assert done.returncode in (0, 1)


def test_a_run_leaves_only_once_every_byte_is_out(sample_copy):
    """The command leaves without tearing the interpreter down (cli._leave): what it wrote to
    a pipe must all be there, with its exit code, as the same command run in-process says."""
    args = ["--no-cache", "report", sample_copy, "-q", "2011Q3", "--all-indicators", "--trend", "-f", "json"]
    done = subprocess.run([sys.executable, "-m", "fpservice", *map(str, args)], capture_output=True)
    inside = run(args)
    assert len(done.stdout) > 100_000
    assert (done.returncode, done.stdout.decode("utf-8")) == (inside.exit_code, inside.stdout)


def test_leaving_at_once_waits_for_nothing_that_still_runs(monkeypatch):
    """Python's own exit when a thread still runs (it may be writing); else at once."""
    import threading

    from fpservice import cli as cli_mod

    class LeftAtOnce(Exception):
        pass

    def exit_now(code):
        raise LeftAtOnce(code)

    monkeypatch.setattr(cli_mod.os, "_exit", exit_now)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with monkeypatch.context() as alone:  # the test runner keeps threads of its own
        alone.setattr(threading, "active_count", lambda: 1)
        with pytest.raises(LeftAtOnce):
            cli_mod._leave(1)
        sys.setprofile(lambda *_: None)  # a profiler writes its results at exit: let it
        try:
            with pytest.raises(SystemExit):
                cli_mod._leave(1)
        finally:
            sys.setprofile(None)
    stop = threading.Event()
    busy = threading.Thread(target=stop.wait)
    busy.start()
    try:
        with pytest.raises(SystemExit) as exited:
            cli_mod._leave(2)
        assert exited.value.code == 2
    finally:
        stop.set()
        busy.join()


def test_input_files_are_never_modified(sample_copy):
    before = {p: p.read_bytes() for p in sample_copy.rglob("*") if p.is_file()}
    run(["check", sample_copy])
    run(["report", sample_copy, "-q", "2011Q3", "-f", "json"])
    after = {p: p.read_bytes() for p in sample_copy.rglob("*") if p.is_file()}
    assert before == after


def test_readme_opens_with_two_commands_and_ci_runs_the_second():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```\n(.*?)```", readme, re.S).group(1).strip().splitlines()
    assert len(block) == 2 and block[0].startswith("pip install . && fpservice report")
    ci = [
        line
        for line in (REPO / ".ci" / "run").read_text().splitlines()
        if line and not line.startswith(("#", "set ", "cd "))
    ]
    assert ci == [block[1]]


_FAULTS = """
import resource, sys, threading
if sys.argv[1] == "tuned":
    from fpservice.cli import _tune_malloc
    _tune_malloc()
def touched(size):  # a block, every page written
    block = bytearray(size)
    block[:: 4096] = b"x" * len(range(0, size, 4096))
    return block
size = int(sys.argv[2]) << 20
block = touched(size)
del block
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
if sys.argv[3] == "thread":  # the next block made by another thread (a read on the pool)
    other = threading.Thread(target=touched, args=(size,))
    other.start()
    other.join()
else:
    block = touched(size)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
@pytest.mark.parametrize("size_mb, where", [(16, "same"), (64, "same"), (64, "thread")])
def test_the_command_keeps_freed_blocks_for_the_next_one(size_mb, where):
    """With the allocator told at start (cli._tune_malloc), a block freed is reused by the next
    one without faulting its pages in again, however large, and whichever thread asks for it;
    glibc by default maps and unmaps each large one, and gives each thread a heap of its own."""

    def faults(mode: str) -> int:
        args = [sys.executable, "-c", _FAULTS, mode, str(size_mb), where]
        env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}  # as glibc's own
        done = subprocess.run(args, capture_output=True, text=True, env=env)
        assert done.returncode == 0, done.stderr
        return int(done.stdout)

    pages = (size_mb << 20) // 4096
    assert faults("tuned") < pages // 10
    assert faults("default") > pages * 3 // 4


def test_the_command_puts_arrow_on_the_system_allocator():
    """The reads' Arrow buffers come from the heap the command tuned (not mimalloc's own, which
    gives freed pages back); a value the user set is kept."""
    script = (
        "import sys; import fpservice.cli as cli; sys.argv = ['fpservice', '--version']\n"
        "try:\n    cli.main()\nexcept SystemExit:\n    pass\n"
        "import pyarrow; print(pyarrow.default_memory_pool().backend_name)"
    )
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert done.stdout.split()[-1:] == ["system"], done.stderr
    env["ARROW_DEFAULT_MEMORY_POOL"] = "mimalloc"  # (Arrow's own, as before)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert done.stdout.split()[-1:] == ["mimalloc"], done.stderr


_COLLECTOR = """
import gc, sys, weakref
import fpservice.cli as cli
imported = gc.get_threshold()[0]
sys.argv = ["fpservice", "--version"]
try:
    cli.main()
except SystemExit:
    pass
class Node:
    pass
node = Node()
node.me = node  # a cycle: only the collector frees it
gone = weakref.ref(node)
del node
kept = [[] for _ in range(cli.GC_FIRST_THRESHOLD // 2)]
half = gone() is None
kept += [[] for _ in range(cli.GC_FIRST_THRESHOLD)]
print(imported, gc.get_threshold()[0], half, gone() is None)
"""


def test_the_command_collects_cycles_rarely_but_still_collects_them():
    """The command line raises the collector's threshold (the imports' objects are not walked
    180 times), importing fpservice does not, and a cycle is still freed once enough objects
    have been made."""
    done = subprocess.run([sys.executable, "-c", _COLLECTOR], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    imported, running, early, later = done.stdout.splitlines()[-1].split()
    assert int(imported) < 10_000 and int(running) == 200_000
    assert (early, later) == ("False", "True")
