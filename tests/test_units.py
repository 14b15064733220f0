"""Organisation units: units.csv names them and fixes the hierarchy; without it, the units seen."""

from fpservice import consistency, read
from tests.ledgerkit import PERSONS, SERVICES, V1, make_id, person, service, write_csv, write_units


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
