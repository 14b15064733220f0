"""The library API: keyword arguments, one run's state kept to itself, commands that read no
ledger starting without pandas."""

import datetime as dt
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from fpservice import api
from fpservice.errors import InputError
from tests.ledgerkit import PERSONS, SERVICES, make_id, person, run, service, write_csv

OUTSIDE = "不在节假日日历范围内"


def test_options_are_keywords(ledger_dir):
    with pytest.raises(TypeError):
        api.report(ledger_dir, "2011Q3", "000")  # the plan by position: refused, not misread
    with pytest.raises(TypeError):
        api.check(ledger_dir, "000")


def test_two_runs_at_once_keep_their_own_calendar_notes():
    """2030 is outside the official holiday calendar, 2011 inside: run side by side on threads,
    each run says only what its own days needed."""
    days = [dt.date(2030, 9, 20), dt.date(2011, 9, 20)] * 20
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(api.due, days))
    for day, result in zip(days, results):
        assert (OUTSIDE in " ".join(result.notes)) == (day.year == 2030)


def test_cross_file_findings_are_the_outcomes_not_the_ledgers(ledger_dir):
    x = make_id(seq=1)
    write_csv(ledger_dir / "p.csv", PERSONS, [person(id_=x), person(id_=x, arrived="2011-02-01")])
    write_csv(ledger_dir / "s.csv", SERVICES, [service(make_id(seq=2), "2011-07-01")])
    outcome = api.check(ledger_dir, plan="000", as_of=dt.date(2011, 9, 30))
    assert sorted(f.code for f in outcome.cross_file) == ["row.duplicate_id", "row.service_unknown_person"]
    assert outcome.findings == outcome.ledgers.findings + outcome.cross_file
    assert not any(f.code.startswith("row.") for f in outcome.ledgers.findings)
    assert outcome.exit_code == 1  # warnings only: targets decide


def test_checks_across_files_run_beside_the_report_when_asked_and_are_waited_for(ledger_dir, monkeypatch):
    """api.report(wait=False) hands the report back while the checks across files may still run
    (the command line lays the report out meanwhile); `wait` and `findings` wait for them."""
    from fpservice import consistency

    started, go_on = threading.Event(), threading.Event()
    check = consistency.check

    def slow(ledgers):
        started.set()
        assert go_on.wait(10)
        return check(ledgers)

    monkeypatch.setattr(consistency, "check", slow)
    x = make_id(seq=1)
    write_csv(ledger_dir / "p.csv", PERSONS, [person(id_=x), person(id_=x, arrived="2011-02-01")])
    outcome = api.report(ledger_dir, "2011Q3", plan="000", wait=False)
    assert started.wait(10) and len(outcome.report.rows)  # the report, with the checks still going
    assert isinstance(outcome.pending, Future) and not outcome.pending.done()
    go_on.set()
    assert [f.code for f in outcome.findings] == ["row.duplicate_id"]
    assert outcome.pending is None and outcome.findings == outcome.ledgers.findings + outcome.cross_file


def test_a_failed_check_across_files_stops_the_report_before_anything_is_written(
    ledger_dir, monkeypatch, tmp_path
):
    """The command lays the report out while the checks run, but writes only once they are done:
    a run they stop writes no file (nor the directory of -o DIR/) and exits as its error says.
    The library, unless told not to wait, raises the error itself."""
    from fpservice import consistency

    def gone(ledgers):
        raise InputError("台帐目录在读取时被删除")

    monkeypatch.setattr(consistency, "check", gone)
    write_csv(ledger_dir / "p.csv", PERSONS, [person()])
    with pytest.raises(InputError):
        api.report(ledger_dir, "2011Q3", plan="000")
    written = [(tmp_path / "out.json", tmp_path / "out.json"), (f"{tmp_path}/new/", tmp_path / "new")]
    for out, shown in written:
        result = run(["report", ledger_dir, "-q", "2011Q3", "--plan", "000", "-o", out])
        assert result.exit_code == InputError.exit_code and "台帐目录在读取时被删除" in result.output
        assert not shown.exists()
    for fmt in ("json", "table"):
        result = run(["report", ledger_dir, "-q", "2011Q3", "--plan", "000", "-f", fmt])
        assert result.exit_code == InputError.exit_code and result.stdout == ""


SAMPLE = str(Path(__file__).resolve().parents[1] / "sample_data")


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["rules"],
        ["due", "--date", "2011-10-01"],
        ["report", "--help"],
        ["check", "--help"],
        # errors said before any ledger is read: at once, without the libraries that read them
        ["report", "/no/such/dir", "-q", "2011Q3"],
        ["report", SAMPLE, "-q", "2011Q9"],
        ["report", SAMPLE, "-q", "2011Q3", "--plan", "no-such-plan"],
        ["report", SAMPLE + "/units.csv", "-q", "2011Q3"],
        ["check", "/no/such/dir"],
        ["check", SAMPLE, "--date", "2011-02-30"],
        ["due", "/no/such/dir"],
        ["report", SAMPLE, "-q", "2011Q3", "--workers", "2"],
    ],
)
def test_commands_that_read_no_ledger_do_not_load_pandas(args):
    probe = (
        "import sys, contextlib\n"
        f"sys.argv = ['fpservice', *{args!r}]\n"
        "from fpservice.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(None):\n"
        "    main()\n"
        "print(sorted(m for m in ('pandas', 'pyarrow', 'numpy') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]", done.stderr
