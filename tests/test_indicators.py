"""Indicator edge cases, each through real files and the real CLI (JSON rows of SPEC §6)."""

import codecs
import io
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from tests.ledgerkit import (
    PERSONS,
    SERVICES,
    T1,
    V1,
    V2,
    C,
    make_id,
    person,
    pick,
    report_rows,
    run,
    service,
    write_csv,
    write_units,
)

Q3, YTD = "2011Q3", "2011Q1-2011Q3"


def persons_file(d, rows, name="persons.csv"):
    write_csv(d / name, PERSONS, rows)


def services_file(d, rows, name="services.csv"):
    write_csv(d / name, SERVICES, rows)


def test_pregnancy_check_counts_free_local_checks_in_the_window(ledger_dir):
    a, b, c, e = (make_id(seq=i) for i in (1, 2, 3, 4))
    persons_file(ledger_dir, [person(id_=x) for x in (a, b, c, e)])
    services_file(
        ledger_dir,
        [
            service(a, "2011-07-01"),  # first day of Q3
            service(b, "2011-09-30"),  # last day of Q3
            service(c, "2011-06-30"),  # day before: counts for YTD only
            service(e, "2011-08-01", free="否"),  # not free
            service(e, "2011-08-02", place="户籍地"),  # not where she lives
        ],
    )
    rows = report_rows(ledger_dir)
    q3, ytd = pick(rows, V1, "pregnancy_check", Q3), pick(rows, V1, "pregnancy_check", YTD)
    assert (q3["numerator"], q3["denominator"]) == (2, 4)
    assert (ytd["numerator"], ytd["denominator"]) == (3, 4)
    assert ytd["rate"] == 0.75 and ytd["target"] == 0.9 and ytd["status"] == "missed"


@pytest.mark.parametrize(
    "birth,counted",
    [
        ("19960930", True),  # turns 15 on the window's end
        ("19961001", False),  # turns 15 the day after
        ("19610930", False),  # turns 50 on the end: no longer 49
        ("19611001", True),  # still 49 on the end
    ],
)
def test_age_is_whole_years_on_the_end_date(ledger_dir, birth, counted):
    persons_file(ledger_dir, [person(id_=make_id(birth))])
    r = pick(report_rows(ledger_dir), V1, "free_service", Q3)
    assert r["denominator"] == (1 if counted else 0)


@pytest.mark.parametrize(
    "arrived,left,present",
    [
        ("2011-09-30", "", True),  # arrives on the last day
        ("2011-10-01", "", False),  # arrives after the window
        ("2011-01-01", "2011-07-01", True),  # leaves on the first day
        ("2011-01-01", "2011-06-30", False),  # left the day before
        ("2011-01-01", "2011-08-15", True),  # leaves mid-window
    ],
)
def test_presence_at_window_edges(ledger_dir, arrived, left, present):
    persons_file(ledger_dir, [person(arrived=arrived, left=left)])
    assert pick(report_rows(ledger_dir), V1, "free_service", Q3)["denominator"] == int(present)


def test_cohort_needs_one_row_meeting_every_condition(ledger_dir):
    """Two rows of one person: married on one, present on the other: not a target woman."""
    x = make_id()
    persons_file(
        ledger_dir,
        [
            person(id_=x, marital="未婚", arrived="2011-01-01"),
            person(id_=x, marital="已婚", arrived="2012-01-01"),
        ],
    )
    assert pick(report_rows(ledger_dir), V1, "free_service", Q3)["denominator"] == 0


def test_zero_denominator_is_no_data_not_zero_percent(ledger_dir):
    persons_file(ledger_dir, [person(sex="男", id_=make_id(female=False))])
    r = pick(report_rows(ledger_dir), V1, "pregnancy_check", Q3)
    assert r["denominator"] == 0 and r["rate"] is None and r["status"] == "no_data"


