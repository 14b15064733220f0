"""Invariants under property tests: a report depends on the ledger rows, not on how they are
ordered, split into files or encoded; rates stay in 0–1; parents recount distinct persons."""

import datetime as dt
import json
import random
import tempfile
from collections import defaultdict
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fpservice import api
from fpservice.output import rows
from tests.ledgerkit import PERSONS, SERVICES, make_id, write_csv, write_units
from tests.workbookkit import office_sheet, write_workbook

VILLAGES = ["330205001001", "330205001002", "330205002001"]
UNITS = [
    ["330205000000", "江北区", "县", ""],
    ["330205001000", "甲街道", "乡镇", "330205000000"],
    ["330205002000", "乙街道", "乡镇", "330205000000"],
] + [[v, f"村{i}", "村", v[:9] + "000"] for i, v in enumerate(VILLAGES)]
POOL = [make_id(birth=f"19{70 + i:02d}0{1 + i % 9}15", seq=i, female=i % 5 != 0) for i in range(12)]
DATES = [f"2011-{m:02d}-{d:02d}" for m in (1, 3, 6, 7, 8, 9, 10) for d in (1, 15, 30)]

person_rows = st.lists(
    st.tuples(
        st.sampled_from(VILLAGES),
        st.sampled_from(POOL),
        st.sampled_from(["已婚", "初婚", "未婚"]),
        st.sampled_from(DATES + ["2010-05-01"]),
        st.sampled_from(["", "", "2011-07-15", "2011-09-30"]),
        st.sampled_from(["药具", "上环", ""]),
        st.sampled_from(["是", "否"]),
    ),
    min_size=1,
    max_size=25,
)
service_rows = st.lists(
    st.tuples(
        st.sampled_from(VILLAGES),
        st.sampled_from(POOL),
        st.sampled_from(DATES),
        st.sampled_from(["孕检", "避孕药具", "孕前优生咨询", "宣传品", "培训", "环检"]),
        st.sampled_from(["是", "否"]),
        st.sampled_from(["现居住地", "户籍地"]),
    ),
    max_size=40,
)

SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def persons_table(rows):
    out = []
    for unit, id_, marital, arrived, left, contraception, planning in rows:
        if left and left < arrived:
            left = ""
        sex = "女" if int(id_[16]) % 2 == 0 else "男"
        out.append([unit, id_, "王芳", sex, marital, arrived, left, contraception, planning, ""])
    return out


def report(
    persons, services, split=1, encoding="utf-8", shuffle_seed=None, plan="000", quarter="2011Q3", shape="csv"
):
    persons, services = list(persons), list(services)
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(persons)
        random.Random(shuffle_seed + 1).shuffle(services)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        write_units(d, UNITS)
        if shape == "workbook":  # one workbook, a sheet per ledger laid out as offices do
            write_workbook(
                d / "台帐.xlsx",
                {
                    "流入人口": office_sheet("流入人口", PERSONS, persons),
                    "服务": office_sheet("服务", SERVICES, services),
                },
            )
        for i in range(split if shape != "workbook" else 0):
            write_csv(d / f"p{i}.csv", PERSONS, persons[i::split], encoding)
            write_csv(d / f"s{i}.csv", SERVICES, services[i::split], encoding)
            if shape == "titled":  # a title and 填报单位 above the header, footers below
                for name, title in ((f"p{i}.csv", "流入人口"), (f"s{i}.csv", "服务")):
                    text = (d / name).read_text(encoding=encoding)
                    footer = ",,,\n合计,,,\n填表人：王五,,审核人：赵六\n"
                    text = f"{title}登记簿,,,\n填报单位：甲社区,,,\n{text}{footer}"
                    (d / name).write_text(text, encoding=encoding)
        outcome = api.report(d, quarter, plan=plan)
        return json.dumps(rows.records(outcome.report), ensure_ascii=False, sort_keys=True)


@SETTINGS
@given(person_rows, service_rows, st.integers(0, 1000))
def test_order_of_rows_does_not_matter(p, s, seed):
    persons = persons_table(p)
    assert report(persons, s) == report(persons, s, shuffle_seed=seed)


@SETTINGS
@given(person_rows, service_rows, st.integers(2, 4))
def test_splitting_a_ledger_across_files_does_not_matter(p, s, parts):
    persons = persons_table(p)
    assert report(persons, s) == report(persons, s, split=parts)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(person_rows, service_rows, st.sampled_from(["utf-8", "gb18030"]))
