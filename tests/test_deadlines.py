"""Quarterly deadlines 2008–2013, `fpservice due`, `report --due`, cron and atomic output."""

import datetime as dt
import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from fpservice import deadlines
from fpservice.atomicfile import write_atomically
from fpservice.errors import OutputError
from fpservice.workdays import Calendar
from tests.ledgerkit import REPO, run

# nominal -> (deadline, last working day before the rest days that swallow it), from the State
# Council's holiday notices of each year.
DEADLINES = {
    "2008-01-05": ("2008-01-07", "2008-01-04"),
    "2008-04-05": ("2008-04-07", "2008-04-03"),
    "2008-07-05": ("2008-07-07", "2008-07-04"),
    "2008-10-05": ("2008-10-06", "2008-09-28"),
    "2009-01-05": ("2009-01-05", None),
    "2009-04-05": ("2009-04-07", "2009-04-03"),
    "2009-07-05": ("2009-07-06", "2009-07-03"),
    "2009-10-05": ("2009-10-09", "2009-09-30"),
    "2010-01-05": ("2010-01-05", None),
    "2010-04-05": ("2010-04-06", "2010-04-02"),
    "2010-07-05": ("2010-07-05", None),
    "2010-10-05": ("2010-10-08", "2010-09-30"),
    "2011-01-05": ("2011-01-05", None),
    "2011-04-05": ("2011-04-06", "2011-04-02"),
    "2011-07-05": ("2011-07-05", None),
    "2011-10-05": ("2011-10-08", "2011-09-30"),
    "2012-01-05": ("2012-01-05", None),
    "2012-04-05": ("2012-04-05", None),
    "2012-07-05": ("2012-07-05", None),
    "2012-10-05": ("2012-10-08", "2012-09-29"),
    "2013-01-05": ("2013-01-05", None),
    "2013-04-05": ("2013-04-07", "2013-04-03"),
    "2013-07-05": ("2013-07-05", None),
    "2013-10-05": ("2013-10-08", "2013-09-30"),
}


@pytest.mark.parametrize("nominal,expected", DEADLINES.items())
def test_every_deadline_2008_2013(nominal, expected):
    due, last = expected
    d = deadlines.deadline(dt.date.fromisoformat(nominal), Calendar())
    assert d.due.isoformat() == due
    assert (d.last_workday_before.isoformat() if d.last_workday_before else None) == last
    # the same through the CLI, asked the day before the nominal date
    day_before = (dt.date.fromisoformat(nominal) - dt.timedelta(days=1)).isoformat()
    doc = json.loads(run(["due", "--date", day_before, "-f", "json"]).stdout)
    assert doc["deadline"] == due and doc["nominal"] == nominal


@pytest.mark.parametrize(
    "today,quarter",
    [
        ("2011-10-01", "2011Q3"),
        ("2011-10-07", "2011Q3"),
        ("2011-10-08", "2011Q3"),
        ("2011-10-09", "2011Q4"),
        ("2011-12-31", "2011Q4"),
        ("2012-01-03", "2011Q4"),
        ("2012-01-06", "2012Q1"),
        ("2008-01-06", "2007Q4"),
        ("2013-04-06", "2013Q1"),
        ("2013-04-08", "2013Q2"),
    ],
)
def test_the_quarter_due_next(today, quarter):
    assert deadlines.next_deadline(dt.date.fromisoformat(today), Calendar()).label == quarter


def test_working_days_left_count_today_and_the_deadline():
    calendar = Calendar()
    d = deadlines.deadline(dt.date(2011, 10, 5), calendar)  # the report on 2011Q3
    assert d.workdays_left(dt.date(2011, 9, 30), calendar) == 2  # 09-30 and 10-08
    assert d.workdays_left(dt.date(2011, 10, 1), calendar) == 1
    assert d.workdays_left(dt.date(2011, 10, 9), calendar) == 0
    assert calendar.notes() == []  # 2011 is in the official calendar


def test_outside_the_calendar_weekends_only_with_a_warning():
    result = run(["due", "--date", "2030-09-20"])
    assert result.exit_code == 0
    assert "2030-10-07" in result.stdout  # 10-05 is a Saturday in 2030
    assert "不在节假日日历范围内" in result.stderr


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    d = tmp_path_factory.mktemp("cron")
    shutil.copytree(REPO / "sample_data", d / "ledgers")
    return d  # no reports/: the crontab's `-o reports/` makes it