def test_person_in_two_villages_counts_once_in_the_township(ledger_dir):
    x, y = make_id(seq=1), make_id(seq=2)
    persons_file(ledger_dir, [person(V1, x), person(V2, x), person(V2, y)])
    services_file(ledger_dir, [service(x, "2011-08-01")])
    rows = report_rows(ledger_dir)
    assert pick(rows, V1, "pregnancy_check", Q3)["denominator"] == 1
    assert pick(rows, V2, "pregnancy_check", Q3)["denominator"] == 2
    assert pick(rows, V1, "pregnancy_check", Q3)["numerator"] == 1  # a service counts wherever recorded
    assert pick(rows, V2, "pregnancy_check", Q3)["numerator"] == 1
    township = pick(rows, T1, "pregnancy_check", Q3)
    assert (township["numerator"], township["denominator"]) == (1, 2)  # recounted, not summed
    assert pick(rows, C, "pregnancy_check", Q3)["denominator"] == 2


def test_three_checks_twice_needs_two_different_dates(ledger_dir):
    same, two, early = make_id(seq=1), make_id(seq=2), make_id(seq=3)
    persons_file(ledger_dir, [person(id_=x) for x in (same, two, early)])
    services_file(
        ledger_dir,
        [
            service(same, "2011-08-01"),
            service(same, "2011-08-01"),  # twice on one day: once
            service(two, "2011-03-01"),
            service(two, "2011-08-01"),  # Q1 and Q3: from 1 Jan
            service(early, "2010-12-31"),
            service(early, "2011-08-01"),  # last year does not count
            service(two, "2011-09-01", item="环检"),  # only 孕检 counts as 三查
        ],
    )
    r = pick(report_rows(ledger_dir, Q3, "002"), V1, "three_checks_twice", Q3)
    assert (r["numerator"], r["denominator"]) == (1, 3)


def test_contraceptive_users_need_a_drug_service(ledger_dir):
    a, b, c = make_id(seq=1), make_id(seq=2), make_id(seq=3)
    persons_file(
        ledger_dir,
        [
            person(id_=a, contraception="药具"),
            person(id_=b, contraception="药具"),
            person(id_=c, contraception="上环"),
        ],
    )
    services_file(
        ledger_dir,
        [
            service(a, "2011-07-10", "避孕药具"),
            service(b, "2011-07-10", "孕检"),
            service(c, "2011-07-10", "避孕药具"),
        ],
    )
    r = pick(report_rows(ledger_dir), V1, "free_contraceptive", Q3)
    assert (r["numerator"], r["denominator"]) == (1, 2)


def test_surveys_count_rows_by_date(ledger_dir):
    write_csv(
        ledger_dir / "surveys.csv",
        ["村居代码", "调查类型", "调查日期", "调查结果"],
        [
            [V1, "政策知晓", "2011-07-01", "是"],
            [V1, "政策知晓", "2011-07-02", "否"],
            [V1, "政策知晓", "2011-10-01", "是"],
            [V1, "行政服务满意", "2011-07-01", "Y"],
        ],
    )
    rows = report_rows(ledger_dir)
    r = pick(rows, V1, "policy_awareness", Q3)
    assert (r["numerator"], r["denominator"], r["rate"]) == (1, 2, 0.5)
    assert pick(rows, V1, "satisfaction", Q3)["status"] == "met"


REQUESTS = ["村居代码", "协查编号", "下发日期", "反馈日期"]


@pytest.mark.parametrize(
    "issued,answered,due,on_time",
    [
        ("2011-07-01", "2011-07-06", True, True),  # Fri: Mon, Tue, Wed -> deadline 07-06
        ("2011-07-01", "2011-07-07", True, False),  # one day late
        ("2011-07-02", "2011-07-06", True, True),  # issued on a Saturday: still 3 working days after
        (
            "2011-09-30",
            "2011-10-10",
            False,
            False,
        ),  # National Day: 10-08, 10-09 (make-up), 10-10: not due by 09-30
        ("2011-09-26", "", True, False),  # deadline 09-29 passed unanswered
        ("2011-09-29", "2011-09-30", True, True),  # deadline after the end, but answered by then
        ("2011-09-29", "", False, False),  # deadline 10-08 not yet come: not counted
    ],
)
def test_request_deadline_counts_working_days(ledger_dir, issued, answered, due, on_time):
    write_csv(ledger_dir / "requests.csv", REQUESTS, [[V1, "XC1", issued, answered]])
    r = pick(report_rows(ledger_dir, Q3, "002"), V1, "request_timely", Q3)
    assert (r["denominator"], r["numerator"]) == (int(due), int(on_time))


