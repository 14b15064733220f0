"""Invariants under property tests: a report depends on the ledger rows, not on how they are
ordered, split into files or encoded; rates stay in 0–1; parents recount distinct persons."""

import datetime as dt
import json
import random
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fpservice import api, conditions, consistency, render
from tests.ledgerkit import PERSONS, SERVICES, make_id, write_csv

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


def report(persons, services, split=1, encoding="utf-8", shuffle_seed=None, plan="000", quarter="2011Q3"):
    persons, services = list(persons), list(services)
    if shuffle_seed is not None:
        random.Random(shuffle_seed).shuffle(persons)
        random.Random(shuffle_seed + 1).shuffle(services)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        write_csv(d / "units.csv", ["代码", "名称", "层级", "上级代码"], UNITS)
        for i in range(split):
            write_csv(d / f"p{i}.csv", PERSONS, persons[i::split], encoding)
            write_csv(d / f"s{i}.csv", SERVICES, services[i::split], encoding)
        outcome = api.report(d, quarter, plan)
        return json.dumps(render.records(outcome.report), ensure_ascii=False, sort_keys=True)


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


cell_text = st.text(alphabet='ab甲 ,"\n', max_size=6)


@given(
    rows=st.lists(st.lists(cell_text, min_size=3, max_size=3), min_size=1, max_size=12),
    blank_after=st.sets(st.integers(0, 12), max_size=3),
    crlf=st.booleans(),
    final_newline=st.booleans(),
    encoding=st.sampled_from(["utf-8", "gb18030"]),
)
@settings(max_examples=300, deadline=None)
def test_the_fast_reader_agrees_with_the_csv_module(rows, blank_after, crlf, final_newline, encoding):
    """pyarrow with line numbers by newline count (or by quote parity) must give the same cells
    and the same physical lines as Python's csv module, whatever the quoting, blank lines and
    line endings, and whether the file is UTF-8 or GB18030 parsed in its own bytes. The middle
    column is read a value per row (as ID numbers are), the others dictionary-encoded: both must
    give the same cells."""
    import csv as csvmod
    import io

    from fpservice import csvfile

    newline = "\r\n" if crlf else "\n"
    out = io.StringIO()
    writer = csvmod.writer(out, lineterminator=newline)
    writer.writerow(["甲", "乙", "丙"])
    for i, row in enumerate(rows):
        writer.writerow(row)
        if i in blank_after:
            out.write(newline)
    text = out.getvalue()
    if not final_newline:
        text = text[: -len(newline)]

    source = csvfile.open_source(text.encode(encoding))
    assert source.encoding == encoding
    fast = csvfile.read_table(source, [0, 1, 2], distinct=frozenset({1}))
    exact = csvfile._drop_blank_rows(csvfile._read_exact(text.encode("utf-8"), [0, 1, 2], ","))
    assert fast.lines.tolist() == exact.lines.tolist()
    assert fast.ragged == exact.ragged and list(fast.blank_lines) == list(exact.blank_lines)
    for i in (0, 1, 2):
        a, b = fast.columns[i], exact.columns[i]
        assert a.per_value(a.text()).tolist() == b.per_value(b.text()).tolist()


@given(
    birth=st.dates(dt.date(1900, 1, 1), dt.date(2030, 12, 31)),
    on=st.dates(dt.date(1950, 1, 1), dt.date(2030, 12, 31)),
    low=st.integers(0, 60),
    span=st.integers(0, 40),
)
@example(birth=dt.date(1997, 3, 1), on=dt.date(2012, 2, 29), low=15, span=34)  # 14 on 02-29
@example(birth=dt.date(1997, 2, 28), on=dt.date(2012, 2, 29), low=15, span=34)  # 15
@example(birth=dt.date(1962, 3, 1), on=dt.date(2012, 2, 29), low=15, span=34)  # 49
@example(birth=dt.date(1962, 2, 28), on=dt.date(2012, 2, 29), low=15, span=34)  # 50
@settings(max_examples=400, deadline=None)
def test_age_between_counts_whole_years_on_the_window_end(birth, on, low, span):
    """`birth: {age_between: [low, high]}` compares birth dates with cut-off days instead of
    computing ages: it must agree with whole years reached on the end day, 02-29 included."""
    high = low + span
    age = on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))
    frame = pd.DataFrame({"birth": pd.Series([pd.Timestamp(birth)], dtype="datetime64[ns]")})
    scope = conditions.Scope({"persons": frame}, dt.date(on.year, 1, 1), on, dt.date(on.year, 1, 1))
    got = scope.mask(conditions.Test("birth", "age_between", (low, high)), "persons")
    assert bool(got[0]) == (low <= age <= high)


@given(
    rows=st.lists(
        st.tuples(st.integers(0, 5), st.integers(-3, 3), st.integers(0, 4)), min_size=1, max_size=60
    ),
    wide=st.sampled_from([1, 2**20, 2**61]),
)
def test_cross_file_checks_sort_rows_as_lexsort_does(rows, wide):
    """Consistency checks pack their sort keys into one integer when the ranges allow (and fall
    back to np.lexsort when not): the order, ties included, must be lexsort's."""
    keys = [np.array([r[i] for r in rows], dtype=np.int64) for i in range(3)]
    keys[1] = keys[1] * wide  # widen a key's range: packed below 2**63, lexsort above
    expected = np.lexsort(keys[::-1])
    assert consistency._sorted_order(keys).tolist() == expected.tolist()


@given(
    codes=st.lists(st.integers(-1, 9), max_size=40),
    wanted=st.sets(st.integers(0, 9), max_size=10),
)
def test_category_tests_match_a_lookup_by_code(codes, wanted):
    """`item: {in: [...]}` on a categorical column tests its codes (by equality for a few
    wanted categories, by a table for more); a blank (-1) is never among them."""
    codes = np.array(codes, dtype=np.int8)
    got = conditions._codes_in(codes, np.array(sorted(wanted), dtype=np.int64))
    assert got.tolist() == [c >= 0 and c in wanted for c in codes.tolist()]