def test_a_csv_a_titled_csv_and_a_workbook_give_the_same_report(p, s, encoding):
    """SPEC §8: the same rows, whether kept as CSV, as a WPS export with title and footer lines,
    or in a workbook with a sheet per ledger."""
    persons = persons_table(p)
    plain = report(persons, s)
    assert report(persons, s, encoding=encoding, shape="titled") == plain
    assert report(persons, s, shape="workbook") == plain


@SETTINGS
@given(person_rows, service_rows)
def test_gb18030_and_utf8_give_the_same_report(p, s):
    persons = persons_table(p)
    assert report(persons, s) == report(persons, s, encoding="gb18030")


@SETTINGS
@given(person_rows, service_rows)
def test_rates_and_rollups(p, s):
    rows = json.loads(report(persons_table(p), s, plan="002"))
    children = defaultdict(list)
    for r in rows:
        if r["indicator"] == "staffing":
            continue
        assert r["rate"] is None or 0 <= r["rate"] <= 1
        assert 0 <= r["numerator"] <= r["denominator"]
        if r["level"] != "县":
            parent = r["unit"][:9] + "000" if r["level"] == "村" else r["unit"][:6] + "000000"
            children[(parent, r["indicator"], r["period"])].append(r)
    for r in rows:
        kids = children.get((r["unit"], r["indicator"], r["period"]))
        if kids and r["indicator"] != "staffing":
            assert r["denominator"] <= sum(k["denominator"] for k in kids)
            assert r["numerator"] <= sum(k["numerator"] for k in kids)


@SETTINGS
@given(person_rows, service_rows)
def test_without_shared_ids_parents_are_sums(p, s):
    # Tie every ID to one village: then no person is counted in two children.
    home = {id_: VILLAGES[i % 3] for i, id_ in enumerate(POOL)}
    p = [(home[r[1]],) + r[1:] for r in p]
    rows = json.loads(report(persons_table(p), s))
    by = {(r["unit"], r["indicator"], r["period"]): r for r in rows}
    for (unit, indicator, period), r in by.items():
        if unit == "330205001000":
            kids = [by[(v, indicator, period)] for v in VILLAGES[:2]]
            assert r["denominator"] == sum(k["denominator"] for k in kids)
            assert r["numerator"] == sum(k["numerator"] for k in kids)


@settings(max_examples=5, deadline=None)
@given(person_rows, service_rows)
def test_running_twice_gives_identical_output(p, s):
    persons = persons_table(p)
    assert report(persons, s) == report(persons, s)


@SETTINGS
@given(person_rows, service_rows, st.sampled_from(["000", "002"]))
def test_counts_spread_over_threads_are_the_counts_made_one_by_one(p, s, plan):
    """The local engine counts on threads that share the masks and pairs they find, in whatever
    order the threads reach them: every count, 户籍 variants too, equals the one-thread count."""
    from fpservice import counting, periods
    from fpservice import report as report_mod
    from fpservice import rules as rules_mod
    from fpservice.workdays import Calendar

    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        write_units(d, UNITS)
        write_csv(d / "p.csv", PERSONS, persons_table(p))
        write_csv(d / "s.csv", SERVICES, s)
        ledgers = api.load_ledgers(d)
    book = rules_mod.load()
    chosen = api.resolve_plan(book, plan, d, {})
    windows = [
        *periods.quarter_windows(2011, 3),
        *(w for w, _ in report_mod.phase_windows(chosen, dt.date(2011, 9, 30))),
    ]
    counts = counting.counts_of(book, chosen, windows, all_indicators=True, equity=True)

    def counted(threads):
        hierarchy = report_mod.hierarchy_of(ledgers.units, ledgers.units.ordered())  # nothing found yet
        return counting.partial(ledgers.frames, hierarchy, counts, chosen.start, Calendar(), threads=threads)

    one, spread = counted(1), counted(4)
    assert one.holds_registered == spread.holds_registered
    for a, b in zip([*one.parts, *one.registered], [*spread.parts, *spread.registered], strict=True):
        assert (a is None) == (b is None)
        assert a is None or all((x == y).all() for x, y in zip(a, b, strict=True))