def test_request_across_national_day_is_on_time_on_the_tenth(ledger_dir):
    write_csv(
        ledger_dir / "requests.csv",
        REQUESTS,
        [[V1, "XC1", "2011-09-30", "2011-10-10"], [V1, "XC2", "2011-09-30", "2011-10-11"]],
    )
    r = pick(report_rows(ledger_dir, "2011Q4", "002"), V1, "request_timely", "2011Q1-2011Q4")
    assert (r["numerator"], r["denominator"]) == (1, 2)


def test_outflow_certificate_and_six_ones(ledger_dir):
    header = [
        "村居代码",
        "身份证号",
        "性别",
        "婚姻状况",
        "流出日期",
        "返回日期",
        "六个一",
        "婚育证明办证日期",
    ]
    all_six = "孕检;长效节育;婚育证明;联系方式;管理协议;回寄证明"
    write_csv(
        ledger_dir / "outflow.csv",
        header,
        [
            [V1, make_id(seq=1), "女", "已婚", "2010-05-01", "", all_six, "2010-04-01"],
            [V1, make_id(seq=2), "女", "已婚", "2011-08-01", "", "孕检;婚育证明", "2011-10-02"],
            [
                V1,
                make_id(seq=3),
                "女",
                "已婚",
                "2010-05-01",
                "2011-06-30",
                all_six,
                "2010-04-01",
            ],  # back before Q3
            [V1, make_id(seq=4, female=False), "", "已婚", "2010-05-01", "", all_six, "2010-04-01"],  # a man
        ],
    )
    rows = report_rows(ledger_dir, Q3, "002")
    cert, six = pick(rows, V1, "certificate", Q3), pick(rows, V1, "six_ones", Q3)
    assert (cert["numerator"], cert["denominator"]) == (1, 2)
    assert (six["numerator"], six["denominator"]) == (1, 2)


def test_staffing_requirement_sums_up_and_may_exceed_one(ledger_dir):
    write_units(
        ledger_dir,
        [
            [C, "江北区", "县", ""],
            [T1, "中马街道", "乡镇", C],
            [V1, "甲社区", "村", T1],
            [V2, "乙社区", "村", T1],
        ],
    )
    # 101 target women in V1 -> ceil(101/100) = 2 required; V2 keeps no rows -> at least 1.
    persons_file(ledger_dir, [person(id_=make_id(seq=i, addr=f"34{i:04d}")) for i in range(101)])
    write_csv(
        ledger_dir / "staff.csv",
        ["村居代码", "岗位"],
        [[V1, "专职"], [V1, "专职"], [V1, "专职"], [V1, "兼职"]],
    )
    rows = report_rows(ledger_dir, Q3, "002")
    v1, v2, t = (pick(rows, u, "staffing", Q3) for u in (V1, V2, T1))
    assert (v1["numerator"], v1["denominator"], v1["target"], v1["rate"], v1["status"]) == (
        3,
        2,
        2,
        1.5,
        "met",
    )
    assert (v2["numerator"], v2["denominator"], v2["status"]) == (0, 1, "missed")
    assert (t["numerator"], t["denominator"], t["status"]) == (3, 3, "met")


def test_equal_to_target_is_met(ledger_dir):
    ids = [make_id(seq=i) for i in range(10)]
    persons_file(ledger_dir, [person(id_=x) for x in ids])
    services_file(ledger_dir, [service(x, "2011-08-01") for x in ids[:9]])
    r = pick(report_rows(ledger_dir), V1, "pregnancy_check", Q3)
    assert r["rate"] == 0.9 and r["target"] == 0.9 and r["status"] == "met"


