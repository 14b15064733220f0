"""Organisation units: units.csv names them and fixes the hierarchy; without it, the units seen."""

import errno
from pathlib import Path

import pytest

from fpservice import consistency, read
from tests.ledgerkit import PERSONS, SERVICES, V1, make_id, person, run, service, write_csv, write_units


def test_units_csv_makes_unknown_units_errors(ledger_dir):
    write_units(
        ledger_dir,
        [
            ["330205000000", "江北区", "县", ""],
            ["330205001000", "甲街道", "乡镇", "330205000000"],
            [V1, "甲社区", "村", "330205001000"],
            ["330205001009", "空村", "村", "330205001000"],
        ],
    )
    write_csv(
        ledger_dir / "s.csv",
        SERVICES,
        [service(make_id(), "2011-07-01"), service(make_id(), "2011-07-01", unit="330205001002")],
    )
    result = read.load(ledger_dir)
    found = sorted(f.code for f in result.findings) + sorted(f.code for f in consistency.check(result))
    assert "value.unit_unknown" in found and "unit.no_rows" in found
    assert result.units.table.at[V1, "name"] == "甲社区"


def test_a_village_whose_rows_were_all_rejected_is_still_reported(ledger_dir):
    write_csv(ledger_dir / "p.csv", PERSONS, [person(), person(unit="330205001002", arrived="2011-02-30")])
    result = read.load(ledger_dir)
    assert len(result.frames["persons"]) == 1
    assert "330205001002" in result.units.table.index


TREE = [
    ["330205000000", "江北区", "县", ""],
    ["330205001000", "甲街道", "乡镇", "330205000000"],
    [V1, "甲社区", "村", "330205001000"],
]
NOT_A_TREE = {  # the row added at line 5 -> what is said
    "a code listed twice": ([V1, "又一个甲社区", "村", "330205001000"], f"代码 {V1} 已在第 4 行列出"),
    "a parent that is not listed": (
        ["330205002001", "乙社区", "村", "330205002000"],
        "330205002001 的上级代码 330205002000 不在 units.csv 中",
    ),
    "a parent that is not one level up": (
        ["330205001002", "丙社区", "村", "330205000000"],
        "330205001002（村）的上级 330205000000 是县级，应为乡镇级",
    ),
    "a township under a village": (["330205003000", "丁街道", "乡镇", V1], "应为县级"),
}


@pytest.mark.parametrize("case", list(NOT_A_TREE))
def test_a_units_file_that_is_not_a_tree_stops_the_run_at_its_line(ledger_dir, case):
    row, said = NOT_A_TREE[case]
    write_units(ledger_dir, TREE + [row])
    write_csv(ledger_dir / "p.csv", PERSONS, [person()])
    result = run(["check", ledger_dir, "-p", "000"])
    assert result.exit_code == 3 and result.stdout == ""
    assert result.stderr.startswith("fpservice: units.csv:5: ") and said in result.stderr, result.stderr


def test_blank_parents_are_derived_and_a_countys_parent_is_outside_the_tree(ledger_dir):
    write_units(
        ledger_dir,
        [["330205000000", "江北区", "县", "330200000000"], [V1, "甲社区", "村", ""]],  # 宁波市 above
    )
    write_csv(ledger_dir / "p.csv", PERSONS, [person()])
    table = read.load(ledger_dir).units.table
    assert sorted(table.index) == ["330205000000", "330205001000", V1]
    assert table.at[V1, "parent"] == "330205001000"


def test_a_units_file_that_cannot_be_read_is_one_line(ledger_dir, monkeypatch):
    write_units(ledger_dir, TREE)
    write_csv(ledger_dir / "p.csv", PERSONS, [person()])
    read_bytes = Path.read_bytes

    def denied(path):
        if path.name == "units.csv":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", denied)
    result = run(["check", ledger_dir, "-p", "000"])
    assert result.exit_code == 3 and result.stderr.startswith("fpservice: 无法读取 units.csv：没有读取权限")


def test_looking_up_levels_adds_no_attribute_while_a_workbooks_read_pickles_the_units(ledger_dir):
    """A workbook is read in a process of its own, with the units pickled for it on a thread,
    while other reads look their unit codes up: the first lookup must not add an attribute to
    the units then (pickling failed now and again with "dictionary changed size during
    iteration", and the run stopped with an internal error)."""
    import pickle

    from fpservice.read.unitsfile import load_units_file

    write_units(
        ledger_dir, [["330205000000", "江北区", "县", ""], ["330205001000", "甲街道", "乡镇", "330205000000"]]
    )
    units = load_units_file(ledger_dir / "units.csv", "units.csv", None)
    before = set(vars(units))
    assert units.levels == {"330205000000": "县", "330205001000": "乡镇"}
    assert set(vars(units)) == before
    assert pickle.loads(pickle.dumps(units)).levels == units.levels