def test_due_lists_villages_without_rows(sample):
    doc = json.loads(run(["due", sample / "ledgers", "--date", "2011-10-01", "-f", "json"]).stdout)
    assert doc["quarter"] == "2011Q3" and doc["last_working_day"] == "2011-09-30"
    assert [u["unit"] for u in doc["units_without_rows"]] == ["330205004003"]


@pytest.mark.parametrize("today,quarter", [("2011-10-01", "2011Q3"), ("2012-01-03", "2011Q4")])
def test_report_due_picks_the_quarter(sample, today, quarter):
    result = run(["report", sample / "ledgers", "--due", "--date", today, "-f", "json"])
    assert {r["period"] for r in json.loads(result.stdout)} >= {quarter}


def test_report_needs_exactly_one_of_quarter_and_due(sample):
    assert run(["report", sample / "ledgers"]).exit_code == 3
    assert run(["report", sample / "ledgers", "-q", "2011Q3", "--due"]).exit_code == 3


def crontab_lines():
    block = re.search(r"```crontab\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), re.S).group(
        1
    )
    return [line for line in block.splitlines() if line and not line.startswith(("#", "MAILTO"))]


def test_readme_crontab_runs_as_cron_would(sample):
    """Each crontab line's schedule is valid, and its command, run in a shell on a given day, writes
    the report of the quarter due (or nothing, when it is not the last working day)."""
    field = r"(\*|\d+(-\d+)?(,\d+(-\d+)?)*)"
    lines = crontab_lines()
    assert len(lines) == 2
    for line in lines:
        assert re.match(rf"^{field} {field} {field} {field} {field}\s+\S", line), line

    def fire(line, today):
        command = re.split(r"\s+", line, maxsplit=5)[5].replace("\\%", "%")
        command = command.replace("cd /srv/fp", f"cd {sample}").replace("$(date +%F)", today)
        command = re.sub(r"\bfpservice (due|report)", rf"{sys.executable} -m fpservice \1", command)
        command = command.replace("--due", f"--due --date {today}").replace(
            "due --print", f"due --date {today} --print"
        )
        shutil.rmtree(sample / "reports", ignore_errors=True)
        done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120)
        written = (
            sorted(p.name for p in (sample / "reports").iterdir()) if (sample / "reports").exists() else []
        )
        return done, written

    done, files = fire(lines[0], "2011-10-01")
    assert files == ["jiangbei-2011_2011Q3.csv"] and done.returncode == 1 and done.stderr == ""
    assert fire(lines[1], "2011-09-29")[1] == []  # not the last working day
    assert fire(lines[1], "2011-09-30")[1] == ["jiangbei-2011_2011Q3.csv"]


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "r.csv"
    target.write_bytes(b"old report")

    def broken_fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OutputError, match="磁盘已满"):
        write_atomically(target, b"new report")
    assert target.read_bytes() == b"old report"
    assert [p.name for p in tmp_path.iterdir()] == ["r.csv"]  # no temporary file left behind


def test_a_killed_run_leaves_the_old_report_or_the_new_one(sample, tmp_path):
    target = tmp_path / "r.json"
    args = [
        sys.executable,
        "-m",
        "fpservice",
        "report",
        str(sample / "ledgers"),
        "-q",
        "2011Q3",
        "-f",
        "json",
        "-o",
        str(target),
    ]
    subprocess.run(args, capture_output=True, timeout=120)
    complete = target.read_bytes()
    rows = len(json.loads(complete))
    for delay in (0.3, 0.8, 1.2, 1.6):
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert len(json.loads(target.read_bytes())) == rows  # whole, old or new


def test_calendar_warning_belongs_to_the_run_that_needed_it():
    assert "不在节假日日历范围内" in run(["due", "--date", "2030-09-20"]).stderr
    assert run(["due", "--date", "2011-09-20"]).stderr == ""
    assert "不在节假日日历范围内" in run(["due", "--date", "2030-09-20"]).stderr  # cached, still noted