def test_targets_follow_the_year(ledger_dir):
    persons_file(ledger_dir, [person()])
    rows_2011 = report_rows(ledger_dir, "2011Q4", "001")
    rows_2012 = report_rows(ledger_dir, "2012Q1", "001")
    assert pick(rows_2011, V1, "free_service", "2011Q1-2011Q4")["target"] == 0.95
    assert pick(rows_2012, V1, "free_service", "2012Q1-2012Q1")["target"] == 0.98
    assert not [r for r in report_rows(ledger_dir, "2010Q4", "001") if r["indicator"] == "free_service"]
    # 新疆 sets its targets from 2010 on: nothing is judged in 2009, not even its 2009 phase.
    assert report_rows(ledger_dir, "2009Q4", "004") == []
    rows_2010 = report_rows(ledger_dir, "2010Q4", "004")
    assert pick(rows_2010, V1, "free_service", "2010Q1-2010Q4")["target"] == 0.85
    assert pick(rows_2010, V1, "free_service", "第二步 2010年")["target"] == 0.85


def test_phases_run_from_plan_start_to_phase_end(ledger_dir):
    a = make_id(seq=1)
    persons_file(ledger_dir, [person(id_=a)])
    services_file(ledger_dir, [service(a, "2011-05-10")])
    rows = report_rows(ledger_dir, "2011Q3", "000")
    phases = {r["period"] for r in rows} - {Q3, YTD}
    assert phases == {"第一阶段 宣传动员", "第二阶段 全面实施"}  # the third starts in November
    first = pick(rows, V1, "pregnancy_check", "第一阶段 宣传动员")
    assert (first["start"], first["end"], first["numerator"]) == ("2011-04-01", "2011-05-31", 1)
    second = pick(rows, V1, "pregnancy_check", "第二阶段 全面实施")
    assert (second["start"], second["end"]) == ("2011-04-01", "2011-09-30")  # cut at the quarter's end
    q4 = pick(report_rows(ledger_dir, "2011Q4", "000"), V1, "pregnancy_check", "第二阶段 全面实施")
    assert (q4["start"], q4["end"]) == ("2011-04-01", "2011-10-31")  # ended: its own end


def test_a_phase_in_progress_is_shown_but_not_judged(ledger_dir):
    """SPEC §7: 第二阶段 (04-01 to 10-31) has not ended by 2011-09-30. A woman who arrived in July
    had her check in March: the year to date is met, the phase (from the plan's start on 04-01)
    missed. Only ended phases count toward the exit code."""
    a = make_id(seq=1)
    persons_file(ledger_dir, [person(id_=a, arrived="2011-07-01")])
    services_file(ledger_dir, [service(a, "2011-03-01")])
    args = ["--no-cache", "report", ledger_dir, "-p", "000"]
    q3 = run([*args, "-q", "2011Q3", "-f", "json"])
    phase = pick(json.loads(q3.stdout), V1, "pregnancy_check", "第二阶段 全面实施")
    assert (phase["status"], pick(json.loads(q3.stdout), V1, "pregnancy_check", YTD)["status"]) == (
        "missed",
        "met",
    )
    assert q3.exit_code == 0
    assert "进行中" in run([*args, "-q", "2011Q3"]).stdout
    assert run([*args, "-q", "2011Q4", "-f", "json"]).exit_code == 1  # ended by Q4's end: judged


def test_a_quarters_report_does_not_depend_on_later_rows(tmp_path):
    """The 2011Q3 report, in every format, with and without every row dated after 2011-09-30."""
    from scripts.make_ledgers import generate

    whole, cut = tmp_path / "whole", tmp_path / "cut"
    generate(whole, 1500, townships=2, villages_per=3, seed=7)
    shutil.copytree(whole, cut)
    dates = ("服务日期", "调查日期", "流入日期", "现居住地登记日期", "出生日期", "下发日期", "流出日期")
    for path in cut.rglob("*.csv"):
        raw = path.read_bytes()
        encoding = "gb18030" if not raw.startswith(codecs.BOM_UTF8) and _not_utf8(raw) else "utf-8-sig"
        frame = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, encoding=encoding)
        later = np.zeros(len(frame), dtype=bool)
        for column in set(dates) & set(frame.columns):
            if column == "出生日期" and "政策内" not in frame:
                continue  # a person's own birth date, not an event
            day = pd.to_datetime(frame[column].str.replace("/", "-"), errors="coerce")
            later |= (day > pd.Timestamp("2011-09-30")).to_numpy()
        frame[~later].to_csv(path, index=False, encoding=encoding, lineterminator="\r\n")
    assert sum(len(p.read_bytes()) for p in cut.rglob("*.csv")) < sum(
        len(p.read_bytes()) for p in whole.rglob("*.csv")
    )
    for fmt in ("json", "csv", "table", "markdown", "html"):
        got = [run(["--no-cache", "report", d, "-q", "2011Q3", "-f", fmt, "--trend"]) for d in (whole, cut)]
        assert got[0].stdout == got[1].stdout and got[0].exit_code == got[1].exit_code, fmt


def _not_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def test_births_in_policy_count_rows_in_the_window(ledger_dir):
    mother = make_id(seq=1)
    write_csv(
        ledger_dir / "births.csv",
        ["村居代码", "身份证号", "出生日期", "政策符合"],
        [
            [V1, mother, "2011-07-01", "是"],
            [V1, mother, "2011-09-30", "否"],  # twins or two births: rows
            [V1, make_id(seq=2), "2011-06-30", "是"],
        ],
    )
    rows = report_rows(ledger_dir, Q3, "004")
    q3, ytd = pick(rows, V1, "birth_in_policy", Q3), pick(rows, V1, "birth_in_policy", YTD)
    assert (q3["numerator"], q3["denominator"], q3["target"]) == (1, 2, 0.85)
    assert (ytd["numerator"], ytd["denominator"]) == (2, 3)


def test_check_judges_year_to_date_as_of_a_day(ledger_dir):
    import json

    from tests.ledgerkit import run

    a = make_id(seq=1)
    persons_file(ledger_dir, [person(id_=a)])
    services_file(ledger_dir, [service(a, "2011-03-01")])
    doc = json.loads(run(["check", ledger_dir, "-p", "000", "--as-of", "2011-02-28", "-f", "json"]).stdout)
    r = pick(doc["rows"], V1, "pregnancy_check", "2011-01-01..2011-02-28")
    assert (r["numerator"], r["denominator"], doc["as_of"]) == (0, 1, "2011-02-28")
    doc = json.loads(run(["check", ledger_dir, "-p", "000", "-f", "json"]).stdout)  # default: latest date
    assert doc["as_of"] == "2011-03-01"
    assert pick(doc["rows"], V1, "pregnancy_check", "2011-01-01..2011-03-01")["numerator"] == 1


@pytest.mark.parametrize("plan", ["jiangbei-2011", "rongxian-2008"])
def test_windows_sharing_masks_give_what_each_window_gives_alone(plan):
    """Masks that do not depend on the window (an item, a place, a sex) are computed once for all
    windows of a report; a condition wrongly taken as window-free would carry one window's rows
    into the next. Every window computed alongside the others must equal it computed alone."""
    import pandas as pd

    from fpservice import api, periods, report, rules
    from tests.ledgerkit import REPO

    ledgers = api.load_ledgers(REPO / "sample_data")
    book = rules.load()
    chosen = book.plan(plan)
    windows = list(periods.quarter_windows(2011, 3)) + periods.trend_windows(2011, 3)
    windows += [w for w, _ in report.phase_windows(chosen, windows[0].end)]
    together = report.build(ledgers, book, chosen, windows, all_indicators=True).rows
    alone = pd.concat(
        [report.build(ledgers, book, chosen, [w], all_indicators=True).rows for w in windows],
        ignore_index=True,
    )
    assert len(windows) >= 4 and len(together) > 0 and together["numerator"].sum() > 0
    assert together.equals(alone)


def test_a_registered_person_who_arrives_after_the_quarter_changes_nothing_in_it(tmp_path):
    """The 户籍 columns of a report appear once a 户籍 person is in the ledgers by the quarter's end."""
    header = PERSONS + ["人口类型"]
    early = [person(id_=make_id(seq=i)) + ["流动"] for i in range(3)]
    later = person(id_=make_id(seq=9), arrived="2011-11-01") + ["户籍"]
    reports = []
    for name, rows in (("without", early), ("with", [*early, later])):
        write_csv(tmp_path / name / "流入人口.csv", header, rows)
        for fmt in ("table", "json"):
            got = run(["--no-cache", "report", tmp_path / name, "-q", "2011Q3", "--plan", "000", "-f", fmt])
            assert got.exit_code == 1, got.output
            reports.append(got.stdout)
    assert reports[:2] == reports[2:]
